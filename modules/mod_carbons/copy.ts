// XEP-0280 pure parts: which messages are copied (§6, with the XEP-0334 no-copy hint) and the
// wrapper of a copy (§7, §8: XEP-0297 forwarding).

import { Element } from "../../src/xml/stanza.js";
import { jidResource } from "../../src/util/jid.js";
import { NS_CARBONS, NS_FORWARD, NS_HINTS, NS_MUC_USER, NS_CLIENT } from "../../src/xml/ns.js";
export { NS_CARBONS, NS_FORWARD };

export const NS_CARBONS_RULES = "urn:xmpp:carbons:rules:0";

export type CarbonDirection = "sent" | "received";

export type CopyReason = "private" | "hint" | "muc-pm" | "type" | "bounce" | "jingle" | "default";

/** XEP-0280 §6: is this message eligible for carbons? `userBare`: the account the copies go to. */
export function shouldCopy(stanza: Element, direction: CarbonDirection, userBare: string): { copy: boolean; reason: CopyReason } {
  // §9: <private/> excludes the message.
  if (stanza.getChild("private", NS_CARBONS)) return { copy: false, reason: "private" };
  // XEP-0334 §4: the no-copy hint.
  if (stanza.getChild("no-copy", NS_HINTS)) return { copy: false, reason: "hint" };
  // §6: nothing sent by a MUC, private messages from occupants included (they come to a full JID).
  if (direction === "received" && stanza.attrs.to !== userBare && stanza.getChild("x", NS_MUC_USER)) {
    return { copy: false, reason: "muc-pm" };
  }
  const type = stanza.attrs.type ?? "normal";
  // §6: chat, and normal with a body.
  if (type === "chat") return { copy: true, reason: "type" };
  if (type === "normal" && stanza.getChild("body")) return { copy: true, reason: "type" };
  // §6: errors answering a copied message; outgoing chats go to bare JIDs, so their bounces come from one.
  if (type === "error" && direction === "received" && stanza.attrs.from !== undefined && jidResource(stanza.attrs.from) === undefined) {
    return { copy: true, reason: "bounce" };
  }
  // XEP-0353 call signalling is part of the conversation too.
  if (stanza.getChildByNs("urn:xmpp:jingle-message:0") || stanza.getChildByNs("urn:xmpp:jingle-message:1")) {
    return { copy: true, reason: "jingle" };
  }
  return { copy: false, reason: "default" };
}

/** The message without its <private/> element (§9: removed before delivery to the recipient). */
export function withoutPrivate(stanza: Element): Element {
  const out = stanza.shallowClone();
  out.children = stanza.children.filter((c) => typeof c === "string" || !(c.name === "private" && (c.attrs.xmlns ?? stanza.attrs.xmlns) === NS_CARBONS));
  return out;
}

/** §7 / §8: the copy for one resource: from the bare JID, same type, the original forwarded inside. */
export function carbonCopy(stanza: Element, direction: CarbonDirection, userBare: string, toFullJid: string): Element {
  const inner = stanza.clone();
  inner.attrs.xmlns = NS_CLIENT;
  const attrs: Record<string, string> = { from: userBare, to: toFullJid };
  if (stanza.attrs.type !== undefined) attrs.type = stanza.attrs.type;
  return new Element("message", attrs).tag(direction, { xmlns: NS_CARBONS }).tag("forwarded", { xmlns: NS_FORWARD }).add(inner).up().up();
}
