// What a test client has received and not read yet: taken one at a time, waiting for the next with
// a timeout.

export class Inbox<T> {
  private items: T[] = [];
  private waiters: Array<() => void> = [];
  /** Nothing more will come (the connection closed): take() fails once the inbox is empty. */
  closed = false;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  /** Put items back in front (in their order). */
  unshift(...items: T[]): void {
    this.items.unshift(...items);
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  /** The oldest item; throws "connection closed" once closed and empty, "nothing received within …" after the timeout. */
  async take(timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length === 0) {
      if (this.closed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing received within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.items.shift()!;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
