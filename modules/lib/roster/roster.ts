// The roster, as data: items, roster sets parsed and checked (§2.3.3), items rendered as XML
// (§2.1). The subscription state machine is in subscription.ts. No I/O here; manager.ts stores it.

import type { Json } from "../../../src/storage/types.js";
import { elementFromJson as decodeElement, upgradeElementJson, type ElementJson } from "../../../src/xml/json.js";
import { Element } from "../../../src/xml/stanza.js";
import { jidBare, jidPrep, jidResource } from "../../../src/util/jid.js";
import type { ContactState } from "./subscription.js";

export const NS_ROSTER = "jabber:iq:roster";
export const NS_ROSTERVER = "urn:xmpp:features:rosterver"; // XEP-0237 / RFC 6121 §2.6.1
export const NS_PREAPPROVAL = "urn:xmpp:features:pre-approval"; // RFC 6121 §3.4.1

export type Subscription = "none" | "to" | "from" | "both";

/** A roster item as other modules see it (RosterService.contact() / items()). */
export interface RosterItem {
  jid: string;
  name?: string;
  subscription: Subscription;
  ask?: "subscribe";
  groups: string[];
  /** RFC 6121 §3.4: the user pre-approved a subscription request from this contact. */
  approved?: true;
}

/** The stored form of an item (the map key is the contact's bare JID). */
export type StoredItem = Omit<RosterItem, "jid">;

/** Whole stanzas are kept (RFC 6121 §3.1.3: the full request) in the stores' element form (src/xml/json.ts). */
export type JsonElement = ElementJson;
export { elementToJson } from "../../../src/xml/json.js";

/** A stored stanza back (check it with isJsonElement first). */
export function elementFromJson(j: JsonElement): Element {
  const el = decodeElement(j);
  if (!el) throw new TypeError("not a stored element");
  return el;
}

export function isJsonElement(v: unknown): v is JsonElement {
  return decodeElement(v) !== undefined;
}

/**
 * A stored roster record in today's form: the user's meta (key "") kept its pending subscription
 * requests as { n, a, c } objects before the stores had one element form (ELEMENT_JSON_VERSION).
 */
export function upgradeRosterRecord(value: Json): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const pending = value.pending;
  if (typeof pending !== "object" || pending === null || Array.isArray(pending)) return value;
  const upgraded: Record<string, Json> = {};
  for (const [jid, stanza] of Object.entries(pending)) upgraded[jid] = upgradeElementJson(stanza);
  return { ...value, pending: upgraded };
}

export function contactState(item: StoredItem | undefined, pendingIn: boolean): ContactState {
  return {
    subscription: item?.subscription ?? "none",
    pendingOut: item?.ask === "subscribe",
    pendingIn,
    approved: item?.approved === true,
  };
}

/** The stored item after a transition, or undefined when there is (still) no need for one. */
export function itemAfter(item: StoredItem | undefined, next: ContactState): StoredItem | undefined {
  if (!item && next.subscription === "none" && !next.pendingOut && !next.approved) return undefined;
  const out: StoredItem = { subscription: next.subscription, groups: item?.groups ?? [] };
  if (item?.name !== undefined) out.name = item.name;
  if (next.pendingOut) out.ask = "subscribe";
  if (next.approved) out.approved = true;
  return out;
}

export function publicItem(jid: string, item: StoredItem): RosterItem {
  const out: RosterItem = { jid, subscription: item.subscription, groups: [...item.groups] };
  if (item.name !== undefined) out.name = item.name;
  if (item.ask) out.ask = item.ask;
  if (item.approved) out.approved = true;
  return out;
}

/** Subscription lets the contact see the user's presence (RFC 6121 §4.2.2 broadcast targets). */
export function contactSeesUser(sub: Subscription | undefined): boolean {
  return sub === "from" || sub === "both";
}

/** Subscription lets the user see the contact's presence (RFC 6121 §4.2.2 probe targets). */
export function userSeesContact(sub: Subscription | undefined): boolean {
  return sub === "to" || sub === "both";
}

/**
 * Does this roster item (RosterService.contact's answer) mean the contact sees the user's presence
 * (subscription "from" or "both", RFC 6121 §3)? No item (or no roster service): no.
 */
export function seesPresence(item: RosterItem | null | undefined): boolean {
  return contactSeesUser(item?.subscription);
}

// ---------------------------------------------------------------------------------------------
// XML: items (§2.1.2) and roster sets (§2.3, §2.5)
// ---------------------------------------------------------------------------------------------

