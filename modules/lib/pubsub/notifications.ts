// Event notifications (XEP-0060 §7.1.2, §7.2.2, §8.2, §8.4.2, §8.5.2, §8.6, §8.8.4, §8.9.4) as
// stanzas. Pure: given a service event, the messages to send. Per event the shared part (the
// <event/> payload with its items) is built once and every recipient's <message/> holds that same
// element by reference; only the envelope (to, id, SHIM headers, body) differs per recipient.

import type {
  AffiliationEvent,
  AuthorizationRequestEvent,
  ConfigurationEvent,
  DeleteEvent,
  ItemsEvent,
  LastItemEvent,
  PubsubEvent,
  Recipient,
  RetractEvent,
  SubscriptionEvent,
} from "../../../src/util/pubsub/index.js";
import { Element } from "../../../src/xml/stanza.js";
import { authorizationForm, nodeConfigResultForm } from "./forms.js";
import { xmppDateTime } from "../../../src/util/datetime.js";
import { NS_DELAY, NS_PUBSUB, NS_PUBSUB_EVENT, NS_SHIM, publisherAttr } from "./xml.js";

export interface NotifierOptions {
  /** The service's address: `from` of every notification. */
  from: string;
  /** expose_publisher (see xml.ts publisherAttr). */
  exposePublisher?: boolean;
  /** Upper bound of max_items, for configuration forms. */
  maxItems: number;
  /** A message id unique within the service (XEP-0060 §12.x: notification ids). */
  nextId: () => string;
}

/** A message body made from a payload (pubsub#include_body, XEP-0060 §12.2). */
export function bodyFromPayload(payload: unknown): string | undefined {
  if (!(payload instanceof Element)) return undefined;
  // Atom (RFC 4287), the usual pubsub payload: the summary, else the title, with the author if given.
  if (payload.name === "entry" && payload.attrs.xmlns === "http://www.w3.org/2005/Atom") {
    const summary = payload.getChildText("summary")?.trim();
    const title = payload.getChildText("title")?.trim();
    const author = payload.getChild("author")?.getChildText("name")?.trim();
    const text = summary || title;
    if (text) return author ? `${author}: ${text}` : text;
  }
  const text = allText(payload).replace(/\s+/g, " ").trim();
  return text === "" ? undefined : text;
}

function allText(el: Element): string {
  let s = "";
  for (const c of el.children) s += typeof c === "string" ? c : ` ${allText(c)} `;
  return s;
}

/** SHIM headers naming the subscriptions a notification is for (XEP-0060 §12.x, XEP-0131). */
function subidHeaders(subids: readonly string[]): Element {
  const headers = new Element("headers", { xmlns: NS_SHIM });
  for (const id of subids) headers.children.push(new Element("header", { name: "SubID" }, [id]));
  return headers;
}

export class Notifier {
  constructor(private readonly opts: NotifierOptions) {}

  /** The messages for one service event, one per recipient. */
  messages(event: PubsubEvent): Element[] {
    switch (event.kind) {
      case "items":
      case "last-item":
        return this.items(event);
      case "retract":
        return this.withEvent(event, this.retractPayload(event), true);
      case "purge":
        return this.withEvent(event, new Element("purge", { node: event.node }), true);
      case "delete":
        return this.withEvent(event, this.deletePayload(event), true);
      case "configuration":
        return this.withEvent(event, this.configurationPayload(event), true);
      case "subscription":
        return this.subscription(event);
      case "authorization-request":
        return this.authorization(event);
      case "affiliation":
        return this.affiliation(event);
    }
  }

  private envelope(to: string, type: string | undefined, children: Element[]): Element {
    const attrs: Record<string, string> = { from: this.opts.from, to, id: this.opts.nextId() };
    if (type !== undefined && type !== "normal") attrs.type = type;
    return new Element("message", attrs, children);
  }

