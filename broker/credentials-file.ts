/**
 * The credentials file (YAML or JSON by extension): one entry per device identity, holding a salted
 * scrypt hash, never a password. Parsing is strict so a typo'd field is reported, not ignored.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { ROLES, type Identity } from './identity.ts';
import { parsePasswordHash } from './password-hash.ts';
import { formatIssues } from './schema-errors.ts';
import { ID_PATTERN } from './topics.ts';

const idField = (what: string) =>
  z.string({ error: `expected ${what} as a string` }).regex(ID_PATTERN, {
    error: `expected ${what} of 1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)`,
  });

const UserEntrySchema = z
  .strictObject({
    username: idField('a username'),
    role: z.enum(ROLES, { error: `expected one of ${ROLES.join(', ')}` }),
    userId: idField('a userId').optional(),
    passwordHash: z.string({ error: 'expected a scrypt hash string' }).superRefine((v, ctx) => {
      try {
        parsePasswordHash(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
    publicKey: z
      .string({ error: 'expected an Ed25519 public key in PEM' })
      .superRefine((v, ctx) => {
        const problem = ed25519PemError(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .superRefine((u, ctx) => {
    if (u.role === 'gateway' && u.userId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: 'a gateway needs the userId of the user whose data it holds' });
    }
    if (u.role !== 'gateway' && u.userId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: `only gateways have a userId (this entry is ${u.role})` });
    }
  });

const CredentialsFileSchema = z
  .strictObject({
    version: z.literal(1, { error: 'expected 1' }),
    users: z.array(UserEntrySchema, { error: 'expected a list of user entries' }),
  })
  .superRefine((f, ctx) => {
    const seen = new Map<string, number>();
    f.users.forEach((u, i) => {
      const first = seen.get(u.username);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['users', i, 'username'], message: `"${u.username}" is already users[${first}]` });
      else seen.set(u.username, i);
    });
  });

export type UserEntry = z.infer<typeof UserEntrySchema>;
export type CredentialsFile = z.infer<typeof CredentialsFileSchema>;

/** Null when `pem` is an Ed25519 public key, otherwise what is wrong with it. */
export function ed25519PemError(pem: string): string | null {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') return `expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'an unknown key type'}`;
    return null;
  } catch {
    return 'expected an Ed25519 public key in PEM ("-----BEGIN PUBLIC KEY-----")';
  }
}

/** Validates already-parsed file content; throws naming every bad field. */
export function parseCredentials(raw: unknown, source = 'credentials'): CredentialsFile {
  const r = CredentialsFileSchema.safeParse(raw);
  if (!r.success) throw new Error(`invalid ${source}:\n${formatIssues(r.error.issues)}`);
  return r.data;
}

function isJson(file: string): boolean {
  return path.extname(file).toLowerCase() === '.json';
}

export function loadCredentialsFile(file: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read credentials file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = isJson(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`credentials file ${file} is not valid ${isJson(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseCredentials(raw, `credentials file ${file}`);
}

/** Writes atomically (temp file + rename) and readable by the owner only: hashes are still secrets. */
export function saveCredentialsFile(file: string, data: CredentialsFile): void {
  const checked = parseCredentials(data, 'credentials to save');
  const text = isJson(file) ? JSON.stringify(checked, null, 2) + '\n' : stringifyYaml(checked);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

export function emptyCredentials(): CredentialsFile {
  return { version: 1, users: [] };
}

/** Adds or replaces `entry` by username; a replaced entry keeps its public key unless a new one is given. */
export function upsertUser(file: CredentialsFile, entry: UserEntry): { file: CredentialsFile; action: 'added' | 'updated' } {
  const i = file.users.findIndex((u) => u.username === entry.username);
  if (i === -1) return { file: { ...file, users: [...file.users, entry] }, action: 'added' };
  const merged: UserEntry = { ...entry };
  const old = file.users[i];
  if (merged.publicKey === undefined && old.publicKey !== undefined) merged.publicKey = old.publicKey;
  const users = file.users.slice();
  users[i] = merged;
  return { file: { ...file, users }, action: 'updated' };
}

export function identityOf(entry: UserEntry): Identity {
  return entry.role === 'gateway'
    ? { role: 'gateway', username: entry.username, userId: entry.userId! }
    : { role: entry.role, username: entry.username };
}
