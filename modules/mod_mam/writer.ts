// Archive writes that do not hold up delivery: a message goes on with its stanza id as soon as its
// write is queued; the writes of one account run in order (archive order is arrival order), and
// what reads an account's archive waits for its queued writes first, so a client never misses a
// message it has seen. At most `maxPending` writes wait per account: beyond that the next message
// waits for the store (the account's message rate is then bound by the store's, as when waiting
// for every write, and memory stays bounded).

import { KeyedLock } from "../../src/util/keyed-lock.js";

export class ArchiveWriter {
  private readonly lock = new KeyedLock<string>();
  private readonly pending = new Map<string, number>();
  private readonly all = new Set<Promise<void>>();

  constructor(
    private readonly maxPending: number,
    private readonly onError: (user: string, err: unknown) => void,
  ) {}

  /** Queue `task` for `user`; resolves once there is room (the write may still be running). */
  async write(user: string, task: () => Promise<unknown>): Promise<void> {
    const n = (this.pending.get(user) ?? 0) + 1;
    this.pending.set(user, n);
    const done: Promise<void> = this.lock
      .run(user, task)
      .then(
        () => undefined,
        (err: unknown) => this.onError(user, err),
      )
      .finally(() => {
        const left = (this.pending.get(user) ?? 1) - 1;
        if (left === 0) this.pending.delete(user);
        else this.pending.set(user, left);
        this.all.delete(done);
      });
    this.all.add(done);
    if (n > this.maxPending) await done;
  }

  /** Resolves once every write queued for `user` so far has finished. */
  settled(user: string): Promise<void> {
    return this.lock.run(user, () => undefined);
  }

  /** Resolves once every queued write has finished (unload, before the store closes). */
  async flush(): Promise<void> {
    while (this.all.size > 0) await Promise.all(this.all);
  }
}
