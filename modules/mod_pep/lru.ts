// A size-bounded map that forgets the least recently used entry first (Prosody's util.cache, as
// mod_pep uses it for services, recipients and caps). `canEvict` may hold entries back: a held
// entry is skipped (and counts as freshly used), and when every entry is held the map stays above
// its capacity until one may go.

export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
    private readonly canEvict?: (key: K, value: V) => boolean,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Read without touching the order. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      // The least recently used entry that may go, never the one just set.
      let victim: [K, V] | undefined;
      const held: Array<[K, V]> = [];
      for (const [k, v] of this.map) {
        if (k === key) continue;
        if (this.canEvict && !this.canEvict(k, v)) held.push([k, v]);
        else {
          victim = [k, v];
          break;
        }
      }
      // Held entries move up, so the next look does not walk past them again.
      for (const [k, v] of held) {
        this.map.delete(k);
        this.map.set(k, v);
      }
      if (!victim) break;
      this.map.delete(victim[0]);
      this.onEvict?.(victim[0], victim[1]);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
  }
}
