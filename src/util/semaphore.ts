// At most N tasks at once; the others wait their turn, first come first served.

export class Semaphore {
  private active = 0;
  private queue: Array<() => void> = [];
  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the turn passes on; `active` stays the same
      else this.active--;
    }
  }

  /** Tasks waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }
}
