// Accounts of a VirtualHost. `authentication = "internal_hashed"` (the default) keeps, per user,
// the SCRAM salted keys (and an Argon2id hash only for keys under 10,000 iterations); the password itself is never stored.
// `authentication = "insecure"` (Prosody's test setting) accepts any password for any user.

import type { KeyvalStore, StorageDriver } from "../storage/types.js";
import { deriveCredentials, isComplete, verifyPassword, type ScramKeys, type StoredCredentials } from "../sasl/credentials.js";
import { nodePrep } from "../util/jid.js";

export interface AccountRecord {
  credentials: StoredCredentials;
  created: number;
}

export interface AccountStore {
  readonly host: string;
  /** Any password accepted (Prosody's "insecure" authentication). */
  readonly acceptAny: boolean;
  exists(username: string): Promise<boolean>;
  create(username: string, password: string): Promise<void>;
  setPassword(username: string, password: string): Promise<void>;
  delete(username: string): Promise<void>;
  list(): Promise<string[]>;
  credentials(username: string): Promise<StoredCredentials | undefined>;
  verify(username: string, password: string): Promise<boolean>;
  /**
   * Create an account with credentials from another server (`herald import prosody`: the
   * SCRAM-SHA-1 keys Prosody stores). An existing account is left as it is: "exists".
   */
  importAccount(username: string, scramSha1: ScramKeys, created?: number): Promise<"created" | "exists">;
  /** The password verified against incomplete (imported) credentials: store the full set. */
  upgradeCredentials(username: string, password: string): Promise<void>;
}

export class AccountError extends Error {
  constructor(
    readonly code: "conflict" | "not-found" | "invalid-username" | "invalid-password",
    message: string,
  ) {
    super(message);
  }
}

export function createAccountStore(
  storage: StorageDriver,
  host: string,
  opts: { acceptAny?: boolean; iterations?: number; onDelete?: (username: string) => Promise<void> } = {},
): AccountStore {
  const store: KeyvalStore<AccountRecord> = storage.keyval<AccountRecord>(host, "accounts");
  const prep = (username: string): string => {
    const u = nodePrep(username);
    if (u === undefined) throw new AccountError("invalid-username", `'${username}' is not a valid username`);
    return u;
  };
  const checkPassword = (password: string) => {
    if (password.length === 0) throw new AccountError("invalid-password", "The password must not be empty");
  };
  return {
    host,
    acceptAny: opts.acceptAny ?? false,
    async exists(username) {
      const u = nodePrep(username);
      if (u === undefined) return false;
      if (opts.acceptAny) return true;
      return (await store.get(u)) !== undefined;
    },
    async create(username, password) {
      const u = prep(username);
      checkPassword(password);
      if ((await store.get(u)) !== undefined) throw new AccountError("conflict", `${u}@${host} already exists`);
      await store.set(u, { credentials: await deriveCredentials(password, { iterations: opts.iterations }), created: Date.now() });
    },
    async setPassword(username, password) {
      const u = prep(username);
      checkPassword(password);
      const rec = await store.get(u);
      if (!rec) throw new AccountError("not-found", `${u}@${host} does not exist`);
      await store.set(u, { ...rec, credentials: await deriveCredentials(password, { iterations: opts.iterations }) });
    },
    async delete(username) {
      const u = prep(username);
      // With "insecure" authentication every name is an account, so any of them can be deleted.
      if (!opts.acceptAny && (await store.get(u)) === undefined) throw new AccountError("not-found", `${u}@${host} does not exist`);
      await store.set(u, undefined);
      await storage.purgeUser(host, u);
      await opts.onDelete?.(u);
      // What the account's sessions wrote while they ended (last activity, presence) goes too.
      await storage.purgeUser(host, u);
    },
    list: () => store.users(),
    async credentials(username) {
      const u = nodePrep(username);
      return u === undefined ? undefined : (await store.get(u))?.credentials;
    },
    async importAccount(username, scramSha1, created) {
      const u = prep(username);
      if ((await store.get(u)) !== undefined) return "exists";
      await store.set(u, { credentials: { scram: { "SHA-1": { ...scramSha1 } } }, created: created ?? Date.now() });
      return "created";
    },
    async upgradeCredentials(username, password) {
      const u = prep(username);
      const rec = await store.get(u);
      if (!rec || isComplete(rec.credentials) || !(await verifyPassword(rec.credentials, password))) return;
      await store.set(u, { ...rec, credentials: await deriveCredentials(password, { iterations: opts.iterations }) });
    },
    async verify(username, password) {
      if (opts.acceptAny) return nodePrep(username) !== undefined;
      const creds = await this.credentials(username);
      return creds ? verifyPassword(creds, password) : false;
    },
  };
}
