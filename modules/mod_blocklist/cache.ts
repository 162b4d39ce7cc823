// The blocklists of a host, cached. Every stanza to a local account, and every presence one sends
// through the server, is checked against a list, so: lists of accounts with a bound session stay
// cached for as long as they are online (pinned, whatever the LRU's size; moved to the LRU on the
// last unbind), others live in an LRU of `blocklist_cache_size` accounts. "No list" is cached too
// (the shared Blocklist.EMPTY). Concurrent misses for one account share one storage read, and a read
// that raced a write or a purge does not cache what it read.

import type { KeyvalStore } from "../../src/storage/types.js";
import { Lru } from "../../src/util/lru.js";
import { Blocklist, type StoredBlocklist } from "./blocklist.js";

export class BlocklistCache {
  private readonly online = new Map<string, Blocklist>();
  /** Bound sessions per online account (anything that identifies a session). */
  private readonly bound = new Map<string, Set<object>>();
  private readonly others: Lru<string, Blocklist>;
  /** Reads in flight, so that concurrent misses for one account share one storage read. */
  private readonly reading = new Map<string, Promise<Blocklist>>();
  /** Bumped on every write or purge: a read that started before one must not cache what it read. */
  private writes = 0;

  constructor(
    private readonly store: KeyvalStore<StoredBlocklist>,
    cacheSize: number,
  ) {
    this.others = new Lru<string, Blocklist>(cacheSize);
  }

  /** The account's list (cached, or read once). */
  async get(username: string): Promise<Blocklist> {
    const hit = this.cached(username);
    if (hit) return hit;
    let p = this.reading.get(username);
    if (!p) {
      const startedAt = this.writes;
      p = (async () => {
        const list = Blocklist.from(await this.store.get(username));
        if (this.writes === startedAt && !this.cached(username)) this.remember(username, list);
        return this.cached(username) ?? list;
      })().finally(() => this.reading.delete(username));
      this.reading.set(username, p);
    }
    return p;
  }

  /** Store a new list for the account. */
  async set(username: string, list: Blocklist): Promise<void> {
    this.writes++;
    await this.store.set(username, list.toStored());
    this.remember(username, list);
  }

  /** The account was deleted (its stores purged): forget its list. */
  purge(username: string): void {
    this.online.delete(username);
    this.others.delete(username);
    this.writes++;
  }

  /** A session of the account was bound: its list stays cached until the account's last session unbinds. */
  bind(username: string, session: object): void {
    let set = this.bound.get(username);
    if (!set) {
      set = new Set();
      this.bound.set(username, set);
      const list = this.others.peek(username);
      if (list) this.remember(username, list);
    }
    set.add(session);
  }

  unbind(username: string, session: object): void {
    const set = this.bound.get(username);
    if (!set) return;
    set.delete(session);
    if (set.size > 0) return;
    this.bound.delete(username);
    const list = this.online.get(username);
    this.online.delete(username);
    if (list) this.others.set(username, list);
  }

  /** Is the account's list held (pinned or in the LRU)? */
  has(username: string): boolean {
    return this.online.has(username) || this.others.peek(username) !== undefined;
  }

  private cached(username: string): Blocklist | undefined {
    return this.online.get(username) ?? this.others.get(username);
  }

  private remember(username: string, list: Blocklist): void {
    if (this.bound.has(username)) {
      this.online.set(username, list);
      this.others.delete(username);
    } else {
      this.others.set(username, list);
    }
  }
}
