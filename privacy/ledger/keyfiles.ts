/** Key files for the ledger signer (edge): PEM, private key readable by its owner only. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateLedgerKeyPair, toPrivateKey, toPublicKey } from './crypto.ts';
import type { KeyObject } from 'node:crypto';

export const PRIVATE_KEY_FILE = 'ledger-key.pem';
export const PUBLIC_KEY_FILE = 'ledger-key.pub.pem';

export interface WrittenKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

/** Writes a fresh Ed25519 pair into `dir`; refuses to overwrite an existing key (a lost key orphans its ledger). */
export async function writeLedgerKeyPair(dir: string): Promise<WrittenKeyPair> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateLedgerKeyPair();
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  const exists = (err: unknown, path: string): never => {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${path} already exists; refusing to overwrite a ledger key`);
    throw err;
  };
  // 'wx' = O_CREAT|O_EXCL; the mode applies at creation, so the private key is never world-readable.
  await writeFile(privateKeyPath, pair.privateKeyPem, { flag: 'wx', mode: 0o600 }).catch((e) => exists(e, privateKeyPath));
  await writeFile(publicKeyPath, pair.publicKeyPem, { flag: 'wx', mode: 0o644 }).catch((e) => exists(e, publicKeyPath));
  return { privateKeyPath, publicKeyPath, keyId: pair.keyId };
}

export async function readPublicKeyFile(path: string): Promise<KeyObject> {
  const pem = await readFile(path, 'utf8');
  try {
    return toPublicKey(pem);
  } catch (err) {
    throw new Error(`${path}: not an Ed25519 public key (${(err as Error).message})`);
  }
}

export async function readPrivateKeyFile(path: string): Promise<KeyObject> {
  const pem = await readFile(path, 'utf8');
  try {
    return toPrivateKey(pem);
  } catch (err) {
    throw new Error(`${path}: not an Ed25519 private key (${(err as Error).message})`);
  }
}

