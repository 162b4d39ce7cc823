// The component's replies wait until what their request wrote is durable and the notifications of
// the events before it are posted (its own too when the requester is among their recipients: a
// publisher's own notification comes before its result, Prosody's order), without holding up the
// requester's next stanzas (a publisher's publishes in flight go to disk together): they are sent
// from a chain, in request order. With nothing pending, at once.
//
// mod_pubsub's handlers for requests that write (XEP-0060 sets) return reply()'s `later` as a
// LaterAnswer: a handler's own promise would hold the sender's stanza queue until it settled.
// Requests that only read first wait for the replies already in the chain (settled()), so every
// reply still goes out in request order.

import type { Element } from "../../../src/xml/stanza.js";
import type { ProtocolResult } from "./context.js";

export interface DurabilitySource {
  /** A position in the write-behind queue (HeraldPubsubStore.mark). */
  mark(): number;
  /** Are items queued and not yet written? */
  readonly busy: boolean;
  /** Resolves once everything queued after `since` is durable; rejects if some of it failed. */
  durable(since: number): Promise<void>;
}

export interface PostingSource {
  /** Are notifications waiting to be posted? */
  readonly pending: boolean;
  /** Resolves once every notification handed over so far is posted. */
  idle(): Promise<void>;
  /** Is a notification to this JID's account still waiting to be posted? */
  waitsFor(jid: string): boolean;
}

export interface DurableRepliesOptions {
  store: DurabilitySource;
  broadcaster: PostingSource;
  /** The reply to `request` when the items it wrote could not be stored. */
  failure(request: Element, err: unknown): Element;
  /** A failure of the chain itself (a send or an after-action that threw). */
  onError(err: unknown): void;
}

export class DurableReplies {
  /** The replies waiting, in request order; undefined when none is. */
  private chain: Promise<void> | undefined;

  constructor(private readonly opts: DurableRepliesOptions) {}

  /** Resolves once every reply handed to answer() so far has been sent. */
  settled(): Promise<void> {
    return this.chain ?? Promise.resolve();
  }

  /**
   * As answer(), for an iq handler that returns its reply: with nothing pending, the result itself
   * (`now`, sent by the handler's return); else `later`, settled in request order once durable, and
   * `afterSent`, which the handler runs after the reply is out (module.iq's afterReply): it runs the
   * result's after-action and lets the next reply in the chain go.
   */
  async reply(
    request: Element,
    run: () => Promise<ProtocolResult>,
  ): Promise<{ now: ProtocolResult } | { later: Promise<ProtocolResult>; afterSent: () => Promise<void> }> {
    const { store, broadcaster } = this.opts;
    const mark = store.mark();
    // The fan-outs of the events before this request: its reply waits for them (see below).
    const earlier = broadcaster.idle();
    const result = await run();
    if (this.chain === undefined && store.mark() === mark && !store.busy && !broadcaster.pending) return { now: result };
    const failure = store.durable(mark).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    // The requester's own notifications go out before its reply (Prosody's order). With none of them
    // waiting, the reply waits only for the fan-outs of the events before its request, not for its
    // own: a publisher with several publishes in flight gets each result one fan-out earlier and
    // sends its next publish while the others' notifications are being posted, and is still held
    // back once it publishes faster than the fan-out goes out (the backlog stays one event deep).
    const posted = broadcaster.waitsFor(request.attrs.from ?? "") ? broadcaster.idle() : earlier;
    let deliver!: (r: ProtocolResult) => void;
    const later = new Promise<ProtocolResult>((resolve) => (deliver = resolve));
    let sentDone!: () => void;
    const sent = new Promise<void>((resolve) => (sentDone = resolve));
    const step = (this.chain ?? Promise.resolve()).then(async () => {
      const failed = await failure;
      if (failed) deliver({ reply: this.opts.failure(request, failed.err) });
      else {
        await posted;
        deliver(result);
      }
      await sent;
    });
    const tail = step.catch((err: unknown) => this.opts.onError(err));
    this.chain = tail;
    void tail.then(() => {
      if (this.chain === tail) this.chain = undefined;
    });
    const afterSent = async () => {
      try {
        const delivered = await later;
        if (delivered.after) await delivered.after();
      } finally {
        sentDone();
      }
    };
    return { later, afterSent };
  }
}
