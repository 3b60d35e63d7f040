/**
 * Salted scrypt password hashes in a PHC-style string that carries its own parameters:
 * `$scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>` (N = 2^ln). Old hashes keep verifying
 * after the defaults change, because verification reads the parameters from the string.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/**
 * N = 2^15, r = 8: about 32 MiB and tens of milliseconds per check. Device passwords are generated
 * (192 random bits), so the cost guards weak human-chosen ones and does not need to be higher.
 */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;

export const HASH_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** Parses a hash string; the error names the part that is wrong. */
export function parsePasswordHash(encoded: string): ParsedHash {
  const m = HASH_FORMAT.exec(encoded);
  if (!m) throw new Error('expected "$scrypt$ln=N,r=R,p=P$<salt>$<hash>" (a hash from `fedwear broker passwd`, never a plain-text password)');
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const bad = scryptParamsError(params);
  if (bad) throw new Error(bad);
  return { params, salt: Buffer.from(m[4], 'base64'), hash: Buffer.from(m[5], 'base64') };
}

export function scryptParamsError({ ln, r, p }: ScryptParams): string | null {
  if (!Number.isInteger(ln) || ln < 10 || ln > 22) return `scrypt ln must be an integer 10..22, got ${ln}`;
  if (!Number.isInteger(r) || r < 1 || r > 32) return `scrypt r must be an integer 1..32, got ${r}`;
  if (!Number.isInteger(p) || p < 1 || p > 16) return `scrypt p must be an integer 1..16, got ${p}`;
  return null;
}

function derive(password: Buffer, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  return new Promise((resolve, reject) => {
    // Node refuses anything over maxmem (32 MiB by default); scrypt needs 128·N·r bytes, plus slack.
    scrypt(password, salt, keylen, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string | Buffer, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const bad = scryptParamsError(params);
  if (bad) throw new RangeError(bad);
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (pw.length === 0) throw new RangeError('password is empty');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(pw, salt, params, KEY_BYTES);
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** Constant-time check of a password against a parsed hash. */
export async function verifyPassword(password: Buffer, stored: ParsedHash): Promise<boolean> {
  const key = await derive(password, stored.salt, stored.params, stored.hash.length);
  return key.length === stored.hash.length && timingSafeEqual(key, stored.hash);
}

/** A fresh device password: 192 random bits, base64url. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
