// XEP-0313 on a pubsub node (§5, "Querying a PubSub node"): the node's item history as an archive.
// Each persisted item is one result, its id the item id, its time the publication time, `with` the
// publisher; each is forwarded as the event notification it was. Access is exactly that of items
// retrieval (XEP-0060 §6.5: the node's access model, affiliations, persistence).

import { arraySource, queryPage } from "../mam/pager.js";
import { finElement, parseQuery, queryFormReply, resultMessage } from "../mam/protocol.js";
import type { ItemPage, StoredItem } from "../../../src/util/pubsub/index.js";
import { Element, errorReply } from "../../../src/xml/stanza.js";
import { actorOf, iqResult, type PubsubContext } from "./context.js";
import { NS_PUBSUB_EVENT, publisherAttr, pubsubErrorReply } from "./xml.js";

const DEFAULT_PAGE = 20;

/** What a node archive query gives: result messages to send first, then the reply. */
export interface NodeArchiveAnswer {
  results: Element[];
  reply: Element;
}

/** §4.1.1: the query form (the same for every node). */
export function nodeArchiveForm(stanza: Element): Element {
  return iqResult(stanza, queryFormReply(stanza.firstElement()!.attrs.node));
}

export async function nodeArchiveQuery(ctx: PubsubContext, stanza: Element, maxResults: number): Promise<NodeArchiveAnswer> {
  const parsed = parseQuery(stanza.firstElement()!);
  if (!parsed.ok) return { results: [], reply: errorReply(stanza, "modify", "bad-request", parsed.text) };
  const q = parsed.query;
  // The service itself keeps no archive: a query names a node.
  if (q.node === undefined || q.node === "") return { results: [], reply: pubsubErrorReply(stanza, { error: "nodeid-required" }) };
  const requester = actorOf(stanza);
  const got = await ctx.service.getItems(q.node, requester);
  if (!got.ok) return { results: [], reply: pubsubErrorReply(stanza, got) };
  const view = got.value;
  const source = arraySource(view.items.map((item) => ({ id: item.id, when: item.published, with: item.publisher, value: item })));
  const page = await queryPage(source, q, { limit: Math.min(q.max ?? DEFAULT_PAGE, maxResults), includeTotal: true });
  if (!page.ok) return { results: [], reply: errorReply(stanza, "cancel", "item-not-found", page.text) };
  const items = q.flip ? [...page.items].reverse() : page.items;
  const results = items.map((i) => resultMessage(requester, ctx.jid, q.queryid, i.id, i.when, notification(ctx, q.node!, i.value, view)));
  return { results, reply: iqResult(stanza, finElement(q.queryid, page.info)) };
}

/** The item as its event notification (XEP-0060 §7.1.2.1), without recipient-specific parts. */
function notification(ctx: PubsubContext, node: string, item: StoredItem, view: ItemPage): Element {
  const attrs: Record<string, string> = { id: item.id };
  const publisher = publisherAttr(ctx.exposePublisher, view.itemreply, view.owners, item.publisher);
  if (publisher !== undefined) attrs.publisher = publisher;
  const itemEl = new Element("item", attrs, item.payload instanceof Element ? [item.payload] : []);
  const event = new Element("event", { xmlns: NS_PUBSUB_EVENT }, [new Element("items", { node }, [itemEl])]);
  return new Element("message", { xmlns: "jabber:client", from: ctx.jid }, [event]);
}
