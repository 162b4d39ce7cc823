// A queue per remote server for a pubsub service's notifications (the component's and each PEP
// service's broadcaster): flow control per destination instead of one wait for the whole fan-out.
//
// Every stanza is posted at once, unless stanzas for its server are waiting already. A post to a
// server whose connection is congested (more than s2s_send_buffer_pause bytes it has not read) is
// written all the same, but the router does not hold the post for it: it hands the wait to
// onCongested (router PostOptions), and from then on this server's stanzas wait here, in order,
// until it has read what waits (or the connection is gone). Then they go out again until the next
// congestion. Local recipients and other servers are never held: a slow or stalled peer only slows
// itself, however long it takes (no REMOTE_FLOW_WAIT_MS here: nobody else waits for it).
//
// Order per recipient: a recipient's stanzas all go to one server, and for each server they leave
// in the order they were sent here (while any wait, the newer ones wait behind them).
//
// Bounded: a queue that holds more than `limit` bytes (pubsub_remote_queue_limit) hands everything
// over at once, to the s2s connection, where s2s_send_buffer_limit then applies (a peer that cannot
// take it loses the connection and what it held, with a warning and in
// herald_s2s_send_buffer_overflows); the overflow is logged (onOverflow) and counted, and the queue
// holds again what comes after.

import type { PostOptions } from "../../../src/router/router.js";
import { jidHost } from "../../../src/util/jid.js";
import { serialize, type Element } from "../../../src/xml/stanza.js";

export interface PeerQueuesOptions {
  /** Route one stanza (ModuleApi.post). */
  post: (stanza: Element, opts?: PostOptions) => Promise<void>;
  /** Bytes held for one server above which they are handed over regardless (pubsub_remote_queue_limit). */
  limit?: number;
  onError?: (err: unknown) => void;
  /** A queue went over `limit`: its stanzas were handed over without waiting for the peer. */
  onOverflow?: (domain: string, stanzas: number, bytes: number) => void;
}

export const REMOTE_QUEUE_LIMIT = 64 * 1024 * 1024;

interface Queue {
  readonly domain: string;
  /** Waiting for the peer to read (a wait from the router is pending). */
  waiting: boolean;
  /** What waits, from `head` on (taken from the front without shifting a long array). */
  held: Array<{ stanza: Element; bytes: number }>;
  head: number;
  bytes: number;
}

export interface PeerQueueStats {
  /** Stanzas that waited for their server. */
  held: number;
  /** Times a queue went over its limit. */
  overflows: number;
}

export class PeerQueues {
  private readonly queues = new Map<string, Queue>();
  readonly stats: PeerQueueStats = { held: 0, overflows: 0 };
  private readonly limit: number;

  constructor(private readonly opts: PeerQueuesOptions) {
    this.limit = opts.limit ?? REMOTE_QUEUE_LIMIT;
  }

  /**
   * Send `stanza` now, or behind the stanzas waiting for its server. Resolves once it has been
   * handed over (for a local recipient: delivered), or at once when it waits here. Never rejects.
   */
  send(stanza: Element): Promise<void> {
    const q = this.queues.get(jidHost(stanza.attrs.to ?? ""));
    if (q) {
      this.hold(q, stanza);
      return Promise.resolve();
    }
    return this.post(stanza);
  }

  /** Stanzas waiting for their server, over every server. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.held.length - q.head;
    return n;
  }

  /** Stanzas waiting for one server. */
  waitingFor(domain: string): number {
    const q = this.queues.get(domain);
    return q ? q.held.length - q.head : 0;
  }

  private post(stanza: Element): Promise<void> {
    return this.opts.post(stanza, { onCongested: this.congested }).catch((err: unknown) => this.opts.onError?.(err));
  }

  /** The router: `domain`'s connection is congested; `wait` resolves once the peer has caught up. */
  private readonly congested = (domain: string, wait: Promise<void>): void => {
    let q = this.queues.get(domain);
    if (!q) {
      q = { domain, waiting: false, held: [], head: 0, bytes: 0 };
      this.queues.set(domain, q);
    }
    if (q.waiting) return;
    q.waiting = true;
    const queue = q;
    const resume = () => {
      queue.waiting = false;
      this.release(queue);
    };
    void wait.then(resume, resume);
  };

  private hold(q: Queue, stanza: Element): void {
    const bytes = approximateSize(stanza);
    q.held.push({ stanza, bytes });
    q.bytes += bytes;
    this.stats.held++;
    if (q.bytes > this.limit) {
      this.stats.overflows++;
      this.opts.onOverflow?.(q.domain, q.held.length - q.head, q.bytes);
      this.flush(q);
    }
  }

  /** The peer has caught up: send what waits, in order, until it is congested again. */
  private release(q: Queue): void {
    while (q.head < q.held.length && !q.waiting) {
      const { stanza, bytes } = q.held[q.head];
      q.held[q.head++] = undefined as never;
      q.bytes -= bytes;
      void this.post(stanza);
    }
    if (q.head === q.held.length) {
      q.held = [];
      q.head = 0;
    } else if (q.head > 1024 && q.head * 2 > q.held.length) {
      q.held = q.held.slice(q.head);
      q.head = 0;
    }
    if (!q.waiting && this.queues.get(q.domain) === q) this.queues.delete(q.domain);
  }

  /** Over the limit: everything held goes out now, in order, whatever the peer's state. */
  private flush(q: Queue): void {
    const held = q.held.slice(q.head);
    q.held = [];
    q.head = 0;
    q.bytes = 0;
    for (const { stanza } of held) void this.post(stanza);
  }
}

/** Serialized sizes of child elements, measured once: a fan-out's messages share their payload. */
const childSizes = new WeakMap<Element, number>();

/**
 * About the size of `stanza` serialized (escaping aside), without serializing it again for every
 * recipient: its own name and attributes, and each child element's size, measured once.
 */
function approximateSize(stanza: Element): number {
  let n = 2 * stanza.name.length + 5;
  for (const k in stanza.attrs) n += k.length + stanza.attrs[k].length + 4;
  for (const c of stanza.children) {
    if (typeof c === "string") {
      n += c.length;
      continue;
    }
    let size = childSizes.get(c);
    if (size === undefined) {
      size = serialize(c).length;
      childSizes.set(c, size);
    }
    n += size;
  }
  return n;
}
