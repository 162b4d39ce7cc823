// Layer 2 of ARCHITECTURE.md §7: XEP-0060 requests (XML) -> service calls -> replies (XML).
// A function of (context, stanza); the component (index.ts) and PEP share it. This file holds the
// dispatcher and the entity use cases (§5.6, §5.7, §6, §7, and node creation §8.1); owner.ts the
// owner use cases, disco.ts service discovery, adhoc.ts the get-pending command.
//
// Request checks made here, before the service: a missing `node` -> nodeid-required; an <item/>
// with text or more than one element -> invalid-payload (§7.1.3.5); retract without an item id ->
// item-required (§7.2.3.4); subscribe/options without `jid` -> jid-required; malformed forms ->
// bad-request (§8.2.3.5) or invalid-options (§6.3.5).
//
// SubIDs (§6.1.6): the service supports several subscriptions per JID, told apart by subid. A
// <subscription/> carries its subid when the JID holds more than one subscription on the node (or
// the request named one); with a single subscription the subid distinguishes nothing and every
// request works without it, and Prosody's scripts expect it absent (pubsub_advanced.scs).

import {
  type Affiliation,
  type NodeConfig,
  type PublishItem,
  type Subscription,
  type SubscriptionOptions,
} from "../../../src/util/pubsub/index.js";
import { jidPrep } from "../../../src/util/jid.js";
import { Element } from "../../../src/xml/stanza.js";
import {
  actorOf,
  iqResult,
  parseRsm,
  requireNode,
  resultOf,
  rsmElement,
  subscriptionElement,
  type ProtocolResult,
  type PubsubContext,
} from "./context.js";
import {
  findDataForm,
  formKind,
  formTypeOf,
  parseConfigForm,
  parseOptionsForm,
  publishOptionValues,
  subscriptionOptionsForm,
} from "./forms.js";
import { handleOwnerRequest, OWNER_ACTIONS } from "./owner.js";
import {
  byteSize,
  elementChildren,
  FORM_PUBLISH_OPTIONS,
  NS_PUBSUB,
  NS_PUBSUB_OWNER,
  NS_RSM,
  parseXsBoolean,
  plainError,
  publisherAttr,
  pubsubErrorReply,
} from "./xml.js";

type Handler = (ctx: PubsubContext, stanza: Element, action: Element, rest: Element[]) => Promise<ProtocolResult>;

/** Every entity action of the pubsub namespace, by "<iq type>/<element>". */
const ENTITY: Record<string, Handler> = {
  "set/create": create,
  "set/publish": publish,
  "set/retract": retract,
  "set/subscribe": subscribe,
  "set/unsubscribe": unsubscribe,
  "get/options": getOptions,
  "set/options": setOptions,
  "get/default": defaultOptions,
  "get/items": items,
  "get/subscriptions": ownSubscriptions,
  "get/affiliations": ownAffiliations,
};
const ENTITY_ACTIONS = new Set(Object.keys(ENTITY).map((k) => k.split("/")[1]));

/**
 * Answer an <iq type='get|set'> whose payload is <pubsub xmlns='…pubsub'/> or '…pubsub#owner'.
 * Unknown actions -> feature-not-implemented; a known action in the wrong iq type -> bad-request.
 */
export async function handlePubsubIq(ctx: PubsubContext, stanza: Element): Promise<ProtocolResult> {
  const pubsub = stanza.firstElement();
  const type = stanza.attrs.type;
  if (!pubsub || (type !== "get" && type !== "set")) return resultOf(plainError(stanza, "modify", "bad-request"));
  const ns = pubsub.attrs.xmlns;
  const { elements } = elementChildren(pubsub);
  const action = elements[0];
  // Prosody: a <pubsub/> without an action is a cancel/bad-request.
  if (!action || (action.attrs.xmlns !== undefined && action.attrs.xmlns !== ns)) {
    return resultOf(plainError(stanza, "cancel", "bad-request", "Missing or unknown action"));
  }
  if (ns === NS_PUBSUB_OWNER) {
    return handleOwnerRequest(ctx, stanza, type, action, elements.slice(1));
  }
  const handler = ENTITY[`${type}/${action.name}`];
  if (handler) return handler(ctx, stanza, action, elements.slice(1));
  if (ENTITY_ACTIONS.has(action.name) || OWNER_ACTIONS.has(action.name)) {
    return resultOf(plainError(stanza, "modify", "bad-request", `<${action.name}/> is not valid in an iq of type ${type}`));
  }
  return resultOf(plainError(stanza, "cancel", "feature-not-implemented", `Unknown pubsub action <${action.name}/>`));
}

