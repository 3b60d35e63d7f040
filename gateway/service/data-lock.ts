/**
 * One process per data directory: the stores, the ledger and the outbox each assume a single writer.
 * `<dataDir>/gateway.pid` holds the owner's pid; a file left by a process that no longer exists
 * (a crash) is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'gateway.pid';
/** Directories this process holds (the pid alone cannot tell two services in one process apart). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory for this process; throws naming the owner if another live process has it. */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  const key = path.resolve(dataDir);
  if (held.has(key)) throw new Error(`dataDir: ${dataDir} is in use by another gateway in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      held.add(key);
      return () => {
        held.delete(key);
        try {
          if (Number(fs.readFileSync(file, 'utf8')) === process.pid) fs.rmSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new Error(`dataDir: ${dataDir} is in use by another gateway process (pid ${owner})`);
      }
      fs.rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`dataDir: could not lock ${dataDir}`);
}
