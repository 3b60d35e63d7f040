import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CredentialStore, hashPassword, loadCredentialsFile, parseCredentials, parsePasswordHash, saveCredentialsFile, setPassword, verifyPassword,
} from '../../broker/index.ts';
import { connectAs, FAST_SCRYPT, startTestBroker, tcpUrl, tempDir } from './harness.ts';

const ed25519Pem = (): string => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('password hashes', () => {
  it('store their scrypt parameters and a fresh salt, and verify only the right password', async () => {
    const a = await hashPassword('s3cret', FAST_SCRYPT);
    const b = await hashPassword('s3cret', FAST_SCRYPT);
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(Buffer.from('s3cret'), parsePasswordHash(a))).toBe(true);
    expect(await verifyPassword(Buffer.from('s3cret!'), parsePasswordHash(a))).toBe(false);
    expect(await verifyPassword(Buffer.from(''), parsePasswordHash(a))).toBe(false);
  });

  it('verify with the parameters in the string, not the current defaults', async () => {
    const h = await hashPassword('pw', { ln: 11, r: 4, p: 2 });
    expect(parsePasswordHash(h).params).toEqual({ ln: 11, r: 4, p: 2 });
    expect(await verifyPassword(Buffer.from('pw'), parsePasswordHash(h))).toBe(true);
  });

  it('a tampered hash no longer verifies', async () => {
    const h = await hashPassword('pw', FAST_SCRYPT);
    const parsed = parsePasswordHash(h);
    parsed.hash[0] ^= 1;
    expect(await verifyPassword(Buffer.from('pw'), parsed)).toBe(false);
  });

  it('parsing names what is wrong', () => {
    expect(() => parsePasswordHash('hunter2')).toThrow(/never a plain-text password/);
    expect(() => parsePasswordHash('$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toThrow(/scrypt ln must be an integer 10\.\.22, got 40/);
  });
});

describe('credentials file', () => {
  const good = async (): Promise<Record<string, unknown>> => ({ username: 'gw-alice', role: 'gateway', userId: 'alice', passwordHash: await hashPassword('pw', FAST_SCRYPT) });

  it('accepts valid entries, with an Ed25519 public key', async () => {
    const f = parseCredentials({ version: 1, users: [{ ...(await good()), publicKey: ed25519Pem() }, { username: 'ops', role: 'operator', passwordHash: (await good()).passwordHash }] });
    expect(f.users.map((u) => u.username)).toEqual(['gw-alice', 'ops']);
  });

  it('every error names the field', async () => {
    const hash = (await good()).passwordHash;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const cases: Array<[unknown, RegExp]> = [
      [{ version: 1, users: [{ username: 'gw-a', role: 'gateway', userId: 'a', passwordHash: 'hunter2' }] }, /users\[0\]\.passwordHash: expected "\$scrypt\$.*never a plain-text password/],
      [{ version: 1, users: [{ username: 'gw-a', role: 'gateway', passwordHash: hash }] }, /users\[0\]\.userId: a gateway needs the userId/],
      [{ version: 1, users: [{ username: 'aud', role: 'auditor', userId: 'x', passwordHash: hash }] }, /users\[0\]\.userId: only gateways have a userId \(this entry is auditor\)/],
      [{ version: 1, users: [{ username: 'aud', role: 'admin', passwordHash: hash }] }, /users\[0\]\.role: expected one of gateway, aggregator, auditor, operator/],
      [{ version: 1, users: [{ username: 'a/b', role: 'operator', passwordHash: hash }] }, /users\[0\]\.username: expected a username of 1-64 letters/],
      [{ version: 1, users: [{ username: 'op', role: 'operator', passwordHash: hash, password: 'pw' }] }, /users\[0\]: Unrecognized key: "password"/],
      [{ version: 1, users: [{ username: 'op', role: 'operator', passwordHash: hash }, { username: 'op', role: 'auditor', passwordHash: hash }] }, /users\[1\]\.username: "op" is already users\[0\]/],
      [{ version: 1, users: [{ ...(await good()), publicKey: rsa }] }, /users\[0\]\.publicKey: expected an Ed25519 public key, got rsa/],
      [{ version: 1, users: [{ ...(await good()), publicKey: 'not a key' }] }, /users\[0\]\.publicKey: expected an Ed25519 public key in PEM/],
      [{ version: 2, users: [] }, /version: expected 1/],
    ];
    for (const [raw, message] of cases) expect(() => parseCredentials(raw), String(message)).toThrow(message);
  });

  it('saves YAML or JSON by extension, owner-readable only, and loads back the same', async () => {
    const dir = tempDir('creds');
    const data = parseCredentials({ version: 1, users: [await good()] });
    for (const name of ['c.yaml', 'c.json']) {
      const file = path.join(dir, name);
      saveCredentialsFile(file, data);
      expect(loadCredentialsFile(file)).toEqual(data);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    }
    expect(fs.readFileSync(path.join(dir, 'c.json'), 'utf8').trimStart().startsWith('{')).toBe(true);
    fs.writeFileSync(path.join(dir, 'broken.json'), '{');
    expect(() => loadCredentialsFile(path.join(dir, 'broken.json'))).toThrow(/broken\.json is not valid JSON/);
  });
});

describe('CredentialStore and reload', { timeout: 15_000 }, () => {
  it('verifies known users, refuses unknown ones, and a reloaded file admits a new device', async () => {
    const { broker, credentialsFile } = await startTestBroker();
    try {
      const store = CredentialStore.fromFile(credentialsFile);
      expect(await store.verify('gw-alice', Buffer.from('gw-alice-secret'))).toEqual({ role: 'gateway', username: 'gw-alice', userId: 'alice' });
      expect(await store.verify('gw-alice', Buffer.from('nope'))).toBeNull();
      expect(await store.verify('ghost', Buffer.from('gw-alice-secret'))).toBeNull();

      await expect(connectAs(tcpUrl(broker), 'gw-carol', { password: 'carol-pw' })).rejects.toMatchObject({ code: 4 });
      const r = await setPassword({ file: credentialsFile, username: 'gw-carol', role: 'gateway', userId: 'carol', password: 'carol-pw', scrypt: FAST_SCRYPT });
      expect(r).toEqual({ action: 'added' });
      broker.reloadCredentials();
      const carol = await connectAs(tcpUrl(broker), 'gw-carol', { password: 'carol-pw' });
      await carol.endAsync(true);
    } finally {
      await broker.close();
    }
  });
});
