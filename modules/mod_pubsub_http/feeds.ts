// A pubsub node's items as web feeds: Atom 1.0 (RFC 4287), RSS 2.0 and JSON Feed 1.1. Items come
// newest first. Atom payloads (<entry xmlns='http://www.w3.org/2005/Atom'/>) pass through as entries
// (with id, title and updated added when they lack them, which RFC 4287 requires); any other payload
// becomes an entry with the item id, the publisher when the node exposes it, the publication time and
// the payload's XML as escaped text content.

import type { StoredItem } from "../../src/util/pubsub/index.js";
import { escapeAttr, escapeText } from "../../src/xml/escape.js";
import { Element, serialize } from "../../src/xml/stanza.js";

export const NS_ATOM = "http://www.w3.org/2005/Atom";

export type FeedFormat = "atom" | "rss" | "json";

export const CONTENT_TYPES: Record<FeedFormat, string> = {
  atom: "application/atom+xml; charset=utf-8",
  rss: "application/rss+xml; charset=utf-8",
  json: "application/feed+json; charset=utf-8",
};

/** One item as the feeds show it. */
export interface FeedItem {
  id: string;
  published: number;
  /** Bare JID, only when the node exposes publishers. */
  publisher?: string;
  payload?: unknown;
}

export interface FeedInfo {
  service: string;
  node: string;
  title: string;
  /** The feed's own URL (with its query), for rel=self. */
  selfUrl: string;
  /** The next (older) page, when there is one. */
  nextUrl?: string;
  items: FeedItem[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const itemUri = (service: string, node: string, id: string) =>
  `xmpp:${service}?;node=${encodeURIComponent(node)};item=${encodeURIComponent(id)}`;

function atomEntryOf(payload: unknown): Element | undefined {
  return payload instanceof Element && payload.name === "entry" && payload.attrs.xmlns === NS_ATOM ? payload : undefined;
}

/** The payload as text: the serialized XML of an element, the string itself, else empty. */
function payloadText(payload: unknown): string {
  if (payload instanceof Element) return serialize(payload);
  if (typeof payload === "string") return payload;
  return "";
}

/** Title and text of an item, from its Atom payload when it has one. */
function summaryOf(item: FeedItem): { title: string; text: string; html?: string } {
  const entry = atomEntryOf(item.payload);
  if (entry) {
    const title = entry.getChild("title")?.getText() || item.id;
    const content = entry.getChild("content") ?? entry.getChild("summary");
    const text = content?.getText() ?? "";
    return { title, text };
  }
  return { title: item.id, text: payloadText(item.payload) };
}

export function atomFeed(f: FeedInfo): string {
  const updated = f.items.length > 0 ? Math.max(...f.items.map((i) => i.published)) : 0;
  const parts: string[] = [
    `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="${NS_ATOM}">`,
    `<id>${escapeText(`xmpp:${f.service}?;node=${encodeURIComponent(f.node)}`)}</id>`,
    `<title>${escapeText(f.title)}</title>`,
    `<updated>${iso(updated)}</updated>`,
    `<author><name>${escapeText(f.service)}</name></author>`,
    `<link rel="self" type="application/atom+xml" href='${escapeAttr(f.selfUrl)}'/>`,
  ];
  if (f.nextUrl) parts.push(`<link rel="next" href='${escapeAttr(f.nextUrl)}'/>`);
  for (const item of f.items) parts.push(atomEntry(f, item));
  parts.push("</feed>\n");
  return parts.join("\n");
}

function atomEntry(f: FeedInfo, item: FeedItem): string {
  const entry = atomEntryOf(item.payload);
  if (entry) {
    // Pass through; add what RFC 4287 §4.1.2 requires and the publisher did not give.
    const copy = new Element(entry.name, { ...entry.attrs }, [...entry.children]);
    if (!copy.getChild("id")) copy.children.unshift(new Element("id", {}, [itemUri(f.service, f.node, item.id)]));
    if (!copy.getChild("title")) copy.children.push(new Element("title", {}, [item.id]));
    if (!copy.getChild("updated")) copy.children.push(new Element("updated", {}, [iso(item.published)]));
    if (!copy.getChild("author") && item.publisher) {
      copy.children.push(new Element("author", {}, [new Element("name", {}, [item.publisher])]));
    }
    return serialize(copy);
  }
  const lines = [
    "<entry>",
    `<id>${escapeText(itemUri(f.service, f.node, item.id))}</id>`,
    `<title>${escapeText(item.id)}</title>`,
    `<updated>${iso(item.published)}</updated>`,
    `<published>${iso(item.published)}</published>`,
  ];
  if (item.publisher) lines.push(`<author><name>${escapeText(item.publisher)}</name></author>`);
  lines.push(`<content type="text">${escapeText(payloadText(item.payload))}</content>`, "</entry>");
  return lines.join("");
}

export function rssFeed(f: FeedInfo): string {
  const updated = f.items.length > 0 ? Math.max(...f.items.map((i) => i.published)) : Date.now();
  const parts: string[] = [
    `<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:atom="${NS_ATOM}" xmlns:dc="http://purl.org/dc/elements/1.1/">`,
    "<channel>",
    `<title>${escapeText(f.title)}</title>`,
    `<link>${escapeText(f.selfUrl)}</link>`,
    `<description>${escapeText(`Items of ${f.node} on ${f.service}`)}</description>`,
    `<lastBuildDate>${new Date(updated).toUTCString()}</lastBuildDate>`,
    `<atom:link rel="self" type="application/rss+xml" href='${escapeAttr(f.selfUrl)}'/>`,
  ];
  if (f.nextUrl) parts.push(`<atom:link rel="next" href='${escapeAttr(f.nextUrl)}'/>`);
  for (const item of f.items) {
    const s = summaryOf(item);
    const lines = [
      "<item>",
      `<title>${escapeText(s.title)}</title>`,
      `<guid isPermaLink="false">${escapeText(itemUri(f.service, f.node, item.id))}</guid>`,
      `<pubDate>${new Date(item.published).toUTCString()}</pubDate>`,
    ];
    if (item.publisher) lines.push(`<dc:creator>${escapeText(item.publisher)}</dc:creator>`);
    lines.push(`<description>${escapeText(s.text)}</description>`, "</item>");
    parts.push(lines.join(""));
  }
  parts.push("</channel>", "</rss>\n");
  return parts.join("\n");
}

/** A JSON Feed 1.1 item (also the data of a Server-Sent Events publish event). */
export function jsonItem(f: Pick<FeedInfo, "service" | "node">, item: FeedItem): Record<string, unknown> {
  const s = summaryOf(item);
  const out: Record<string, unknown> = {
    id: item.id,
    title: s.title,
    content_text: s.text,
    date_published: iso(item.published),
  };
  if (item.publisher) out.authors = [{ name: item.publisher }];
  out._xmpp = { uri: itemUri(f.service, f.node, item.id), payload: payloadText(item.payload) };
  return out;
}

export function jsonFeed(f: FeedInfo): string {
  const feed: Record<string, unknown> = {
    version: "https://jsonfeed.org/version/1.1",
    title: f.title,
    feed_url: f.selfUrl,
  };
  if (f.nextUrl) feed.next_url = f.nextUrl;
  feed.items = f.items.map((i) => jsonItem(f, i));
  return JSON.stringify(feed) + "\n";
}

export function render(format: FeedFormat, f: FeedInfo): string {
  return format === "atom" ? atomFeed(f) : format === "rss" ? rssFeed(f) : jsonFeed(f);
}

/** `?format=` first, then the Accept header; Atom when neither asks for something else. */
export function pickFormat(query: string | null, accept: string | undefined): FeedFormat | undefined {
  if (query !== null) return query === "atom" || query === "rss" || query === "json" ? query : undefined;
  const a = (accept ?? "").toLowerCase();
  const ranked = a
    .split(",")
    .map((part, i) => {
      const [type, ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.q > 0)
    .sort((x, y) => y.q - x.q || x.i - y.i);
  for (const r of ranked) {
    if (r.type === "application/atom+xml") return "atom";
    if (r.type === "application/rss+xml") return "rss";
    if (r.type === "application/feed+json" || r.type === "application/json") return "json";
  }
  return "atom";
}

export function feedItemOf(item: StoredItem, publisher: string | undefined): FeedItem {
  const out: FeedItem = { id: item.id, published: item.published, payload: item.payload };
  if (publisher !== undefined) out.publisher = publisher;
  return out;
}
