// The event bus: Herald's hooks, as in Prosody.
//
// Handlers run by priority (higher first; equal priorities in registration order). `fire` awaits
// each handler in turn and stops at the first that returns something other than undefined; that
// value is fire's result. A handler that throws is logged and fire rejects with its error: the
// code that fired the event decides what that means (the stanza paths answer
// internal-server-error), and the session and the server carry on.
//
// Events are typed: `EventMap` names every event with what its handlers receive and what they may
// answer. The core declares its events below; a module declares its own by declaration merging:
//
//   declare module "../../src/events/bus.js" {
//     interface EventMap { "roster-item-changed": EventSpec<RosterChange> }
//   }

import type { Logger } from "../util/logger.js";
import type { CoreEvents } from "./core-events.js";
import { StanzaError } from "../xml/stanza.js";

/** What handlers of an event receive (D) and what a handler may answer (R; undefined = "not me"). */
export interface EventSpec<D, R = unknown> {
  data: D;
  result: R;
}

/** Every event on a bus. Extended by declaration merging; the core's events come from CoreEvents. */
export interface EventMap extends CoreEvents {}

export type EventName = keyof EventMap & string;
export type EventData<K extends EventName> = EventMap[K] extends EventSpec<infer D, unknown> ? D : never;
export type EventResult<K extends EventName> = EventMap[K] extends EventSpec<unknown, infer R> ? R : never;
/** A handler returns its answer, or nothing to let the next handler have the event. */
export type EventHandler<K extends EventName> = (
  data: EventData<K>,
) => EventResult<K> | undefined | void | Promise<EventResult<K> | undefined | void>;

type AnyHandler = (data: unknown) => unknown;

interface Entry {
  fn: AnyHandler;
  priority: number;
  seq: number;
}

let seqCounter = 0;
const logged = new WeakSet<object>();

export class EventBus {
  private handlers = new Map<string, Entry[]>();

  constructor(private readonly log?: Logger) {}

  on<K extends EventName>(event: K, fn: EventHandler<K>, priority = 0): () => void {
    const list = this.handlers.get(event) ?? [];
    const entry: Entry = { fn: fn as AnyHandler, priority, seq: seqCounter++ };
    // Keep the list sorted: priority descending, then registration order.
    let i = list.length;
    while (i > 0 && list[i - 1].priority < priority) i--;
    const next = list.slice();
    next.splice(i, 0, entry);
    this.handlers.set(event, next);
    return () => this.off(event, fn);
  }

  off<K extends EventName>(event: K, fn: EventHandler<K>): void {
    const list = this.handlers.get(event);
    if (!list) return;
    const next = list.filter((e) => e.fn !== (fn as AnyHandler));
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

  /**
   * Run handlers in order until one returns a value, which is the result. A handler that throws
   * is logged with the event's name and fire rejects with that error.
   */
  async fire<K extends EventName>(event: K, data: EventData<K>): Promise<EventResult<K> | undefined> {
    const list = this.handlers.get(event);
    if (!list) return undefined;
    for (const entry of list) {
      let ret: unknown;
      try {
        ret = entry.fn(data);
        if (ret instanceof Promise) ret = await ret;
      } catch (err) {
        // A StanzaError is an answer, not a failure; anything else is logged once, where it was thrown.
        if (!(err instanceof StanzaError) && !logged.has(err as object)) {
          this.log?.error(`Error in handler for ${event}: ${(err as Error)?.stack ?? String(err)}`);
          if (typeof err === "object" && err !== null) logged.add(err);
        }
        throw err;
      }
      if (ret !== undefined) return ret as EventResult<K>;
    }
    return undefined;
  }
}