function pubsubResult(stanza: Element, ...children: Element[]): Element {
  return iqResult(stanza, new Element("pubsub", { xmlns: NS_PUBSUB }, children));
}

// ---- §8.1 create ------------------------------------------------------------------------------

async function create(ctx: PubsubContext, stanza: Element, action: Element, rest: Element[]): Promise<ProtocolResult> {
  const requested = action.attrs.node;
  let config: Partial<NodeConfig> | undefined;
  const configure = rest.find((e) => e.name === "configure");
  if (configure) {
    // §8.1.3: <configure/> follows <create/> and has no node of its own.
    if (configure.attrs.node !== undefined) {
      return resultOf(plainError(stanza, "modify", "bad-request", "<configure/> must not have a node attribute here"));
    }
    const form = findDataForm(configure);
    if (form && formKind(form) !== "cancel") {
      const parsed = parseConfigForm(form);
      if (!parsed.ok) return resultOf(pubsubErrorReply(stanza, parsed));
      config = parsed.value;
    }
  }
  const created = await ctx.service.create(requested === "" ? undefined : requested, actorOf(stanza), config);
  if (!created.ok) return resultOf(pubsubErrorReply(stanza, created));
  // §8.1.2: an instant node's name is returned; for a named node the result is empty (as Prosody).
  if (requested === undefined || requested === "") {
    return resultOf(pubsubResult(stanza, new Element("create", { node: created.value.node })));
  }
  return resultOf(iqResult(stanza));
}

// ---- §7.1 publish -----------------------------------------------------------------------------

/** The payload of an <item/> as the service wants it: exactly one element, in its own namespace. */
export function itemPayload(item: Element): PublishItem | { invalid: string } {
  const { elements, text } = elementChildren(item);
  // §7.1.3.5: exactly one payload element.
  if (text || elements.length > 1) return { invalid: "An item carries exactly one payload element" };
  if (elements.length === 0) return {};
  let payload = elements[0];
  if (payload.attrs.xmlns === undefined) {
    // It inherited the pubsub namespace; carry it explicitly so it keeps it inside <event/>.
    payload = new Element(payload.name, { ...payload.attrs, xmlns: item.attrs.xmlns ?? NS_PUBSUB }, payload.children);
  }
  return { payload, size: byteSize(payload), namespace: payload.attrs.xmlns };
}

async function publish(ctx: PubsubContext, stanza: Element, action: Element, rest: Element[]): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const items = action.childElements("item");
  if (items.length > 1) return resultOf(plainError(stanza, "modify", "bad-request", "Publish one item per request"));
  let item: PublishItem | undefined;
  let id: string | undefined;
  if (items.length === 1) {
    const found = itemPayload(items[0]);
    if ("invalid" in found) return resultOf(pubsubErrorReply(stanza, { error: "invalid-payload", text: found.invalid }));
    item = found;
    id = items[0].attrs.id || undefined;
  }
  let preconditions: Record<string, string | string[]> | undefined;
  const options = rest.find((e) => e.name === "publish-options");
  if (options) {
    const form = findDataForm(options);
    if (form) {
      // §7.1.5: FORM_TYPE http://jabber.org/protocol/pubsub#publish-options.
      const type = formTypeOf(form);
      if (type !== "" && type !== FORM_PUBLISH_OPTIONS) {
        return resultOf(plainError(stanza, "modify", "bad-request", `Unexpected FORM_TYPE ${type}`));
      }
      preconditions = publishOptionValues(form);
    }
  }
  const done = await ctx.service.publish(need.node, actorOf(stanza), id, item, preconditions);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  const publishEl = new Element("publish", { node: done.value.node });
  if (done.value.id !== undefined) publishEl.children.push(new Element("item", { id: done.value.id }));
  return resultOf(pubsubResult(stanza, publishEl));
}

// ---- §7.2 retract -----------------------------------------------------------------------------

async function retract(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const items = action.childElements("item");
  // §7.2.3.4
  if (items.length === 0 || !items[0].attrs.id) return resultOf(pubsubErrorReply(stanza, { error: "item-required" }));
  if (items.length > 1) return resultOf(plainError(stanza, "modify", "bad-request", "Retract one item per request"));
  const notifyAttr = action.attrs.notify;
  const notify = parseXsBoolean(notifyAttr);
  if (notifyAttr !== undefined && notify === undefined) {
    return resultOf(plainError(stanza, "modify", "bad-request", "notify must be true, false, 1 or 0"));
  }
  const done = await ctx.service.retract(need.node, actorOf(stanza), items[0].attrs.id, notify);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  return resultOf(iqResult(stanza));
}

