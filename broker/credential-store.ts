/**
 * Checks a username and password against the credentials file's hashes and yields the identity.
 * Unknown usernames still cost one scrypt run, so response time does not reveal which names exist.
 */
import { identityOf, loadCredentialsFile, type CredentialsFile, type UserEntry } from './credentials-file.ts';
import type { Identity } from './identity.ts';
import { DEFAULT_SCRYPT, hashPassword, parsePasswordHash, verifyPassword, type ParsedHash } from './password-hash.ts';

interface Account {
  entry: UserEntry;
  identity: Identity;
  hash: ParsedHash;
}

export class CredentialStore {
  #accounts = new Map<string, Account>();
  #decoy: Promise<ParsedHash> | undefined;

  constructor(file: CredentialsFile) {
    this.replace(file);
  }

  static fromFile(file: string): CredentialStore {
    return new CredentialStore(loadCredentialsFile(file));
  }

  /** Swaps in a new set of users (a reload); sessions already connected keep their identity. */
  replace(file: CredentialsFile): void {
    const next = new Map<string, Account>();
    for (const entry of file.users) {
      next.set(entry.username, { entry, identity: identityOf(entry), hash: parsePasswordHash(entry.passwordHash) });
    }
    this.#accounts = next;
  }

  get size(): number {
    return this.#accounts.size;
  }

  /** The user's entry (role, userId, public key), if present. */
  entry(username: string): UserEntry | undefined {
    return this.#accounts.get(username)?.entry;
  }

  /** The identity when the password matches, otherwise null. */
  async verify(username: string, password: Buffer): Promise<Identity | null> {
    const account = this.#accounts.get(username);
    if (!account) {
      await verifyPassword(password, await this.#decoyHash());
      return null;
    }
    return (await verifyPassword(password, account.hash)) ? account.identity : null;
  }

  #decoyHash(): Promise<ParsedHash> {
    this.#decoy ??= hashPassword('decoy: never matches a real account', DEFAULT_SCRYPT).then(parsePasswordHash);
    return this.#decoy;
  }
}
