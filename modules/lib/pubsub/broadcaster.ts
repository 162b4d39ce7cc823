// The broadcaster of a pubsub service: turns service events into stanzas (notifications.ts) and
// hands them to the router. Fan-out is cheap per recipient: the <event/> payload is built once per
// event and shared by reference, no storage is read, and the posts run concurrently; the returned
// promise settles once every message has been handed over (or queued for a slow remote server, see
// below), so a publisher's IQ result follows its own notifications (Prosody's order, relied on by the
// scansion scripts; with the write-behind store, replies.ts asks waitsFor() whether any are waiting).
//
// A large fan-out is posted in chunks of `chunk` recipients (stanzas built per chunk); once the
// fan-outs have taken FANOUT_TURN_MS of a turn of the event loop (writing to the sockets comes on
// top), the next chunk waits for the next turn, so a publish to thousands of subscribers does not hold up other sessions' stanzas for the
// whole fan-out, while small ones still go out together (one write per connection and turn). Such an
// event joins the chain below to keep event order.
//
// Flow control is per remote server (peer-queues.ts): a server that reads slowly, or not at all,
// holds back only the notifications for it; local subscribers and other servers get theirs at once,
// and the promises here (notify(), idle(), the chain) never wait for a remote server to read.
//
// With a `gate` (the component's write-behind store): while items are still being written, an
// event's messages are built at once but posted only after those writes are durable, in event order
// (a chain), and notify() returns without waiting; idle() tells when everything handed to notify()
// so far has been posted. A subscriber is never told of an item that is not on disk.
//
// With a `recipients` filter (Prosody's subscriber_filter): the event goes to the recipients it
// returns instead of the service's own. PEP adds the entities that asked for the node with
// "+notify" (pep.ts); everything else is the same for the component and PEP.

import { freezeSerialization } from "../../../src/xml/stanza.js";
import type { Element } from "../../../src/xml/stanza.js";
import type { Broadcaster, PubsubEvent, Recipient } from "../../../src/util/pubsub/index.js";
import type { Notifier } from "./notifications.js";
import { PeerQueues } from "./peer-queues.js";
import { jidBare } from "../../../src/util/jid.js";
import type { PostOptions } from "../../../src/router/router.js";


export interface BroadcasterOptions {
  /** Send one stanza; resolves once it has been handed over (ModuleApi.post). */
  post: (stanza: Element, opts?: PostOptions) => Promise<void>;
  /** XEP-0060 §8.9.4 "MAY": tell entities of affiliation changes (default true). */
  notifyAffiliations?: boolean;
  /** Prosody's subscriber_filter: who receives the event (default: the service's recipients). */
  recipients?: (event: PubsubEvent) => Recipient[] | Promise<Recipient[]>;
  onError?: (err: unknown) => void;
  /**
   * Before posting: undefined when nothing is pending, else a promise of the pending writes, true
   * once they are durable, false if they failed (the event's messages are then dropped).
   */
  gate?: () => Promise<boolean> | undefined;
  /** Recipients posted per turn of the event loop (pubsub_fanout_chunk; default FANOUT_CHUNK). */
  chunk?: number;
  /** Bytes of notifications held for one slow remote server (pubsub_remote_queue_limit). */
  remoteQueueLimit?: number;
  /** A remote server's queue went over remoteQueueLimit (its notifications were handed over regardless). */
  onRemoteOverflow?: (domain: string, stanzas: number, bytes: number) => void;
}

export const FANOUT_CHUNK = 64;
/** Milliseconds of a turn of the event loop that chunked fan-outs may take before yielding. */
export const FANOUT_TURN_MS = 2;

export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** When the fan-outs' work in the current turn began (undefined: none yet this turn). */
let turnStarted: number | undefined;

/** Has this turn's fan-out work used up its time? Starts the count at the turn's first call. */
export function turnSpent(): boolean {
  const now = performance.now();
  if (turnStarted === undefined) {
    turnStarted = now;
    setImmediate(() => (turnStarted = undefined));
    return false;
  }
  return now - turnStarted >= FANOUT_TURN_MS;
}

export interface BroadcastStats {
  events: number;
  messages: number;
  /** Distinct <event/> payload elements built (one per event, or per chunk of a large fan-out). */
  sharedPayloads: number;
}