/** An <item/> for a roster result or push; `null` item: a removal push (§2.5.2). */
export function itemElement(jid: string, item: StoredItem | null): Element {
  if (item === null) return new Element("item", { jid, subscription: "remove" });
  const attrs: Record<string, string> = { jid };
  if (item.name !== undefined) attrs.name = item.name;
  attrs.subscription = item.subscription;
  if (item.ask) attrs.ask = item.ask;
  if (item.approved) attrs.approved = "true";
  const el = new Element("item", attrs);
  for (const g of item.groups) el.children.push(new Element("group", {}, [g]));
  return el;
}

export interface RosterLimits {
  maxNameLength: number;
  maxGroupLength: number;
  maxGroups: number;
}

export const DEFAULT_LIMITS: RosterLimits = { maxNameLength: 1023, maxGroupLength: 1023, maxGroups: 100 };

export type RosterSetRequest =
  | { ok: true; action: "remove"; jid: string }
  | { ok: true; action: "update"; jid: string; name?: string; groups: string[] }
  | { ok: false; type: "modify" | "cancel"; condition: string; text: string };

/** Parse and check a roster set's <query/> (RFC 6121 §2.3.3, §2.5). `self` is the user's bare JID. */
export function parseRosterSet(query: Element, self: string, limits: RosterLimits = DEFAULT_LIMITS): RosterSetRequest {
  const items = query.childElements();
  // §2.3.3: exactly one <item/>.
  if (items.length !== 1 || items[0].name !== "item" || (items[0].attrs.xmlns ?? NS_ROSTER) !== NS_ROSTER) {
    return { ok: false, type: "modify", condition: "bad-request", text: "A roster set carries exactly one item" };
  }
  const item = items[0];
  const raw = item.attrs.jid;
  if (raw === undefined) return { ok: false, type: "modify", condition: "bad-request", text: "The item has no jid" };
  const jid = jidPrep(raw);
  if (jid === undefined) return { ok: false, type: "modify", condition: "jid-malformed", text: "The item's jid is not a valid JID" };
  if (jidResource(jid) !== undefined) {
    return { ok: false, type: "modify", condition: "bad-request", text: "Roster items are bare JIDs" };
  }
  if (jidBare(jid) === self) {
    // Not defined by RFC 6121: the user's own presence needs no roster item (Prosody refuses too).
    return { ok: false, type: "cancel", condition: "not-allowed", text: "You cannot add yourself to your roster" };
  }
  // §2.1.2.5: "remove" is the only subscription value a client may set; others are ignored.
  if (item.attrs.subscription === "remove") return { ok: true, action: "remove", jid };

  let name: string | undefined = item.attrs.name;
  if (name === "") name = undefined;
  if (name !== undefined && name.length > limits.maxNameLength) {
    return { ok: false, type: "modify", condition: "not-acceptable", text: "The name is too long" };
  }
  const groups: string[] = [];
  for (const g of item.childElements("group")) {
    const text = g.getText();
    // §2.3.3: an empty group is not acceptable, a duplicate one is a bad request.
    if (text.trim() === "") return { ok: false, type: "modify", condition: "not-acceptable", text: "Empty group name" };
    if (text.length > limits.maxGroupLength) return { ok: false, type: "modify", condition: "not-acceptable", text: "A group name is too long" };
    if (groups.includes(text)) return { ok: false, type: "modify", condition: "bad-request", text: `Duplicate group '${text}'` };
    groups.push(text);
  }
  if (groups.length > limits.maxGroups) return { ok: false, type: "modify", condition: "not-acceptable", text: "Too many groups" };
  return name === undefined ? { ok: true, action: "update", jid, groups } : { ok: true, action: "update", jid, name, groups };
}

/** The stored item after a roster set: name and groups from the client, the rest kept (§2.1.2). */
export function applyRosterSet(existing: StoredItem | undefined, name: string | undefined, groups: string[]): StoredItem {
  const out: StoredItem = { subscription: existing?.subscription ?? "none", groups: [...groups] };
  if (name !== undefined) out.name = name;
  if (existing?.ask) out.ask = existing.ask;
  if (existing?.approved) out.approved = true;
  return out;
}

export function sameItem(a: StoredItem | undefined, b: StoredItem | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.name === b.name &&
    a.subscription === b.subscription &&
    a.ask === b.ask &&
    a.approved === b.approved &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}

/** Read a stored item defensively (the store holds JSON written by this module or an importer). */
export function readStoredItem(v: unknown): StoredItem | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const sub = o.subscription;
  if (sub !== "none" && sub !== "to" && sub !== "from" && sub !== "both") return undefined;
  const out: StoredItem = { subscription: sub, groups: Array.isArray(o.groups) ? o.groups.filter((g): g is string => typeof g === "string") : [] };
  if (typeof o.name === "string") out.name = o.name;
  if (o.ask === "subscribe") out.ask = "subscribe";
  if (o.approved === true) out.approved = true;
  return out;
}
