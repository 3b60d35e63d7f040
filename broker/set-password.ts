/** `fedwear broker passwd`: add or update one identity in the credentials file, storing only a hash. */
import { existsSync } from 'node:fs';
import { emptyCredentials, loadCredentialsFile, parseCredentials, saveCredentialsFile, upsertUser, type UserEntry } from './credentials-file.ts';
import type { Role } from './identity.ts';
import { DEFAULT_SCRYPT, generatePassword, hashPassword, type ScryptParams } from './password-hash.ts';

export interface SetPasswordRequest {
  file: string;
  username: string;
  role: Role;
  userId?: string;
  publicKeyPem?: string;
  /** Omitted: a new random password is generated and returned once. */
  password?: string;
  scrypt?: ScryptParams;
}

export interface SetPasswordResult {
  action: 'added' | 'updated';
  /** Present only when the password was generated: show it once, it is not stored anywhere. */
  generatedPassword?: string;
}

export async function setPassword(req: SetPasswordRequest): Promise<SetPasswordResult> {
  if (req.password !== undefined && req.password.length === 0) throw new Error('password: is empty (give one on stdin, or none to generate one)');
  const current = existsSync(req.file) ? loadCredentialsFile(req.file) : emptyCredentials();
  const password = req.password ?? generatePassword();
  const entry: UserEntry = {
    username: req.username,
    role: req.role,
    ...(req.userId !== undefined ? { userId: req.userId } : {}),
    passwordHash: await hashPassword(password, req.scrypt ?? DEFAULT_SCRYPT),
    ...(req.publicKeyPem !== undefined ? { publicKey: req.publicKeyPem } : {}),
  };
  try {
    parseCredentials({ version: 1, users: [entry] });
  } catch (err) {
    throw new Error((err as Error).message.replace('invalid credentials', 'invalid user entry').replaceAll('users[0].', ''));
  }
  const { file, action } = upsertUser(current, entry);
  saveCredentialsFile(req.file, file);
  return { action, ...(req.password === undefined ? { generatedPassword: password } : {}) };
}
