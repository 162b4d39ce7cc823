// Where tombstones are kept: the host-wide part (user "") of the map store "tombstones", key =
// username, value = when the account was deleted (seconds since the epoch). Deleting an account
// purges that user's data only, so its tombstone stays.

import type { MapStore, StorageDriver } from "../../src/storage/types.js";

export const TOMBSTONE_STORE = "tombstones";

export class Graveyard {
  constructor(
    private readonly store: MapStore<number>,
    /** Seconds a tombstone lasts (`user_tombstone_expiry`); Infinity: for ever. */
    private readonly ttl: number = Infinity,
  ) {}

  static open(storage: StorageDriver, host: string, ttl?: number): Graveyard {
    return new Graveyard(storage.map<number>(host, TOMBSTONE_STORE), ttl);
  }

  async bury(username: string, when = Math.floor(Date.now() / 1000)): Promise<void> {
    await this.store.set("", username, when);
  }

  /** When the account was deleted, if its tombstone is still there (an expired one is removed). */
  async tombstone(username: string): Promise<number | undefined> {
    const when = await this.store.get("", username);
    if (typeof when !== "number") return undefined;
    if (when + this.ttl < Date.now() / 1000) {
      await this.store.set("", username, undefined);
      return undefined;
    }
    return when;
  }
}
