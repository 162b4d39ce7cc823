// Bookmarks in their two shapes: XEP-0402 (one PEP item per room in `urn:xmpp:bookmarks:1`, the id
// being the room's JID) and XEP-0048 (one `<storage xmlns='storage:bookmarks'>` with a
// `<conference/>` per room, kept in private XML storage or in the PEP node `storage:bookmarks`).
// XEP-0048's URL bookmarks have no XEP-0402 form and are not carried over.

import { Element } from "../../src/xml/stanza.js";

export const NS_BOOKMARKS2 = "urn:xmpp:bookmarks:1";
export const NS_LEGACY = "storage:bookmarks";

export interface Bookmark {
  jid: string;
  name?: string;
  autojoin: boolean;
  nick?: string;
  password?: string;
  /** XEP-0402 <extensions/>, kept when a legacy client rewrites the list. */
  extensions?: Element;
}

const truthy = (v: string | undefined) => v === "true" || v === "1";

/** The bookmarks of a legacy <storage/>, in order; one per room JID (the last wins). */
export function fromLegacy(storage: Element): Bookmark[] {
  const byJid = new Map<string, Bookmark>();
  for (const c of storage.childElements("conference")) {
    const jid = c.attrs.jid;
    if (!jid) continue;
    byJid.set(jid, {
      jid,
      name: c.attrs.name,
      autojoin: truthy(c.attrs.autojoin),
      nick: c.getChildText("nick"),
      password: c.getChildText("password"),
    });
  }
  return [...byJid.values()];
}

/** A XEP-0402 item: its id and payload. */
export function fromItem(id: string, payload: unknown): Bookmark | undefined {
  if (!(payload instanceof Element) || payload.name !== "conference" || payload.attrs.xmlns !== NS_BOOKMARKS2) return undefined;
  return {
    jid: id,
    name: payload.attrs.name,
    autojoin: truthy(payload.attrs.autojoin),
    nick: payload.getChildText("nick"),
    password: payload.getChildText("password"),
    extensions: payload.getChild("extensions"),
  };
}

/** A <conference/> with the bookmark's name, autojoin, nick and password, after `attrs` (its namespace, or its JID). */
function conference(b: Bookmark, attrs: Record<string, string>): Element {
  if (b.name !== undefined) attrs.name = b.name;
  if (b.autojoin) attrs.autojoin = "true";
  const c = new Element("conference", attrs);
  if (b.nick !== undefined) c.textTag("nick", b.nick);
  if (b.password !== undefined) c.textTag("password", b.password);
  return c;
}

export function toPayload(b: Bookmark): Element {
  const c = conference(b, { xmlns: NS_BOOKMARKS2 });
  if (b.extensions) c.add(b.extensions.clone());
  return c;
}

export function toLegacy(bookmarks: readonly Bookmark[]): Element {
  const storage = new Element("storage", { xmlns: NS_LEGACY });
  for (const b of bookmarks) storage.add(conference(b, { jid: b.jid }));
  return storage;
}

/** Same as far as XEP-0048 can tell (extensions aside). */
export function sameBookmark(a: Bookmark, b: Bookmark): boolean {
  return a.jid === b.jid && a.name === b.name && a.autojoin === b.autojoin && a.nick === b.nick && a.password === b.password;
}
