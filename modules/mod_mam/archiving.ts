// Which messages go into an account's archive and in what form (pure parts of mod_mam).

import { jidPrep, jidResource } from "../../src/util/jid.js";
import type { Json } from "../../src/storage/types.js";
import { elementToJson } from "../../src/xml/json.js";
import { Element } from "../../src/xml/stanza.js";
import { NS_HINTS, NS_CONFERENCE, NS_MUC_USER, NS_STANZA_ID } from "../../src/xml/ns.js";

/** The archive store's name (Prosody's `archive_store` default). */
export const DEFAULT_ARCHIVE_STORE = "archive";

export type ArchiveReason =
  | "headline"
  | "bounce"
  | "groupchat"
  | "hint"
  | "body"
  | "subject"
  | "encrypted"
  | "receipt"
  | "marker"
  | "invite"
  | "jingle"
  | "default";

/**
 * XEP-0313 §5.1.1 leaves the choice to the server; these are Prosody's rules: conversation
 * messages (a body, a subject, encryption, receipts, markers, invitations, call signalling) are
 * kept; headlines (ephemeral), groupchat (the room archives those) and messages with a XEP-0334
 * no-store or no-permanent-store hint are not; an explicit store hint keeps anything. Errors are
 * kept only when they come to a resource (a bounce of something the user sent).
 */
export function shouldArchive(stanza: Element): { archive: boolean; reason: ArchiveReason } {
  const type = stanza.attrs.type ?? "normal";
  if (type === "headline") return { archive: false, reason: "headline" };
  if (type === "error") return { archive: stanza.attrs.to !== undefined && jidResource(stanza.attrs.to) !== undefined, reason: "bounce" };
  if (type === "groupchat") return { archive: false, reason: "groupchat" };
  if (stanza.getChild("no-store", NS_HINTS) || stanza.getChild("no-permanent-store", NS_HINTS)) return { archive: false, reason: "hint" };
  if (stanza.getChild("store", NS_HINTS)) return { archive: true, reason: "hint" };
  if (stanza.getChild("body")) return { archive: true, reason: "body" };
  if (stanza.getChild("subject")) return { archive: true, reason: "subject" };
  if (stanza.getChild("encryption", "urn:xmpp:eme:0")) return { archive: true, reason: "encrypted" };
  if (stanza.getChildByNs("urn:xmpp:receipts")) return { archive: true, reason: "receipt" };
  if (stanza.getChildByNs("urn:xmpp:chat-markers:0")) return { archive: true, reason: "marker" };
  if (stanza.getChild("x", NS_CONFERENCE) || stanza.getChild("x", NS_MUC_USER)?.getChild("invite")) {
    return { archive: true, reason: "invite" };
  }
  if (stanza.getChildByNs("urn:xmpp:jingle-message:0") || stanza.getChildByNs("urn:xmpp:jingle-message:1")) return { archive: true, reason: "jingle" };
  return { archive: false, reason: "default" };
}

const isStanzaIdBy = (c: Element | string, byBare: string): c is Element =>
  typeof c !== "string" && c.name === "stanza-id" && c.attrs.xmlns === NS_STANZA_ID && c.attrs.by !== undefined && jidPrep(c.attrs.by) === byBare;

/** The id of the stanza's <stanza-id/> by `byBare` (the first, when there are several). */
export function stanzaIdBy(stanza: Element, byBare: string): string | undefined {
  const c = stanza.children.find((c) => isStanzaIdBy(c, byBare));
  return c === undefined || typeof c === "string" ? undefined : c.attrs.id;
}

/**
 * XEP-0359 §3: a <stanza-id/> whose `by` is this archive's JID can only be trusted when this
 * server put it there, so any that arrive with the message are removed. A copy when something
 * is removed; the stanza itself otherwise.
 */
export function withoutStanzaIdsBy(stanza: Element, byBare: string): Element {
  const ours = (c: Element | string) => isStanzaIdBy(c, byBare);
  if (!stanza.children.some(ours)) return stanza;
  const out = stanza.shallowClone();
  out.children = stanza.children.filter((c) => !ours(c));
  return out;
}

/** The stanza with our <stanza-id/> added (a copy: the original may be someone else's). */
export function withStanzaId(stanza: Element, byBare: string, id: string): Element {
  const out = stanza.shallowClone();
  out.children = [...stanza.children, new Element("stanza-id", { xmlns: NS_STANZA_ID, by: byBare, id })];
  return out;
}

/**
 * What is kept: the message without children in `dontArchive` namespaces (chat states by default,
 * Prosody's `dont_archive_namespaces`); undefined when nothing would be left.
 */
export function archivedCopy(stanza: Element, dontArchive: ReadonlySet<string>): Element | undefined {
  const out = stanza.shallowClone();
  out.children = stanza.children.filter((c) => typeof c === "string" || c.attrs.xmlns === undefined || !dontArchive.has(c.attrs.xmlns));
  if (!out.children.some((c) => typeof c !== "string")) return undefined;
  return out;
}

/**
 * A message as an archive item's value (what mod_mam writes and `herald import prosody` writes for
 * Prosody's archives). Its language is made explicit (RFC 6120 §4.7.4: a stanza without xml:lang
 * has its stream's, "en" on Herald's streams), since the archived copy is later read inside
 * another stream; the stream namespace is left out.
 */
export function archiveValue(message: Element): Json {
  const out = message.shallowClone();
  if (out.attrs["xml:lang"] === undefined) out.attrs["xml:lang"] = "en";
  delete out.attrs.xmlns;
  return elementToJson(out);
}