// ---- §6.1 subscribe, §6.2 unsubscribe ------------------------------------------------------------

/** How many subscriptions `jid` holds on `node` (for the subid rule in the header). */
async function subscriptionCount(ctx: PubsubContext, node: string, jid: string): Promise<number> {
  const subs = await ctx.service.getSubscriptions(node, jid);
  return subs.ok ? subs.value.filter((s) => s.jid === jid).length : 0;
}

/** The subscriber's JID of a subscribe/unsubscribe/options request, prepped. */
function subscriberJid(stanza: Element, action: Element): { jid: string } | { error: ProtocolResult } {
  const raw = action.attrs.jid;
  if (raw === undefined || raw === "") return { error: resultOf(pubsubErrorReply(stanza, { error: "jid-required" })) };
  const jid = jidPrep(raw);
  // §6.1.3.1 / §6.2.3.1: an address that is no JID cannot be the requester's.
  if (jid === undefined) return { error: resultOf(pubsubErrorReply(stanza, { error: "invalid-jid" })) };
  return { jid };
}

async function subscribe(ctx: PubsubContext, stanza: Element, action: Element, rest: Element[]): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const who = subscriberJid(stanza, action);
  if ("error" in who) return who.error;
  let options: Partial<SubscriptionOptions> | undefined;
  const optionsEl = rest.find((e) => e.name === "options");
  if (optionsEl) {
    // §6.3.7: <options/> follows <subscribe/> and has neither node nor jid.
    if (optionsEl.attrs.node !== undefined || optionsEl.attrs.jid !== undefined) {
      return resultOf(plainError(stanza, "modify", "bad-request", "<options/> must not have node or jid here"));
    }
    const form = findDataForm(optionsEl);
    if (form && formKind(form) !== "cancel") {
      const parsed = parseOptionsForm(form);
      if (!parsed.ok) return resultOf(pubsubErrorReply(stanza, parsed));
      options = parsed.value;
    }
  }
  const done = await ctx.service.subscribe(need.node, actorOf(stanza), who.jid, options);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  const sub = done.value.subscription;
  const several = (await subscriptionCount(ctx, need.node, sub.jid)) > 1;
  const element = subscriptionElement(sub, sub.state, several);
  // §6.1.6: an unconfigured subscription (an owner made it so, §8.8.2) receives nothing until the
  // subscriber has configured it.
  if (sub.state === "unconfigured") element.children.push(new Element("subscribe-options", {}, [new Element("required")]));
  const children = [element];
  // §6.3.7: the resulting options, when they were given.
  if (options) children.push(new Element("options", {}, [subscriptionOptionsForm(sub.options, "result")]));
  const event = done.value.lastItemEvent;
  // §6.1.7 / send_last_published_item: the last item follows the result (pubsub_resend_on_sub.scs).
  return resultOf(pubsubResult(stanza, ...children), event ? () => ctx.broadcast(event) : undefined);
}

async function unsubscribe(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const who = subscriberJid(stanza, action);
  if ("error" in who) return who.error;
  const subid = action.attrs.subid || undefined;
  const several = subid !== undefined || (await subscriptionCount(ctx, need.node, who.jid)) > 1;
  const done = await ctx.service.unsubscribe(need.node, actorOf(stanza), who.jid, subid);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  // As Prosody (pubsub_advanced.scs): the ended subscription, in state none.
  return resultOf(pubsubResult(stanza, subscriptionElement(done.value, "none", several)));
}

// ---- §6.3 subscription options, §6.4 default options --------------------------------------------

function optionsElement(sub: Subscription, form: Element, withSubid: boolean): Element {
  const attrs: Record<string, string> = { node: sub.node, jid: sub.jid };
  if (withSubid) attrs.subid = sub.subid;
  return new Element("options", attrs, [form]);
}

async function getOptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const who = subscriberJid(stanza, action);
  if ("error" in who) return who.error;
  const subid = action.attrs.subid || undefined;
  const got = await ctx.service.getSubscriptionOptions(need.node, actorOf(stanza), who.jid, subid);
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const several = subid !== undefined || (await subscriptionCount(ctx, need.node, who.jid)) > 1;
  return resultOf(pubsubResult(stanza, optionsElement(got.value, subscriptionOptionsForm(got.value.options), several)));
}

