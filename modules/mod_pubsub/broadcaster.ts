// The broadcaster of a pubsub service: turns service events into stanzas (notifications.ts) and
// hands them to the router. Fan-out is cheap per recipient: the <event/> payload is built once per
// event and shared by reference, no storage is read, and the posts run concurrently; the returned
// promise settles once every message has been handed over, so a publisher's IQ result follows its
// notifications (Prosody's order, relied on by the scansion scripts).

import { freezeSerialization } from "../../src/xml/stanza.js";
import type { Element } from "../../src/xml/stanza.js";
import type { Broadcaster, PubsubEvent } from "../../src/util/pubsub/index.js";
import type { Notifier } from "./notifications.js";


export interface BroadcasterOptions {
  /** Send one stanza; resolves once it has been handed over (ModuleApi.post). */
  post: (stanza: Element) => Promise<void>;
  /** XEP-0060 §8.9.4 "MAY": tell entities of affiliation changes (default true). */
  notifyAffiliations?: boolean;
  onError?: (err: unknown) => void;
}

export interface BroadcastStats {
  events: number;
  messages: number;
  /** Distinct <event/> payload elements built (one per event, whatever the number of recipients). */
  sharedPayloads: number;
}

export class StanzaBroadcaster implements Broadcaster {
  readonly stats: BroadcastStats = { events: 0, messages: 0, sharedPayloads: 0 };
  /** Listeners that see every message built (tests, benchmarks). */
  readonly taps: Array<(messages: readonly Element[], event: PubsubEvent) => void> = [];

  constructor(
    private readonly notifier: Notifier,
    private readonly opts: BroadcasterOptions,
  ) {}

  async notify(event: PubsubEvent): Promise<void> {
    if (event.kind === "affiliation" && this.opts.notifyAffiliations === false) return;
    if (event.recipients.length === 0) return;
    const messages = this.notifier.messages(event);
    this.stats.events++;
    this.stats.messages += messages.length;
    const shared = new Set<Element>();
    for (const m of messages) {
      const first = m.children[0];
      if (typeof first !== "string" && first !== undefined) shared.add(first);
    }
    this.stats.sharedPayloads += shared.size;
    if (messages.length > 1) for (const el of shared) freezeSerialization(el);
    for (const tap of this.taps) tap(messages, event);
    const onError = this.opts.onError;
    await Promise.all(
      messages.map((m) =>
        this.opts.post(m).catch((err: unknown) => {
          onError?.(err);
        }),
      ),
    );
  }
}
