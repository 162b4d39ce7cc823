// A per-key serial lock: tasks run one after another for the same key (in the order run() was
// called), concurrently for different keys. A failing task does not stop the ones queued after it;
// its error goes to its own caller only. Idle keys take no memory.

export class KeyedLock<K = string> {
  private readonly tails = new Map<K, Promise<void>>();

  /** Run `fn` once every task queued before it for `key` has settled; resolves with its result. */
  run<T>(key: K, fn: () => T | Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    const result = prev ? prev.then(() => fn()) : Promise.resolve().then(() => fn());
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Is a task running or queued for `key`? */
  busy(key: K): boolean {
    return this.tails.has(key);
  }

  /** How many keys have a task running or queued. */
  get size(): number {
    return this.tails.size;
  }
}
