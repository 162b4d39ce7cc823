// Sessions: one per connected stream. The router delivers stanzas to them; each session handles
// its own inbound stanzas one at a time, in order, even when a handler awaits storage.

import type { Element } from "../xml/stanza.js";
import type { Logger } from "../util/logger.js";

export type SessionType = "c2s_unauthed" | "c2s" | "component" | "local";

/** What every stanza origin and destination has. */
export interface StanzaSink {
  readonly id: string;
  readonly type: SessionType;
  /** Deliver a stanza to the peer. Returns false when the session is closed. */
  send(stanza: Element): boolean;
}

/** A serial queue: tasks run one after another, in order, errors isolated per task. */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly onError: (err: unknown) => void) {}

  get length(): number {
    return this.pending;
  }

  push(task: () => unknown): Promise<void> {
    this.pending++;
    const run = async () => {
      try {
        await task();
      } catch (err) {
        this.onError(err);
      } finally {
        this.pending--;
      }
    };
    this.tail = this.tail.then(run);
    return this.tail;
  }

  /** Resolves when everything queued so far has run. */
  drain(): Promise<void> {
    return this.tail;
  }
}

let sessionCounter = 0;
export function nextSessionId(prefix: string): string {
  sessionCounter++;
  return `${prefix}${sessionCounter.toString(36)}`;
}

/**
 * A function that sees the stanzas of a bound client session, as Prosody's session filters: it
 * returns the stanza to go on with (the same or a changed copy), or undefined to swallow it.
 * - "stanzas/in": every stanza the client sends, before it is routed;
 * - "stanzas/out": every stanza the session is given to deliver (stream management counts and
 *   queues them here);
 * - "stanzas/write": what is about to be written to the connection (client state indication keeps
 *   unimportant stanzas back here and writes them later with `writeStanza`, past these filters).
 */
export type StanzaFilter = (stanza: Element) => Element | undefined;
export type FilterKind = "stanzas/in" | "stanzas/out" | "stanzas/write";

/** A client session as the rest of the server sees it. */
export interface ClientSession extends StanzaSink {
  readonly type: "c2s" | "c2s_unauthed";
  readonly host: string;
  username?: string;
  resource?: string;
  /** Full JID once bound. */
  fullJid?: string;
  /** Bare JID once authenticated. */
  bareJid?: string;
  readonly secure: boolean;
  readonly transportKind: "tcp" | "tls" | "websocket" | "bosh";
  readonly remoteAddress: string;
  readonly log: Logger;
  /**
   * Per-module state, keyed by module name (read and written through a SessionSlot). What a
   * feature keeps on a session (its presence, whether it asked for the roster) is the feature
   * module's: others ask that module's service.
   */
  readonly data: Map<string, unknown>;
  /** Close the stream, optionally with a stream error condition. */
  close(error?: { condition: string; text?: string }): void;
  readonly closed: boolean;
  /** Resolves when every stanza the session has received so far has been handled. */
  drain?(): Promise<void>;
  /** Add a filter on this session's stanzas (see StanzaFilter), after those added before; returns its remover. */
  addFilter?(kind: FilterKind, fn: StanzaFilter): () => void;
  /** Write a stanza to the client past the "stanzas/write" filters. */
  writeStanza?(stanza: Element): boolean;
}

/**
 * A module's typed slot in every session's `data`: `const slot = new SessionSlot<MyState>("presence")`.
 * The state lives on the session (it goes with it, and stays across a reload of the module); only the
 * owning module reads and writes it, other modules ask the owner's service.
 */
export class SessionSlot<T> {
  constructor(readonly key: string) {}

  get(session: { readonly data: Map<string, unknown> }): T | undefined {
    return session.data.get(this.key) as T | undefined;
  }

  /** The session's state, created by `init` on first use. */
  ensure(session: { readonly data: Map<string, unknown> }, init: () => T): T {
    let v = this.get(session);
    if (v === undefined) {
      v = init();
      session.data.set(this.key, v);
    }
    return v;
  }

  set(session: { readonly data: Map<string, unknown> }, value: T): void {
    session.data.set(this.key, value);
  }

  delete(session: { readonly data: Map<string, unknown> }): void {
    session.data.delete(this.key);
  }
}
