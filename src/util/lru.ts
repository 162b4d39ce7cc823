// A size-bounded map that forgets the least recently used entry first (Prosody's util.cache).
//
// Values may be anything, `undefined` and `null` included: use `has()` (or `lookup()`) to tell a
// cached "nothing" from a miss. `canEvict` may hold entries back (e.g. users with sessions): a held
// entry is skipped and counts as freshly used; when every entry is held the map stays above its
// capacity until one may go. `onEvict` is told of every entry dropped for room (not of `delete()`).

export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
    private readonly canEvict?: (key: K, value: V) => boolean,
  ) {
    if (!(capacity >= 0)) throw new RangeError(`Lru capacity must be >= 0, got ${capacity}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value (now the most recently used), or undefined on a miss. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const v = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Like get(), telling a miss from a cached undefined: `{ value }` on a hit. */
  lookup(key: K): { value: V } | undefined {
    if (!this.map.has(key)) return undefined;
    return { value: this.get(key) as V };
  }

  /** Read without touching the order. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    this.shrink();
    return this;
  }

  /** Evict down to capacity (e.g. after a `canEvict` hold was lifted). */
  shrink(): void {
    let held = 0;
    while (this.map.size > this.capacity && held < this.map.size) {
      const [oldest, v] = this.map.entries().next().value as [K, V];
      this.map.delete(oldest);
      if (this.canEvict && !this.canEvict(oldest, v)) {
        this.map.set(oldest, v);
        held++;
        continue;
      }
      this.onEvict?.(oldest, v);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Least recently used first. */
  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }
}