async function setOptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const who = subscriberJid(stanza, action);
  if ("error" in who) return who.error;
  const form = findDataForm(action);
  // §6.3.5: no form is no valid set of options.
  if (!form) return resultOf(pubsubErrorReply(stanza, { error: "invalid-options", text: "Missing data form" }));
  const subid = action.attrs.subid || undefined;
  if (formKind(form) === "cancel") {
    const got = await ctx.service.getSubscriptionOptions(need.node, actorOf(stanza), who.jid, subid);
    return resultOf(got.ok ? iqResult(stanza) : pubsubErrorReply(stanza, got));
  }
  const parsed = parseOptionsForm(form);
  if (!parsed.ok) return resultOf(pubsubErrorReply(stanza, parsed));
  const done = await ctx.service.setSubscriptionOptions(need.node, actorOf(stanza), who.jid, parsed.value, subid);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  return resultOf(iqResult(stanza));
}

async function defaultOptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  // §6.4: the service's defaults, or a node's (which exist only for existing nodes).
  const node = action.attrs.node;
  if (action.attrs.type === "collection") return resultOf(pubsubErrorReply(stanza, { error: "unsupported", feature: "collections" }));
  if (node !== undefined && node !== "") {
    const meta = await ctx.service.getNodeMeta(node, actorOf(stanza));
    if (!meta.ok) return resultOf(pubsubErrorReply(stanza, meta));
  }
  const def = new Element("default", node ? { node } : {}, [subscriptionOptionsForm(ctx.service.getDefaultSubscriptionOptions())]);
  return resultOf(pubsubResult(stanza, def));
}

// ---- §6.5 retrieve items ----------------------------------------------------------------------

async function items(ctx: PubsubContext, stanza: Element, action: Element, rest: Element[]): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const query: { ids?: string[]; max?: number; subid?: string; rsm?: ReturnType<typeof parseRsm>["rsm"] } = {};
  const maxAttr = action.attrs.max_items;
  if (maxAttr !== undefined) {
    // §6.5.7
    if (!/^\d+$/.test(maxAttr.trim())) return resultOf(plainError(stanza, "modify", "bad-request", "max_items must be a non-negative integer"));
    query.max = Number(maxAttr.trim());
  }
  if (action.attrs.subid) query.subid = action.attrs.subid;
  const wanted = action.childElements("item").map((i) => i.attrs.id ?? "");
  if (wanted.length > 0) {
    // §6.5.8: by ItemID, each <item/> naming one.
    if (wanted.some((id) => id === "")) return resultOf(plainError(stanza, "modify", "bad-request", "Each requested <item/> needs an id"));
    query.ids = wanted;
  }
  // XEP-0059 paging (§6.5.4): <set/> beside <items/>.
  const set = rest.find((e) => e.name === "set" && e.attrs.xmlns === NS_RSM);
  const rsm = parseRsm(set);
  if (rsm.error) return resultOf(plainError(stanza, "modify", "bad-request", rsm.error));
  if (rsm.unsupported) return resultOf(plainError(stanza, "cancel", "feature-not-implemented", "RSM paging by index is not supported"));
  if (rsm.rsm) query.rsm = rsm.rsm;
  const got = await ctx.service.getItems(need.node, actorOf(stanza), query);
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const page = got.value;
  const itemsEl = new Element("items", { node: need.node });
  for (const item of page.items) {
    const attrs: Record<string, string> = { id: item.id };
    const publisher = publisherAttr(ctx.exposePublisher, page.itemreply, page.owners, item.publisher);
    if (publisher !== undefined) attrs.publisher = publisher;
    itemsEl.children.push(new Element("item", attrs, item.payload instanceof Element ? [item.payload] : []));
  }
  const children = [itemsEl];
  if (page.rsm && query.rsm) children.push(rsmElement(page.rsm));
  return resultOf(pubsubResult(stanza, ...children));
}

// ---- §5.6 subscriptions, §5.7 affiliations ------------------------------------------------------

async function ownSubscriptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const node = action.attrs.node || undefined;
  const got = await ctx.service.getSubscriptions(node, actorOf(stanza));
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const counts = new Map<string, number>();
  for (const s of got.value) counts.set(`${s.node}\u0000${s.jid}`, (counts.get(`${s.node}\u0000${s.jid}`) ?? 0) + 1);
  const list = new Element("subscriptions", node ? { node } : {});
  for (const s of got.value) list.children.push(subscriptionElement(s, s.state, (counts.get(`${s.node}\u0000${s.jid}`) ?? 0) > 1));
  return resultOf(pubsubResult(stanza, list));
}

async function ownAffiliations(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const node = action.attrs.node || undefined;
  const got = await ctx.service.getAffiliations(node, actorOf(stanza));
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const list = new Element("affiliations", node ? { node } : {});
  for (const a of got.value) list.children.push(new Element("affiliation", { node: a.node, affiliation: a.affiliation satisfies Affiliation }));
  return resultOf(pubsubResult(stanza, list));
}
