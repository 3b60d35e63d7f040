/**
 * The broker's credentials file for one demo run: a gateway identity per user (with the public key
 * its updates and ledger entries are checked against), the aggregator and an auditor. Passwords
 * are generated per run and never written anywhere but the file's hashes and the returned map.
 */
import path from 'node:path';
import { generatePassword, hashPassword, saveCredentialsFile, type CredentialsFile } from '../broker/index.ts';

export interface DemoGatewayIdentity {
  username: string;
  userId: string;
  publicKeyPem: string;
}

/**
 * A lighter scrypt than the broker's default: these passwords live for one run on loopback, and
 * twenty-odd gateways connecting at once would otherwise spend seconds of the 2 cores on hashing.
 */
const DEMO_SCRYPT = { ln: 12, r: 8, p: 1 };

export async function writeDemoCredentials(dir: string, gateways: readonly DemoGatewayIdentity[]): Promise<{ file: string; passwords: Map<string, string> }> {
  const passwords = new Map<string, string>();
  const entry = async (username: string): Promise<string> => {
    const pw = generatePassword();
    passwords.set(username, pw);
    return hashPassword(pw, DEMO_SCRYPT);
  };
  const users = [];
  for (const g of gateways) users.push({ username: g.username, role: 'gateway', userId: g.userId, passwordHash: await entry(g.username), publicKey: g.publicKeyPem });
  users.push({ username: 'aggregator', role: 'aggregator', passwordHash: await entry('aggregator') });
  users.push({ username: 'auditor', role: 'auditor', passwordHash: await entry('auditor') });
  const file = path.join(dir, 'credentials.yaml');
  saveCredentialsFile(file, { version: 1, users } as CredentialsFile);
  return { file, passwords };
}
