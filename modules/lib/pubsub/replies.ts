// The component's replies wait until what their request wrote is durable and its notifications are
// posted, without holding up the requester's next stanzas (a publisher's publishes in flight go to
// disk together): they are sent from a chain, in request order. With nothing pending, at once.
//
// This is why mod_pubsub answers the requests that write (XEP-0060 sets) through this chain rather
// than by returning the reply from an iq handler: a handler's promise holds the sender's stanza
// queue until it settles. Requests that only read are answered by iq handlers that first wait for
// the replies already in the chain (settled()), so every reply still goes out in request order.

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

  /** Run `request`, then send its reply (`send`) once durable, in request order; `after` follows it. */
  async answer(request: Element, run: () => Promise<ProtocolResult>, send: (reply: Element) => void): Promise<void> {
    const { store, broadcaster } = this.opts;
    const mark = store.mark();
    const result = await run();
    if (this.chain === undefined && store.mark() === mark && !store.busy && !broadcaster.pending) {
      send(result.reply);
      // After the reply: the last item of a fresh subscription (pubsub_resend_on_sub.scs order).
      if (result.after) await result.after();
      return;
    }
    // Settled at once into a value: a failure waiting behind earlier replies is no unhandled rejection.
    const failure = store.durable(mark).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    const posted = broadcaster.idle();
    const sent = (this.chain ?? Promise.resolve()).then(async () => {
      const failed = await failure;
      if (failed) {
        send(this.opts.failure(request, failed.err));
        return;
      }
      await posted;
      send(result.reply);
      if (result.after) await result.after();
    });
    const tail = sent.catch((err: unknown) => this.opts.onError(err));
    this.chain = tail;
    void tail.then(() => {
      if (this.chain === tail) this.chain = undefined;
    });
  }
}
