// Service discovery of a pubsub service (XEP-0060 §5): the service's identity and features
// (§5.1, derived from what the service is configured to do, so every feature advertised is backed
// and nothing backed is missing), its nodes (§5.2, with XEP-0059 paging), a node's identity and
// metadata (§5.3, §5.4) and a node's items (§5.5, with paging); plus the XEP-0050 command node of
// get-pending (§8.7).

import type { NodeListEntry, NodeMeta, StoredItem } from "../../../src/util/pubsub/index.js";
import { Element, reply } from "../../../src/xml/stanza.js";
import { actorOf, parseRsm, resultOf, rsmElement, type ProtocolResult, type PubsubContext } from "./context.js";
import { metaDataForm } from "./forms.js";
import {
  NODE_GET_PENDING,
  NS_COMMANDS,
  NS_DATA,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_PUBSUB,
  NS_RSM,
  plainError,
  pubsubErrorReply,
} from "./xml.js";

const P = `${NS_PUBSUB}#`;

/** The features this service backs (XEP-0060 §10 names), in a stable order. */
export function serviceFeatures(ctx: PubsubContext): string[] {
  const cfg = ctx.service.config;
  const f: string[] = [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PUBSUB];
  const add = (name: string, when = true) => {
    if (when) f.push(P + name);
  };
  // §4.5: one feature per access model the service offers to node owners (the XEP's table says
  // "the default access model is …"; services commonly list every model they support, and clients
  // read them that way; the default is in the §8.3 default configuration).
  for (const model of cfg.accessModels) add(`access-${model}`);
  add("auto-create", cfg.autocreateOnPublish);
  add("config-node");
  add("config-node-max");
  add("create-and-configure");
  add("create-nodes");
  add("delete-items");
  add("delete-nodes");
  add("get-pending", ctx.adhocCommands);
  add("instant-nodes", cfg.instantNodes);
  add("item-ids");
  // §12.x: only when new subscribers and available presence get the last item by default.
  add("last-published", ctx.presenceEvents && cfg.nodeDefaults.sendLastPublishedItem === "on_sub_and_presence");
  add("leased-subscription");
  add("manage-subscriptions");
  add("member-affiliation");
  add("meta-data");
  add("modify-affiliations");
  add("multi-items");
  add("multi-subscribe", cfg.multiSubscribe);
  add("outcast-affiliation");
  add("persistent-items");
  add("presence-notifications", ctx.presenceAware);
  add("publish");
  add("publish-node-full");
  add("publish-only-affiliation");
  add("publish-options");
  add("publisher-affiliation");
  add("purge-nodes");
  add("retract-items");
  add("retrieve-affiliations");
  add("retrieve-default");
  add("retrieve-default-sub");
  add("retrieve-items");
  add("retrieve-subscriptions");
  // §6.5.4: items and nodes can be paged with XEP-0059.
  add("rsm");
  add("subscribe");
  add("subscription-notifications");
  add("subscription-options");
  for (const extra of ctx.extraFeatures ?? []) if (!f.includes(extra)) f.push(extra);
  f.push(NS_RSM);
  if (ctx.adhocCommands) f.push(NS_COMMANDS);
  return f;
}

/** §5.3, §5.4: a node's identity, features and metadata form, into `q`. */
export function addNodeInfo(q: Element, meta: Readonly<NodeMeta>, nodeFeatures: readonly string[] = []): void {
  q.children.push(new Element("identity", { category: "pubsub", type: meta.nodeType }));
  q.children.push(new Element("feature", { var: NS_DISCO_INFO }), new Element("feature", { var: NS_PUBSUB }));
  for (const f of nodeFeatures) q.children.push(new Element("feature", { var: f }));
  q.children.push(metaDataForm(meta));
}

/** §5.2: the service's nodes, named by their titles, into `q`. */
export function addNodeList(q: Element, jid: string, nodes: readonly NodeListEntry[]): void {
  for (const n of nodes) q.children.push(new Element("item", n.title === undefined ? { jid, node: n.node } : { jid, node: n.node, name: n.title }));
}

/** §5.5: a node's items, named by id, into `q`. */
export function addItemList(q: Element, jid: string, items: readonly StoredItem[]): void {
  for (const item of items) q.children.push(new Element("item", { jid, name: item.id }));
}

/**
 * XEP-0163 §1: an account's disco#info (what mod_disco built for the account) gains the service's
 * identity, after the account's identities, and every service feature not already listed.
 */
