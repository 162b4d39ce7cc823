// A size-bounded map that forgets the least recently used entry first (Prosody's util.cache), on
// the `lru-cache` package, with pinned entries kept apart.
//
// Values may be anything, `undefined` and `null` included: use `has()` (or `lookup()`) to tell a
// cached "nothing" from a miss. `canEvict` may hold entries back (a user with sessions, a roster
// being changed): the least recently used entry, when it has to make room and is held, moves to a
// separate map of pinned entries instead of being dropped, and stays there, outside the count, until
// its hold is lifted: read then, it goes back to the LRU as recently used; found by `release()` (run
// every `capacity` insertions while entries are pinned), it goes back if the LRU has room and is
// evicted otherwise. So the LRU never holds more than `capacity` entries, an entry just set is
// never the one evicted, and held entries are never dropped.
// `onEvict` is told of every entry dropped for room (not of `delete()` or an overwrite).

import { LRUCache } from "lru-cache";

interface Box<V> {
  v: V;
}

export class Lru<K extends {}, V> {
  private readonly lru: LRUCache<K, Box<V>>;
  private readonly pinned = new Map<K, V>();
  private setsSinceSweep = 0;

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
    private readonly canEvict?: (key: K, value: V) => boolean,
  ) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 1)) throw new RangeError(`Lru capacity must be an integer >= 1, got ${capacity}`);
    this.lru = new LRUCache<K, Box<V>>({
      max: capacity,
      dispose: (box, key, reason) => {
        if (reason !== "evict") return;
        if (this.canEvict && !this.canEvict(key, box.v)) this.pinned.set(key, box.v);
        else this.onEvict?.(key, box.v);
      },
    });
  }

  /** Entries in memory: those in the LRU and the pinned ones. */
  get size(): number {
    return this.lru.size + this.pinned.size;
  }

  /** The value (now the most recently used), or undefined on a miss. */
  get(key: K): V | undefined {
    return this.lookup(key)?.value;
  }

  /** Like get(), telling a miss from a cached undefined: `{ value }` on a hit. */
  lookup(key: K): { value: V } | undefined {
    const box = this.lru.get(key);
    if (box) return { value: box.v };
    if (!this.pinned.has(key)) return undefined;
    const v = this.pinned.get(key) as V;
    if (this.canEvict?.(key, v) ?? true) {
      this.pinned.delete(key);
      this.lru.set(key, { v });
    }
    return { value: v };
  }

  /** Read without touching the order. */
  peek(key: K): V | undefined {
    const box = this.lru.peek(key);
    return box ? box.v : this.pinned.get(key);
  }

  has(key: K): boolean {
    return this.lru.has(key) || this.pinned.has(key);
  }

  set(key: K, value: V): this {
    this.pinned.delete(key);
    this.lru.set(key, { v: value });
    if (this.pinned.size > 0 && ++this.setsSinceSweep >= this.capacity) this.release();
    return this;
  }

  /**
   * Pinned entries whose hold is lifted leave the pinned map: back into the LRU while it has room,
   * else evicted (they were the ones due to go), so no entry of the LRU is pushed out for them.
   */
  release(): void {
    this.setsSinceSweep = 0;
    if (!this.canEvict) return;
    for (const [key, v] of this.pinned) {
      if (!this.canEvict(key, v)) continue;
      this.pinned.delete(key);
      if (this.lru.size < this.capacity) this.lru.set(key, { v });
      else this.onEvict?.(key, v);
    }
  }

  delete(key: K): boolean {
    const inLru = this.lru.delete(key);
    return this.pinned.delete(key) || inLru;
  }

  clear(): void {
    this.lru.clear();
    this.pinned.clear();
  }

  /** Pinned entries first, then the LRU's, least recently used first. */
  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): IterableIterator<[K, V]> {
    yield* this.pinned.entries();
    for (const k of this.lru.rkeys()) yield [k, (this.lru.peek(k) as Box<V>).v];
  }
}