  /** One message per recipient around one shared <event/>; SHIM headers when a JID has several subids. */
  private withEvent(event: PubsubEvent, inner: Element, headers: boolean, extra?: (r: Recipient) => Element[]): Element[] {
    const shared = new Element("event", { xmlns: NS_PUBSUB_EVENT }, [inner]);
    const type = event.config.notificationType;
    return event.recipients.map((r) => {
      const children: Element[] = [shared];
      if (extra) children.push(...extra(r));
      if (headers && r.subids.length > 1) children.push(subidHeaders(r.subids));
      return this.envelope(r.jid, type, children);
    });
  }

  private items(event: ItemsEvent | LastItemEvent): Element[] {
    const { item } = event;
    const items = new Element("items", { node: event.node });
    if (item.id !== undefined) {
      const attrs: Record<string, string> = { id: item.id };
      const publisher = publisherAttr(this.opts.exposePublisher, event.config.itemreply, event.owners, item.publisher);
      if (publisher !== undefined) attrs.publisher = publisher;
      // §7.1.2.1: with payload; notification-only nodes send the item without it.
      items.children.push(new Element("item", attrs, item.payload instanceof Element ? [item.payload] : []));
    }
    let body: Element | undefined | null = null;
    const bodyFor = (r: Recipient): Element[] => {
      const out: Element[] = [];
      if (r.includeBody) {
        if (body === null) {
          const text = bodyFromPayload(item.payload);
          body = text === undefined ? undefined : new Element("body", {}, [text]);
        }
        if (body) out.push(body);
      }
      // XEP-0203 on the last item sent later than its publication (§6.1.7, §12.x).
      if (event.kind === "last-item") out.push(new Element("delay", { xmlns: NS_DELAY, stamp: xmppDateTime(item.published, "milliseconds"), from: this.opts.from }));
      return out;
    };
    return this.withEvent(event, items, true, bodyFor);
  }

  private retractPayload(event: RetractEvent): Element {
    return new Element("items", { node: event.node }, event.ids.map((id) => new Element("retract", { id })));
  }

  private deletePayload(event: DeleteEvent): Element {
    const del = new Element("delete", { node: event.node });
    // §8.4.1: the node that replaces the deleted one.
    if (event.redirect !== undefined) del.children.push(new Element("redirect", { uri: event.redirect }));
    return del;
  }

  private configurationPayload(event: ConfigurationEvent): Element {
    const conf = new Element("configuration", { node: event.node });
    // §8.2.5.2: the form is included on payload-delivering nodes.
    if (event.includeConfig) conf.children.push(nodeConfigResultForm(event.config, this.opts.maxItems));
    return conf;
  }

  /** §8.8.4 / §6.1.4 (to the subscriber) or pubsub#notify_sub (to the owners). */
  private subscription(event: SubscriptionEvent): Element[] {
    const attrs: Record<string, string> = { node: event.node, jid: event.jid, subscription: event.state, subid: event.subid };
    // §12.18: a lease's end travels as 'expiry'.
    if (typeof event.expire === "number") attrs.expiry = xmppDateTime(event.expire, "milliseconds");
    return this.withEvent(event, new Element("subscription", attrs), false);
  }

  /** §8.6: the approval form, as a normal message (it may wait offline for the owner). */
  private authorization(event: AuthorizationRequestEvent): Element[] {
    return event.recipients.map((r) => this.envelope(r.jid, undefined, [authorizationForm(event.node, event.jid, event.subid)]));
  }

  /** §8.9.4 */
  private affiliation(event: AffiliationEvent): Element[] {
    const payload = new Element("pubsub", { xmlns: NS_PUBSUB }, [
      new Element("affiliations", { node: event.node }, [new Element("affiliation", { jid: event.jid, affiliation: event.affiliation })]),
    ]);
    return event.recipients.map((r) => this.envelope(r.jid, event.config.notificationType, [payload]));
  }
}

