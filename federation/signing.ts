/**
 * Ed25519 signatures over envelope bytes (node:crypto only; Ed25519 is deterministic, RFC 8032
 * §5.1.6, so encoding is a pure function of its inputs and the key).
 *
 * Domain separation: the gateway signs its privacy-ledger entries with the same key (privacy/ledger
 * prefixes 'fedwear/privacy-ledger/v1\n'), so the signed message here is this context string followed
 * by the envelope bytes. A ledger signature can then never pass as an update signature or the other
 * way round (RFC 8032's Ed25519ctx idea, done by prefix because node:crypto exposes plain Ed25519).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const UPDATE_SIGNING_CONTEXT = 'fedwear/update-envelope/v1\n';
export const SIGNATURE_BYTES = 64;

/** A KeyObject, or PEM/DER accepted by node:crypto's createPrivateKey / createPublicKey. */
export type SigningKey = KeyObject | string | Buffer;

const CONTEXT = Buffer.from(UPDATE_SIGNING_CONTEXT, 'utf8');

export function toEd25519PrivateKey(key: SigningKey): KeyObject {
  const k = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`update signing key must be an Ed25519 private key (got ${k.type} ${k.asymmetricKeyType ?? 'unknown'})`);
  }
  return k;
}

/** Accepts a public key, or a private key (its public half is used). */
export function toEd25519PublicKey(key: SigningKey): KeyObject {
  let k: KeyObject;
  if (typeof key === 'string' || Buffer.isBuffer(key)) k = createPublicKey(key);
  else k = key.type === 'private' ? createPublicKey(key) : key;
  if (k.type !== 'public' || k.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`update verification key must be an Ed25519 public key (got ${k.type} ${k.asymmetricKeyType ?? 'unknown'})`);
  }
  return k;
}

export function signEnvelopeBytes(signed: Uint8Array, privateKey: SigningKey): Uint8Array {
  return new Uint8Array(sign(null, Buffer.concat([CONTEXT, signed]), toEd25519PrivateKey(privateKey)));
}

export function verifyEnvelopeBytes(signed: Uint8Array, signature: Uint8Array, publicKey: SigningKey): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  return verify(null, Buffer.concat([CONTEXT, signed]), toEd25519PublicKey(publicKey), signature);
}