export class StanzaBroadcaster implements Broadcaster {
  readonly stats: BroadcastStats = { events: 0, messages: 0, sharedPayloads: 0 };
  /** Listeners that see every message built (tests, benchmarks). */
  readonly taps: Array<(messages: readonly Element[], event: PubsubEvent) => void> = [];
  /** Deferred posts, in event order; undefined when none is waiting. */
  private chain: Promise<void> | undefined;
  /** Notifications waiting for a slow remote server, per server. */
  readonly peers: PeerQueues;
  /** Bare JIDs of the recipients of the events on the chain (not yet posted), with their count. */
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly notifier: Notifier,
    private readonly opts: BroadcasterOptions,
  ) {
    this.peers = new PeerQueues({ post: opts.post, limit: opts.remoteQueueLimit, onError: opts.onError, onOverflow: opts.onRemoteOverflow });
  }

  async notify(original: PubsubEvent): Promise<void> {
    if (original.kind === "affiliation" && this.opts.notifyAffiliations === false) return;
    const recipients = this.opts.recipients ? await this.opts.recipients(original) : original.recipients;
    if (recipients.length === 0) return;
    const event = recipients === original.recipients ? original : ({ ...original, recipients } as PubsubEvent);
    const chunk = this.opts.chunk ?? FANOUT_CHUNK;
    if (event.recipients.length > chunk) return this.notifyInChunks(event, chunk);
    const messages = this.build(event);
    const gate = this.opts.gate?.();
    if (gate === undefined && this.chain === undefined) return this.post(messages);
    this.enqueue(gate, event.recipients, async () => this.post(messages));
  }

  /**
   * Is a notification to `jid`'s account (any of its resources) still waiting to be posted? The
   * component's replies use it: a requester with none waiting can have its result before the rest of
   * the fan-out, since its own notifications (Prosody's order: before the result) are already out.
   */
  waitsFor(jid: string): boolean {
    return this.waiting.size > 0 && this.waiting.has(jidBare(jid));
  }

  private hold(recipients: readonly Recipient[], by: 1 | -1): void {
    for (const r of recipients) {
      const bare = jidBare(r.jid);
      const n = (this.waiting.get(bare) ?? 0) + by;
      if (n > 0) this.waiting.set(bare, n);
      else this.waiting.delete(bare);
    }
  }

  /** The messages of one event (or one chunk of its recipients), counted and shown to the taps. */
  private build(event: PubsubEvent, first = true): Element[] {
    const messages = this.notifier.messages(event);
    if (first) this.stats.events++;
    this.stats.messages += messages.length;
    const shared = new Set<Element>();
    for (const m of messages) {
      const first = m.children[0];
      if (typeof first !== "string" && first !== undefined) shared.add(first);
    }
    this.stats.sharedPayloads += shared.size;
    if (messages.length > 1) for (const el of shared) freezeSerialization(el);
    for (const tap of this.taps) tap(messages, event);
    return messages;
  }

  /** A large fan-out: on the chain, chunk by chunk, yielding once this turn's fan-out time is spent. */
  private notifyInChunks(event: PubsubEvent, chunk: number): Promise<void> {
    const gate = this.opts.gate?.();
    const run = this.enqueue(gate, event.recipients, async () => {
      const all = event.recipients;
      for (let at = 0; at < all.length; at += chunk) {
        if (turnSpent()) await nextTurn();
        const messages = this.build({ ...event, recipients: all.slice(at, at + chunk) } as PubsubEvent, at === 0);
        await this.post(messages);
      }
    });
    // Without a gate the caller waits for its notifications, as for a small event.
    return gate === undefined ? run : Promise.resolve();
  }

  /** Run `post` after the events before it and, with a gate, once the writes are durable. */
  private enqueue(gate: Promise<boolean> | undefined, recipients: readonly Recipient[], post: () => Promise<void>): Promise<void> {
    this.hold(recipients, 1);
    const run = (this.chain ?? Promise.resolve())
      .then(async () => {
        if (gate !== undefined && !(await gate)) {
          this.opts.onError?.(new Error(`${recipients.length} notifications dropped: their item was not stored`));
          return;
        }
        await post();
      })
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => this.hold(recipients, -1));
    this.chain = run;
    void run.then(() => {
      if (this.chain === run) this.chain = undefined;
    });
    return run;
  }

  /** Are posts waiting (for durability, or behind others that are)? */
  get pending(): boolean {
    return this.chain !== undefined;
  }

  /** Resolves once every event handed to notify() so far has been posted. */
  idle(): Promise<void> {
    return this.chain ?? Promise.resolve();
  }

  /** Hand the messages over: local ones delivered, remote ones written or waiting for their server. */
  private async post(messages: readonly Element[]): Promise<void> {
    await Promise.all(messages.map((m) => this.peers.send(m)));
  }
}
