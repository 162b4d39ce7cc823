// The broadcaster of one account's PEP service. Besides the node's subscribers (explicit
// subscriptions, XEP-0060 style), item, retract, purge and delete notifications go to every
// entity that advertised "<node>+notify" (XEP-0163 §4.3.2) and may subscribe under the node's
// access model (§4.3.1: presence by default): the account's own resources and its contacts.
// Stanzas are built by mod_pubsub's Notifier, once per event, and posted before the publisher's
// IQ result is sent (Prosody's order; bookmarks2.scs expects the notification first). More than
// FANOUT_CHUNK messages go out in chunks, sharing the pubsub component's time per turn of the event
// loop, events in order.

import type { Broadcaster, NodeConfig, PubsubEvent, Recipient } from "../../src/util/pubsub/index.js";
import { jidBare } from "../../src/util/jid.js";
import { freezeSerialization, type Element } from "../../src/xml/stanza.js";
import type { Notifier } from "../mod_pubsub/notifications.js";
import { FANOUT_CHUNK, nextTurn, turnSpent } from "../mod_pubsub/broadcaster.js";

/** The events filtered notifications apply to (Prosody's subscriber_filter runs on broadcasts). */
const FILTERED_KINDS = new Set<PubsubEvent["kind"]>(["items", "retract", "purge", "delete"]);

export interface PepBroadcasterOptions {
  /** Recipients that advertised "+notify" for this node. */
  interested(node: string): string[];
  /**
   * May `jid` receive events of `node` (the "subscribe" capability under the node's access model)?
   * `config` is the node's configuration at the event (a deleted node has no other).
   */
  mayReceive(node: string, jid: string, config: Readonly<NodeConfig>, deleted: boolean): Promise<boolean>;
  post(stanza: Element): Promise<void>;
  onError?(err: unknown): void;
}

export class PepBroadcaster implements Broadcaster {
  /** Events being posted in chunks, in order; undefined when none. */
  private chain: Promise<void> | undefined;

  constructor(
    private readonly notifier: Notifier,
    private readonly opts: PepBroadcasterOptions,
  ) {}

  async notify(event: PubsubEvent): Promise<void> {
    let recipients: Recipient[] = event.recipients;
    if (FILTERED_KINDS.has(event.kind)) recipients = await this.withInterested(event);
    if (recipients.length === 0) return;
    const messages = this.notifier.messages({ ...event, recipients } as PubsubEvent);
    if (messages.length > 1) {
      const first = messages[0].children[0];
      if (first !== undefined && typeof first !== "string") freezeSerialization(first);
    }
    if (messages.length <= FANOUT_CHUNK && this.chain === undefined) return this.post(messages);
    const run = (this.chain ?? Promise.resolve()).then(async () => {
      for (let at = 0; at < messages.length; at += FANOUT_CHUNK) {
        if (turnSpent()) await nextTurn();
        await this.post(messages.slice(at, at + FANOUT_CHUNK));
      }
    });
    const settled = run.catch((err: unknown) => this.opts.onError?.(err));
    this.chain = settled;
    void settled.then(() => {
      if (this.chain === settled) this.chain = undefined;
    });
    return run;
  }

  private async post(messages: Element[]): Promise<void> {
    await Promise.all(
      messages.map((m) =>
        this.opts.post(m).catch((err: unknown) => {
          this.opts.onError?.(err);
        }),
      ),
    );
  }

  private async withInterested(event: PubsubEvent): Promise<Recipient[]> {
    const out = [...event.recipients];
    const have = new Set(out.map((r) => r.jid));
    const wanting = this.opts.interested(event.node).filter((jid) => !have.has(jid));
    if (wanting.length === 0) return out;
    const allowed = await Promise.all(wanting.map((jid) => this.opts.mayReceive(event.node, jid, event.config, event.kind === "delete")));
    const extra = wanting.filter((_, i) => allowed[i]);
    // A local contact registered by its bare JID (from its own caps answer) gets one copy, not a
    // second one beside the copies its resources receive.
    const full = new Set([...have, ...extra].filter((jid) => jid !== jidBare(jid)).map((jid) => jidBare(jid)));
    for (const jid of extra) if (jid !== jidBare(jid) || !full.has(jid)) out.push({ jid, subids: [] });
    return out;
  }
}
