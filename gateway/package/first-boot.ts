/**
 * First boot on the board: the device's Ed25519 signing key and its MQTT password file are made
 * here, on the device, so neither ever travels; the operator copies only the public key and the
 * password to the broker. Idempotent: what exists is kept (a lost key orphans the user's ledger).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, writeLedgerKeyPair } from '../../privacy/index.ts';
import { assertOwnerOnly, type GatewayConfig } from '../service/index.ts';

export interface FirstBootResult {
  keyFile: string;
  publicKeyFile: string;
  keyCreated: boolean;
  passwordFile: string;
  passwordCreated: boolean;
  /** What the broker's operator runs to enrol this gateway (the password is piped from the file). */
  enrol: string;
}

export async function firstBoot(config: Pick<GatewayConfig, 'keyFile' | 'dataDir' | 'passwordFile' | 'clientId' | 'userId' | 'username'>): Promise<FirstBootResult> {
  const keyFile = config.keyFile ?? path.join(config.dataDir, 'keys', PRIVATE_KEY_FILE);
  if (path.basename(keyFile) !== PRIVATE_KEY_FILE) {
    // writeLedgerKeyPair names its files itself; another name would leave the pair unfindable.
    if (!fs.existsSync(keyFile)) throw new Error(`keyFile: ${keyFile} does not exist; first boot only creates keys named ${PRIVATE_KEY_FILE}`);
  }
  const publicKeyFile = path.join(path.dirname(keyFile), PUBLIC_KEY_FILE);
  let keyCreated = false;
  if (!fs.existsSync(keyFile)) {
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    await writeLedgerKeyPair(path.dirname(keyFile));
    keyCreated = true;
  }
  assertOwnerOnly(keyFile, 'signing key');

  let passwordCreated = false;
  if (!fs.existsSync(config.passwordFile)) {
    fs.mkdirSync(path.dirname(config.passwordFile), { recursive: true, mode: 0o700 });
    // 'wx': never replace a password the broker already knows; the mode applies at creation.
    fs.writeFileSync(config.passwordFile, randomBytes(24).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
    passwordCreated = true;
  }
  assertOwnerOnly(config.passwordFile, 'passwordFile');

  const enrol =
    `sudo cat ${config.passwordFile} | fedwear broker passwd --file credentials.yaml --user ${config.username}` +
    ` --role gateway --user-id ${config.userId} --public-key ${publicKeyFile.replace(/\\/g, '/')}`;
  return { keyFile, publicKeyFile, keyCreated, passwordFile: config.passwordFile, passwordCreated, enrol };
}
