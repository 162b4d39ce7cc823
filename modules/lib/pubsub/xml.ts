// XML helpers of the pubsub protocol layer: namespaces, error stanzas with their pubsub#errors
// child, the `publisher` attribute rule and payload facts (size). Stored payloads use
// src/xml/json.ts.

import { errorSpec, PUBSUB_ERRORS_NS, type ItemReply, type PubsubFailure } from "../../../src/util/pubsub/index.js";
import { Element, errorReply, NS_STANZAS } from "../../../src/xml/stanza.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = PUBSUB_ERRORS_NS;
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_RSM = "http://jabber.org/protocol/rsm";
export const NS_COMMANDS = "http://jabber.org/protocol/commands";
export const NS_SHIM = "http://jabber.org/protocol/shim";
export const NS_DELAY = "urn:xmpp:delay";
export const NS_DATA = "jabber:x:data";

export const FORM_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
export const FORM_SUBSCRIBE_OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options";
export const FORM_PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
export const FORM_META_DATA = "http://jabber.org/protocol/pubsub#meta-data";
export const FORM_SUBSCRIBE_AUTHORIZATION = "http://jabber.org/protocol/pubsub#subscribe_authorization";
export const NODE_GET_PENDING = "http://jabber.org/protocol/pubsub#get-pending";

/** A failure as an error reply: RFC 6120 condition, optional text, pubsub#errors child (XEP-0060 §11). */
export function pubsubErrorReply(stanza: Element, failure: Pick<PubsubFailure, "error" | "text" | "feature">, payload?: Element): Element {
  const spec = errorSpec(failure);
  let app: Element | undefined;
  if (spec.pubsubError !== undefined) {
    app = new Element(spec.pubsubError, spec.feature !== undefined ? { xmlns: NS_PUBSUB_ERRORS, feature: spec.feature } : { xmlns: NS_PUBSUB_ERRORS });
  }
  const reply = errorReply(stanza, spec.type, spec.condition, failure.text, app);
  // XEP-0060 §8.8.2.4, §8.9.2.4: the entries that failed go back with the error.
  if (payload) reply.children.unshift(payload);
  return reply;
}

/** A plain stanza error (bad-request for malformed requests and the like). */
export function plainError(stanza: Element, type: "cancel" | "modify" | "auth" | "wait", condition: string, text?: string): Element {
  return errorReply(stanza, type, condition, text);
}

/** `<unsupported feature='x'/>` with feature-not-implemented (XEP-0060 §11). */
export function unsupported(stanza: Element, feature: string): Element {
  return pubsubErrorReply(stanza, { error: "unsupported", feature });
}

export { NS_STANZAS };

/**
 * The `publisher` attribute of an item (XEP-0060 §7.1.2): expose_publisher true always shows the
 * publisher, false never; unset, the node's pubsub#itemreply decides (publisher: the publisher's
 * JID; owner: the node owner's, as the option's label says).
 */
export function publisherAttr(
  exposePublisher: boolean | undefined,
  itemreply: ItemReply,
  owners: readonly string[],
  publisher: string,
): string | undefined {
  if (exposePublisher === true) return publisher;
  if (exposePublisher === false) return undefined;
  if (itemreply === "publisher") return publisher;
  if (itemreply === "owner") return owners[0];
  return undefined;
}

/** Element children only; non-whitespace text makes `text` true. */
export function elementChildren(el: Element): { elements: Element[]; text: boolean } {
  const elements: Element[] = [];
  let text = false;
  for (const c of el.children) {
    if (typeof c === "string") {
      if (c.trim() !== "") text = true;
    } else elements.push(c);
  }
  return { elements, text };
}

/** Serialized size in bytes (UTF-8), for pubsub#max_payload_size (XEP-0060 §7.1.3.4). */
export function byteSize(el: Element): number {
  return Buffer.byteLength(el.toString(), "utf8");
}

/** XEP-0004 boolean attribute/field value (true/1, false/0); undefined when absent or invalid. */
export function parseXsBoolean(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t === "1" || t === "true") return true;
  if (t === "0" || t === "false") return false;
  return undefined;
}
