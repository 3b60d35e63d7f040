/**
 * Who signs what, from the broker's credentials file: a gateway's `publicKey` (Ed25519, PEM) checks
 * both its update envelopes and its user's ledger entries (each has its own signing context, so one
 * signature can never pass as the other).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { loadCredentialsFile, type CredentialsFile } from '../credentials-file.ts';

export class KeyDirectory {
  readonly #byGateway = new Map<string, { userId: string; key?: KeyObject }>();
  readonly #keysOfUser = new Map<string, KeyObject[]>();

  constructor(file: CredentialsFile) {
    for (const u of file.users) {
      if (u.role !== 'gateway' || u.userId === undefined) continue;
      const key = u.publicKey === undefined ? undefined : createPublicKey(u.publicKey);
      this.#byGateway.set(u.username, { userId: u.userId, key });
      if (key) this.#keysOfUser.set(u.userId, [...(this.#keysOfUser.get(u.userId) ?? []), key]);
    }
  }

  static fromFile(file: string): KeyDirectory {
    return new KeyDirectory(loadCredentialsFile(file));
  }

  /** The key a gateway signs its updates with. */
  keyOfGateway(username: string): KeyObject | undefined {
    return this.#byGateway.get(username)?.key;
  }

  userOfGateway(username: string): string | undefined {
    return this.#byGateway.get(username)?.userId;
  }

  /**
   * The key a user's ledger is signed with: that of the gateway holding the user's data. Null when
   * none is registered, or when several gateways with keys claim the user (which one signed is then
   * not decidable from the entry; the verdict says so).
   */
  keyOfUser(userId: string): KeyObject | null {
    const keys = this.#keysOfUser.get(userId) ?? [];
    return keys.length === 1 ? keys[0] : null;
  }
}
