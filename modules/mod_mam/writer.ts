// Archive writes on a message's way: a message goes on (is delivered, copied by carbons, stored
// offline, sent to another server) only once it is in the archive, so a client never holds a message
// that is missing from its archive, not after a crash either (the LevelDB store resolves a write once
// it is synced, and writes issued meanwhile by other sessions share that sync: group commit).
// The writes of one account run in order (archive order is arrival order); what reads an account's
// archive waits for the writes already started for it.

import { KeyedLock } from "../../src/util/keyed-lock.js";

export class ArchiveWriter {
  private readonly lock = new KeyedLock<string>();
  private readonly all = new Set<Promise<boolean>>();

  constructor(private readonly onError: (user: string, err: unknown) => void) {}

  /** Run `task` for `user` after the user's earlier writes; true once it is written, false when it failed (reported to onError). */
  write(user: string, task: () => Promise<unknown>): Promise<boolean> {
    const done: Promise<boolean> = this.lock
      .run(user, task)
      .then(
        () => true,
        (err: unknown) => {
          this.onError(user, err);
          return false;
        },
      )
      .finally(() => this.all.delete(done));
    this.all.add(done);
    return done;
  }

  /** Resolves once every write started for `user` so far has finished. */
  settled(user: string): Promise<void> {
    return this.lock.run(user, () => undefined);
  }

  /** Resolves once every write has finished (unload, before the store closes). */
  async flush(): Promise<void> {
    while (this.all.size > 0) await Promise.all(this.all);
  }
}
