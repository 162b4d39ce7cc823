// Where tombstones are kept: the host-wide part (user "") of the map store "tombstones", key =
// username, value = when the account was deleted (seconds since the epoch). Deleting an account
// purges that user's data only, so its tombstone stays.

import type { MapStore, StorageDriver } from "../../src/storage/types.js";
import { Lru } from "../../src/util/lru.js";

export const TOMBSTONE_STORE = "tombstones";

export class Graveyard {
  /** Recent answers, tombstone or none (the store is asked for every presence to an account). */
  private readonly cache: Lru<string, number | null> | undefined;

  constructor(
    private readonly store: MapStore<number>,
    /** Seconds a tombstone lasts (`user_tombstone_expiry`); Infinity: for ever. */
    private readonly ttl: number = Infinity,
    /** Answers kept in memory; 0: none (when another process may write the store). */
    cacheSize = 0,
  ) {
    this.cache = cacheSize > 0 ? new Lru(cacheSize) : undefined;
  }

  static open(storage: StorageDriver, host: string, ttl?: number): Graveyard {
    return new Graveyard(storage.map<number>(host, TOMBSTONE_STORE), ttl);
  }

  async bury(username: string, when = Math.floor(Date.now() / 1000)): Promise<void> {
    this.cache?.delete(username);
    await this.store.set("", username, when);
    this.cache?.set(username, when);
  }

  /** When the account was deleted, if its tombstone is still there (an expired one is removed). */
  async tombstone(username: string): Promise<number | undefined> {
    const cached = this.cache?.lookup(username);
    let when: number | null | undefined;
    if (cached) when = cached.value;
    else {
      const stored = await this.store.get("", username);
      when = typeof stored === "number" ? stored : null;
      this.cache?.set(username, when);
    }
    if (when === null) return undefined;
    if (when + this.ttl < Date.now() / 1000) {
      this.cache?.set(username, null);
      await this.store.set("", username, undefined);
      return undefined;
    }
    return when;
  }
}
