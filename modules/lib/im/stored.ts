// Stanzas kept for later: which messages offline storage keeps (XEP-0160 §3), how a stanza is kept
// in a store (as JSON), and the XEP-0203 delay element added when it is delivered late. Used by
// mod_offline, mod_cloud_notify (which looks at messages before mod_offline stores them),
// mod_smacks (resent stanzas) and mod_csi_simple (held stanzas).

import type { Json } from "../../../src/storage/types.js";
import { Element } from "../../../src/xml/stanza.js";

export const NS_DELAY = "urn:xmpp:delay";
const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";
const NS_HINTS = "urn:xmpp:hints";

/**
 * XEP-0160 §3: normal and chat messages are stored; groupchat, headline and error are not (those
 * never reach offline storage: mod_message does not offer them).
 *  - "store": keep it;
 *  - "discard": drop it silently: a chat message with nothing but a chat state notification
 *    (XEP-0160 §3: SHOULD NOT be stored; an error for a typing notification helps nobody);
 *  - "refuse": do not store, the sender gets service-unavailable (a `no-store` hint, XEP-0334 §4).
 */
export function offlineVerdict(stanza: Element): "store" | "discard" | "refuse" {
  const type = stanza.attrs.type;
  if (type !== undefined && type !== "normal" && type !== "chat") return "refuse";
  if (stanza.getChild("no-store", NS_HINTS)) return "refuse";
  let content = false;
  let chatState = false;
  for (const child of stanza.childElements()) {
    const ns = child.attrs.xmlns;
    if (ns === NS_CHATSTATES) chatState = true;
    else if (ns !== NS_HINTS && !(ns === undefined && child.name === "thread")) content = true;
  }
  if (chatState && !content) return "discard";
  return "store";
}

/** An element as JSON: [name, attrs, ...children], text children as strings. */
export interface ElementJson extends Array<string | Record<string, string> | ElementJson> {
  0: string;
  1: Record<string, string>;
}

export function elementToJson(el: Element): ElementJson {
  const out = [el.name, { ...el.attrs }] as ElementJson;
  for (const c of el.children) out.push(typeof c === "string" ? c : elementToJson(c));
  return out;
}

export function elementFromJson(j: Json): Element {
  if (!Array.isArray(j) || typeof j[0] !== "string" || typeof j[1] !== "object" || j[1] === null || Array.isArray(j[1])) {
    throw new TypeError("not a stored element");
  }
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(j[1])) if (typeof v === "string") attrs[k] = v;
  const el = new Element(j[0], attrs);
  for (const c of j.slice(2)) el.children.push(typeof c === "string" ? c : elementFromJson(c));
  return el;
}

/** XEP-0082 DateTime in UTC, whole seconds (as Prosody writes it): 2002-09-10T23:08:25Z. */
export function xmppDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** XEP-0203 §3: when and by whom the message was held. */
export function delayElement(from: string, whenMs: number): Element {
  return new Element("delay", { xmlns: NS_DELAY, from, stamp: xmppDateTime(whenMs) });
}
