/**
 * Hashing and Ed25519 signatures over canonical entry bytes (node:crypto only).
 * Pure: Ed25519 signing is deterministic (RFC 8032 §5.1.6), so the same entry and key always give
 * the same signature.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical.ts';
import type { LedgerEntry, UnsignedLedgerEntry } from './entry.ts';

/**
 * Domain separation: the gateway may sign other things (updates) with the same key, so the signed
 * message is prefixed with a context string and a signature over an entry can never be replayed as
 * a signature over anything else (the same idea as RFC 8032's Ed25519ctx, done by prefix here
 * because node:crypto exposes plain Ed25519 only).
 */
export const SIGNING_CONTEXT = 'fedwear/privacy-ledger/v1\n';

export type KeyInput = KeyObject | string | Buffer;

/** SHA-256 hex of the entry's canonical UTF-8 bytes, signature included: the next entry's prevHash. */
export function hashEntry(entry: LedgerEntry): string {
  return createHash('sha256').update(canonicalize(entry), 'utf8').digest('hex');
}

/** The exact bytes an entry's signature covers: the context prefix, then the canonical entry without its signature. */
export function signingBytes(entry: UnsignedLedgerEntry | LedgerEntry): Buffer {
  const { signature: _omit, ...unsigned } = entry as LedgerEntry;
  void _omit;
  return Buffer.from(SIGNING_CONTEXT + canonicalize(unsigned), 'utf8');
}

export function toPrivateKey(key: KeyInput): KeyObject {
  const k = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`ledger signing key must be an Ed25519 private key (got ${k.type} ${k.asymmetricKeyType ?? 'unknown'})`);
  }
  return k;
}

/** Accepts a public key, or a private key (its public half is used). */
export function toPublicKey(key: KeyInput): KeyObject {
  let k: KeyObject;
  if (typeof key === 'string' || Buffer.isBuffer(key)) k = createPublicKey(key);
  else k = key.type === 'private' ? createPublicKey(key) : key;
  if (k.type !== 'public' || k.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`ledger verification key must be an Ed25519 public key (got ${k.type} ${k.asymmetricKeyType ?? 'unknown'})`);
  }
  return k;
}

/** keyId: the first 16 hex digits of SHA-256 over the raw 32-byte Ed25519 public key (RFC 8032 encoding). */
export function keyIdOf(key: KeyInput): string {
  const jwk = toPublicKey(key).export({ format: 'jwk' });
  const raw = Buffer.from(String(jwk.x), 'base64url');
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function signEntry(unsigned: UnsignedLedgerEntry, privateKey: KeyInput): LedgerEntry {
  const signature = sign(null, signingBytes(unsigned), toPrivateKey(privateKey)).toString('base64');
  return { ...unsigned, signature };
}

export function verifyEntrySignature(entry: LedgerEntry, publicKey: KeyInput): boolean {
  const sig = Buffer.from(entry.signature, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, signingBytes(entry), toPublicKey(publicKey), sig);
}

export interface LedgerKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
}

export function generateLedgerKeyPair(): LedgerKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}
