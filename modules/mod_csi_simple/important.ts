// Which stanzas an inactive client (XEP-0352) gets at once, and which can wait: the rules of
// Prosody's mod_csi_simple, as a pure function.

import type { Element } from "../../src/xml/stanza.js";
import { NS_CARBONS, NS_FORWARD, NS_CLIENT, NS_CONFERENCE, NS_MUC_USER } from "../../src/xml/ns.js";

/** An entry of `csi_important_payloads`: "{namespace}" (any element in it) or "{namespace}name". */
export interface PayloadPattern {
  ns: string;
  name?: string;
}

/** Parse `csi_important_payloads` entries; entries that are not "{ns}" or "{ns}name" are returned as invalid. */
export function parsePayloadPatterns(entries: readonly string[]): { patterns: PayloadPattern[]; invalid: string[] } {
  const patterns: PayloadPattern[] = [];
  const invalid: string[] = [];
  for (const e of entries) {
    const m = /^\{([^}]+)\}(.*)$/.exec(e);
    if (!m) invalid.push(e);
    else patterns.push(m[2] === "" ? { ns: m[1] } : { ns: m[1], name: m[2] });
  }
  return { patterns, invalid };
}

/** Payloads that make a message worth waking the client for, whatever else it carries. */
const IMPORTANT_PAYLOADS: PayloadPattern[] = [
  { ns: "urn:xmpp:eme:0", name: "encryption" }, // XEP-0380: an encrypted message, contents unknown
  { ns: "eu.siacs.conversations.axolotl", name: "encrypted" }, // OMEMO (legacy namespace)
  { ns: "urn:xmpp:omemo:2", name: "encrypted" }, // OMEMO
  { ns: "jabber:x:encrypted", name: "x" }, // XEP-0027
  { ns: "urn:xmpp:openpgp:0", name: "openpgp" }, // XEP-0373
  { ns: NS_CONFERENCE, name: "x" }, // XEP-0249 invitation
  { ns: "urn:xmpp:jingle-message:0" }, // XEP-0353 call signalling
];

function hasPayload(stanza: Element, p: PayloadPattern): boolean {
  for (const c of stanza.childElements()) {
    if ((c.attrs.xmlns ?? stanza.attrs.xmlns) !== p.ns) continue;
    if (p.name === undefined || c.name === p.name) return true;
  }
  return false;
}

/**
 * Is this stanza important enough to send to an inactive client now? With the reason, for the log.
 * Presence updates, headlines and messages without a body (chat states, receipts, markers) wait;
 * iq, errors, subscription requests, messages with a body or subject, carbons of sent messages,
 * encrypted payloads, invitations and call signalling do not.
 */
export function isImportant(stanza: Element, extra: readonly PayloadPattern[] = []): { important: boolean; reason: string } {
  if (stanza.attrs.xmlns !== undefined && stanza.attrs.xmlns !== NS_CLIENT) return { important: true, reason: "nonza" };
  const type = stanza.attrs.type;
  if (stanza.name === "presence") {
    if (type === undefined || type === "unavailable" || type === "error") return { important: false, reason: "presence update" };
    return { important: true, reason: "subscription request" };
  }
  if (stanza.name !== "message") return { important: true, reason: stanza.name };
  if (type === "headline") return { important: false, reason: "headline" };
  if (type === "error") return { important: true, reason: "delivery failure" };
  if (stanza.getChild("sent", NS_CARBONS)) return { important: true, reason: "carbon" };
  let msg = stanza;
  const forwarded = stanza.getChild("received", NS_CARBONS)?.getChild("forwarded", NS_FORWARD)?.getChild("message", NS_CLIENT);
  if (forwarded) msg = forwarded;
  if (msg.getChild("body")) return { important: true, reason: "body" };
  if (msg.getChild("subject")) return { important: true, reason: "subject" };
  if (msg.getChild("x", NS_MUC_USER)?.getChild("invite")) return { important: true, reason: "invite" };
  for (const p of IMPORTANT_PAYLOADS) if (hasPayload(msg, p)) return { important: true, reason: p.ns };
  for (const p of extra) if (hasPayload(msg, p)) return { important: true, reason: "csi_important_payloads" };
  return { important: false, reason: "no body" };
}
