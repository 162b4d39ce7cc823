// The owner use cases of XEP-0060 (namespace …pubsub#owner): configure a node (§8.2), the default
// configuration (§8.3), delete (§8.4), purge (§8.5), manage subscriptions (§8.8) and affiliations
// (§8.9).

import {
  AFFILIATIONS,
  type AffiliationChange,
  type FailedEntry,
  type PubsubFailure,
  type SubscriptionChange,
  type SubscriptionState,
} from "../../../src/util/pubsub/index.js";
import { jidPrep } from "../../../src/util/jid.js";
import { Element } from "../../../src/xml/stanza.js";
import {
  actorOf,
  iqResult,
  requireNode,
  resultOf,
  subscriptionElement,
  type ProtocolResult,
  type PubsubContext,
} from "./context.js";
import { findDataForm, formKind, nodeConfigForm, parseConfigForm } from "./forms.js";
import { NS_PUBSUB_OWNER, plainError, pubsubErrorReply } from "./xml.js";

type Handler = (ctx: PubsubContext, stanza: Element, action: Element) => Promise<ProtocolResult>;

const OWNER: Record<string, Handler> = {
  "get/configure": getConfigure,
  "set/configure": setConfigure,
  "get/default": defaultConfig,
  "set/delete": deleteNode,
  "set/purge": purge,
  "get/subscriptions": getSubscriptions,
  "set/subscriptions": setSubscriptions,
  "get/affiliations": getAffiliations,
  "set/affiliations": setAffiliations,
};

export const OWNER_ACTIONS = new Set(Object.keys(OWNER).map((k) => k.split("/")[1]));

export async function handleOwnerRequest(
  ctx: PubsubContext,
  stanza: Element,
  type: "get" | "set",
  action: Element,
  _rest: Element[],
): Promise<ProtocolResult> {
  const handler = OWNER[`${type}/${action.name}`];
  if (handler) return handler(ctx, stanza, action);
  if (OWNER_ACTIONS.has(action.name)) {
    return resultOf(plainError(stanza, "modify", "bad-request", `<${action.name}/> is not valid in an iq of type ${type}`));
  }
  return resultOf(plainError(stanza, "cancel", "feature-not-implemented", `Unknown pubsub#owner action <${action.name}/>`));
}

function ownerResult(stanza: Element, child: Element): Element {
  return iqResult(stanza, new Element("pubsub", { xmlns: NS_PUBSUB_OWNER }, [child]));
}

/** An error carrying the entries that could not be applied (§8.8.2.4, §8.9.2.4). */
function failedReply(stanza: Element, failure: PubsubFailure, listName: "subscriptions" | "affiliations", node: string): Element {
  const entries = (failure.failed ?? []).map((f: FailedEntry) => {
    if (listName === "affiliations") return new Element("affiliation", { jid: f.jid, affiliation: f.affiliation ?? "none" });
    const attrs: Record<string, string> = { jid: f.jid, subscription: f.subscription ?? "none" };
    if (f.subid !== undefined) attrs.subid = f.subid;
    return new Element("subscription", attrs);
  });
  const payload = entries.length > 0 ? new Element("pubsub", { xmlns: NS_PUBSUB_OWNER }, [new Element(listName, { node }, entries)]) : undefined;
  return pubsubErrorReply(stanza, failure, payload);
}

// ---- §8.2 configure, §8.3 default -------------------------------------------------------------

async function getConfigure(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const got = await ctx.service.getConfig(need.node, actorOf(stanza));
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const form = nodeConfigForm(got.value, ctx.service.config.maxItems, ctx.fullConfigForm ?? false);
  return resultOf(ownerResult(stanza, new Element("configure", { node: need.node }, [form])));
}

async function setConfigure(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const form = findDataForm(action);
  // §8.2.3.5 (Prosody: "Missing dataform").
  if (!form) return resultOf(plainError(stanza, "modify", "bad-request", "Missing dataform"));
  const actor = actorOf(stanza);
  if (formKind(form) === "cancel") {
    // §8.2.5: cancelled, the configuration stays as it is.
    const got = await ctx.service.getConfig(need.node, actor);
    return resultOf(got.ok ? iqResult(stanza) : pubsubErrorReply(stanza, got));
  }
  const parsed = parseConfigForm(form);
  if (!parsed.ok) return resultOf(pubsubErrorReply(stanza, parsed));
  const done = await ctx.service.setConfig(need.node, actor, parsed.value);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  return resultOf(iqResult(stanza));
}

