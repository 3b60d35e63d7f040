/**
 * A signing key that other local users can read lets them sign updates and ledger entries as this
 * user, so the gateway refuses to start with one rather than warn and carry on (as ssh does).
 */
import fs from 'node:fs';

/** Throws unless `file` is a regular file with no group or other permission bits (0600, 0400). */
export function assertOwnerOnly(file: string, what = 'key file'): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!st.isFile()) throw new Error(`${what}: ${file} is not a regular file`);
  const loose = st.mode & 0o077;
  if (loose !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new Error(`${what}: ${file} has mode ${mode}, readable or writable by others; refusing to start (run: chmod 600 ${file})`);
  }
}