export function addServiceToAccountInfo(q: Element, ctx: PubsubContext): void {
  let at = 0;
  q.children.forEach((c, i) => {
    if (typeof c !== "string" && c.name === "identity") at = i + 1;
  });
  q.children.splice(at, 0, identityElement(ctx.identity));
  const listed = new Set(q.childElements("feature").map((f) => f.attrs.var));
  for (const f of serviceFeatures(ctx)) if (!listed.has(f)) q.children.push(new Element("feature", { var: f }));
}

function infoQuery(node: string | undefined): Element {
  return new Element("query", node === undefined ? { xmlns: NS_DISCO_INFO } : { xmlns: NS_DISCO_INFO, node });
}

function identityElement(id: { category: string; type: string; name?: string }): Element {
  return new Element("identity", id.name === undefined ? { category: id.category, type: id.type } : { category: id.category, type: id.type, name: id.name });
}

/** disco#info to the service, to one of its nodes, or to the command nodes. */
export async function handleDiscoInfo(
  ctx: PubsubContext,
  stanza: Element,
  extra: { features?: string[]; nodeFeatures?: string[] } = {},
): Promise<ProtocolResult> {
  const node = stanza.firstElement()?.attrs.node;
  const r = reply(stanza);
  if (node === undefined || node === "") {
    // §5.1
    const q = infoQuery(undefined);
    q.children.push(identityElement(ctx.identity));
    const features = serviceFeatures(ctx);
    for (const f of extra.features ?? []) if (!features.includes(f)) features.push(f);
    for (const f of features) q.children.push(new Element("feature", { var: f }));
    r.children.push(q);
    return resultOf(r);
  }
  if (ctx.adhocCommands && node === NS_COMMANDS) {
    const q = infoQuery(node);
    q.children.push(new Element("identity", { category: "automation", type: "command-list" }));
    r.children.push(q);
    return resultOf(r);
  }
  if (ctx.adhocCommands && node === NODE_GET_PENDING) {
    // XEP-0050 §2.4.1
    const q = infoQuery(node);
    q.children.push(new Element("identity", { category: "automation", type: "command-node", name: "Get pending subscription requests" }));
    q.children.push(new Element("feature", { var: NS_COMMANDS }), new Element("feature", { var: NS_DATA }));
    r.children.push(q);
    return resultOf(r);
  }
  // §5.3, §5.4
  const meta = await ctx.service.getNodeMeta(node, actorOf(stanza));
  if (!meta.ok) return resultOf(pubsubErrorReply(stanza, meta));
  const q = infoQuery(node);
  addNodeInfo(q, meta.value, extra.nodeFeatures);
  r.children.push(q);
  return resultOf(r);
}

/** disco#items of the service (its nodes), of a node (its items) or of the command list. */
export async function handleDiscoItems(ctx: PubsubContext, stanza: Element): Promise<ProtocolResult> {
  const query = stanza.firstElement();
  const node = query?.attrs.node;
  const set = query?.childElements("set", NS_RSM)[0];
  const rsm = parseRsm(set);
  if (rsm.error) return resultOf(plainError(stanza, "modify", "bad-request", rsm.error));
  if (rsm.unsupported) return resultOf(plainError(stanza, "cancel", "feature-not-implemented", "RSM paging by index is not supported"));
  const r = reply(stanza);
  const actor = actorOf(stanza);
  if (node === undefined || node === "") {
    // §5.2
    const listed = await ctx.service.listNodes(actor, rsm.rsm);
    if (!listed.ok) return resultOf(pubsubErrorReply(stanza, listed));
    const q = new Element("query", { xmlns: NS_DISCO_ITEMS });
    addNodeList(q, ctx.jid, listed.value.nodes);
    if (listed.value.rsm) q.children.push(rsmElement(listed.value.rsm));
    r.children.push(q);
    return resultOf(r);
  }
  if (ctx.adhocCommands && node === NS_COMMANDS) {
    const q = new Element("query", { xmlns: NS_DISCO_ITEMS, node });
    q.children.push(new Element("item", { jid: ctx.jid, node: NODE_GET_PENDING, name: "Get pending subscription requests" }));
    r.children.push(q);
    return resultOf(r);
  }
  // §5.5: the items, named by id, without a node attribute.
  const got = await ctx.service.getItems(node, actor, rsm.rsm ? { rsm: rsm.rsm } : {});
  const q = new Element("query", { xmlns: NS_DISCO_ITEMS, node });
  if (!got.ok) {
    // A node that keeps no items has none to list.
    if (got.error !== "persistent-items-unsupported") return resultOf(pubsubErrorReply(stanza, got));
    r.children.push(q);
    return resultOf(r);
  }
  addItemList(q, ctx.jid, got.value.items);
  if (got.value.rsm && rsm.rsm) q.children.push(rsmElement(got.value.rsm));
  r.children.push(q);
  return resultOf(r);
}