async function defaultConfig(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  // §8.3.2: leaf unless asked otherwise; collections are not offered.
  const nodeType = action.attrs.type ?? "leaf";
  if (nodeType !== "leaf") return resultOf(pubsubErrorReply(stanza, { error: "unsupported", feature: "collections" }));
  const form = nodeConfigForm(ctx.service.getDefaultConfig(), ctx.service.config.maxItems, true);
  return resultOf(ownerResult(stanza, new Element("default", {}, [form])));
}

// ---- §8.4 delete, §8.5 purge ------------------------------------------------------------------

async function deleteNode(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  // §8.4.1: an optional <redirect uri='…'/> to the replacing node.
  const redirect = action.getChild("redirect")?.attrs.uri;
  const done = await ctx.service.delete(need.node, actorOf(stanza), redirect);
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  return resultOf(iqResult(stanza));
}

async function purge(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const done = await ctx.service.purge(need.node, actorOf(stanza));
  if (!done.ok) return resultOf(pubsubErrorReply(stanza, done));
  return resultOf(iqResult(stanza));
}

// ---- §8.8 subscriptions ------------------------------------------------------------------------

async function getSubscriptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const got = await ctx.service.getNodeSubscriptions(need.node, actorOf(stanza));
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const counts = new Map<string, number>();
  for (const s of got.value) counts.set(s.jid, (counts.get(s.jid) ?? 0) + 1);
  // §8.8.1.2: several subscriptions of one JID each carry their subid.
  const list = new Element(
    "subscriptions",
    { node: need.node },
    got.value.map((s) => subscriptionElement(s, s.state, (counts.get(s.jid) ?? 0) > 1, false)),
  );
  return resultOf(ownerResult(stanza, list));
}

const SUBSCRIPTION_STATES = new Set<string>(["none", "pending", "subscribed", "unconfigured"]);

async function setSubscriptions(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const changes: SubscriptionChange[] = [];
  for (const entry of action.childElements("subscription")) {
    const raw = entry.attrs.jid;
    if (raw === undefined) return resultOf(pubsubErrorReply(stanza, { error: "jid-required" }));
    const state = entry.attrs.subscription;
    if (state !== undefined && !SUBSCRIPTION_STATES.has(state)) {
      return resultOf(plainError(stanza, "modify", "bad-request", `Unknown subscription state '${state}'`));
    }
    const change: SubscriptionChange = { jid: jidPrep(raw) ?? raw };
    if (state !== undefined) change.subscription = state as SubscriptionState;
    if (entry.attrs.subid) change.subid = entry.attrs.subid;
    changes.push(change);
  }
  const done = await ctx.service.setSubscriptions(need.node, actorOf(stanza), changes);
  if (!done.ok) return resultOf(failedReply(stanza, done, "subscriptions", need.node));
  return resultOf(iqResult(stanza));
}

// ---- §8.9 affiliations -------------------------------------------------------------------------

async function getAffiliations(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const got = await ctx.service.getNodeAffiliations(need.node, actorOf(stanza));
  if (!got.ok) return resultOf(pubsubErrorReply(stanza, got));
  const list = new Element(
    "affiliations",
    { node: need.node },
    got.value.map((a) => new Element("affiliation", { jid: a.jid, affiliation: a.affiliation })),
  );
  return resultOf(ownerResult(stanza, list));
}

async function setAffiliations(ctx: PubsubContext, stanza: Element, action: Element): Promise<ProtocolResult> {
  const need = requireNode(stanza, action);
  if ("error" in need) return need.error;
  const changes: AffiliationChange[] = [];
  for (const entry of action.childElements("affiliation")) {
    const raw = entry.attrs.jid;
    if (raw === undefined) return resultOf(pubsubErrorReply(stanza, { error: "jid-required" }));
    const affiliation = entry.attrs.affiliation;
    // §8.9.2: without an 'affiliation' attribute the entity's affiliation is not changed.
    if (affiliation === undefined) continue;
    if (!(AFFILIATIONS as readonly string[]).includes(affiliation)) {
      // §8.9.2.3: an affiliation the service does not know.
      return resultOf(pubsubErrorReply(stanza, { error: "unsupported", feature: `${affiliation}-affiliation` }));
    }
    changes.push({ jid: jidPrep(raw) ?? raw, affiliation: affiliation as AffiliationChange["affiliation"] });
  }
  const done = await ctx.service.setAffiliations(need.node, actorOf(stanza), changes);
  if (!done.ok) return resultOf(failedReply(stanza, done, "affiliations", need.node));
  return resultOf(iqResult(stanza));
}
