// The event bus: Herald's hooks, as in Prosody.
//
// Handlers run by priority (higher first; equal priorities in registration order). `fire` awaits
// each handler in turn and stops at the first that returns something other than undefined; that
// value is fire's result. A handler that throws is logged and counts as having handled the event
// with an error: fire returns the HANDLER_ERROR marker so the caller can answer
// internal-server-error, and the session and the server carry on.

import type { Logger } from "../util/logger.js";

export type Handler<T = unknown> = (data: T) => unknown;

interface Entry {
  fn: Handler<never>;
  priority: number;
  seq: number;
}

export const HANDLER_ERROR: unique symbol = Symbol("handler-error");

let seqCounter = 0;

export class EventBus {
  private handlers = new Map<string, Entry[]>();

  constructor(private readonly log?: Logger) {}

  on<T>(event: string, fn: Handler<T>, priority = 0): () => void {
    const list = this.handlers.get(event) ?? [];
    const entry: Entry = { fn: fn as Handler<never>, priority, seq: seqCounter++ };
    // Keep the list sorted: priority descending, then registration order.
    let i = list.length;
    while (i > 0 && list[i - 1].priority < priority) i--;
    const next = list.slice();
    next.splice(i, 0, entry);
    this.handlers.set(event, next);
    return () => this.off(event, fn);
  }

  off<T>(event: string, fn: Handler<T>): void {
    const list = this.handlers.get(event);
    if (!list) return;
    const next = list.filter((e) => e.fn !== (fn as Handler<never>));
    if (next.length) this.handlers.set(event, next);
    else this.handlers.delete(event);
  }

  has(event: string): boolean {
    return this.handlers.has(event);
  }

  count(event?: string): number {
    if (event !== undefined) return this.handlers.get(event)?.length ?? 0;
    let n = 0;
    for (const l of this.handlers.values()) n += l.length;
    return n;
  }

  /** Run handlers in order until one returns a value. */
  async fire<T>(event: string, data: T): Promise<unknown> {
    const list = this.handlers.get(event);
    if (!list) return undefined;
    for (const entry of list) {
      let ret: unknown;
      try {
        ret = (entry.fn as Handler<T>)(data);
        if (ret instanceof Promise) ret = await ret;
      } catch (err) {
        this.log?.error(`Error in handler for ${event}: ${(err as Error)?.stack ?? String(err)}`);
        return HANDLER_ERROR;
      }
      if (ret !== undefined) return ret;
    }
    return undefined;
  }
}
