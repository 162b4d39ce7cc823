// The owner's side of subscriptions: list and change them (§8.8), approve or deny pending requests
// (§8.6), list pending requests (§8.7).

import { jidSplit } from "../jid.js";
import { mayHoldSubscription } from "./acl.js";
import type { NodeState, ServiceCore } from "./core.js";
import { fail, ok } from "./errors.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./options.js";
import { copySubscription, lastItemEvent, lastItemFor } from "./subscriptions.js";
import type { FailedEntry, Result, Subscription, SubscriptionChange, SubscriptionState } from "./types.js";

async function ownedNode(
  core: ServiceCore,
  name: string,
  actor: string,
  capability: "manage-subscriptions" | "get-pending",
): Promise<Result<NodeState>> {
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const allowed = await core.check(state, actor, capability);
  return allowed.ok ? ok(state) : allowed;
}

/**
 * §8.8.1: subscriptions in state subscribed or unconfigured (pending ones only when asked: the
 * XEP says SHOULD NOT by default).
 */
export async function getNodeSubscriptions(
  core: ServiceCore,
  name: string,
  actor: string,
  options: { includePending?: boolean } = {},
): Promise<Result<Subscription[]>> {
  const owned = await ownedNode(core, name, actor, "manage-subscriptions");
  if (!owned.ok) return owned;
  const subs = [...owned.value.subscriptions.values()].filter((s) => options.includePending || s.state !== "pending");
  return ok(subs.map(copySubscription));
}

/**
 * Put a subscription in state `to` (an owner's change, an approval) and store it; the subscriber is
 * told its new state (§8.8.4), and a subscription that becomes subscribed gets the last item per
 * send_last_published_item. Pending and unconfigured subscriptions receive no items (§4.2).
 */
export async function setState(
  core: ServiceCore,
  state: NodeState,
  sub: Subscription,
  to: Exclude<SubscriptionState, "none">,
): Promise<void> {
  const updated: Subscription = { ...sub, state: to };
  await core.saveSubscription(updated);
  core.putSubscription(state, updated);
  await core.emitSubscription(state, updated, to, "subscriber");
  const last = await lastItemFor(core, state, updated);
  if (last) await core.emit(lastItemEvent(core, state, updated, last));
}

/** Apply one §8.8.2 entry; returns the entry to report when it cannot be applied. */
async function applyChange(
  core: ServiceCore,
  state: NodeState,
  change: SubscriptionChange,
): Promise<FailedEntry | undefined> {
  const subs = core
    .subscriptionsOf(state, change.jid)
    .filter((s) => change.subid === undefined || s.subid === change.subid);
  const current = subs[0]?.state ?? "none";
  const failed: FailedEntry = { jid: change.jid, subscription: current };
  if (change.subid !== undefined) failed.subid = change.subid;
  if (!jidSplit(change.jid) || (change.subid !== undefined && subs.length === 0)) return failed;
  const target = change.subscription;
  // "If the 'subscription' attribute is not specified ..., then the value MUST NOT be changed."
  if (target === undefined) return undefined;
  if (target === "none") {
    for (const sub of subs) await core.endSubscription(state, sub);
    return undefined;
  }
  // §8.8.2: the owner may set any state; pending (awaiting approval, §8.6/§8.7) and unconfigured
  // (options to be configured, §6.1.6) as well as subscribed. Only who may subscribe may hold one.
  if (!mayHoldSubscription(await core.affiliationOf(state, change.jid))) return failed;
  if (subs.length === 0) {
    const sub: Subscription = {
      node: state.name,
      jid: change.jid,
      subid: core.generateId(),
      state: target,
      options: { ...DEFAULT_SUBSCRIPTION_OPTIONS },
      created: core.clock(),
    };
    await setState(core, state, sub, target);
    return undefined;
  }
  for (const sub of subs) if (sub.state !== target) await setState(core, state, sub, target);
  return undefined;
}

/**
 * §8.8.2: apply a delta. Entries that cannot be applied come back in `failed` with their unaltered
 * state (error not-acceptable); the others are applied (§8.8.2.4).
 */
export async function setNodeSubscriptions(
  core: ServiceCore,
  name: string,
  actor: string,
  changes: readonly SubscriptionChange[],
): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const owned = await ownedNode(core, name, actor, "manage-subscriptions");
    if (!owned.ok) return owned;
    const failed: FailedEntry[] = [];
    for (const change of changes) {
      const problem = await applyChange(core, owned.value, change);
      if (problem) failed.push(problem);
    }
    if (failed.length > 0) return { ok: false, error: "not-acceptable", failed };
    return ok(undefined);
  });
}

/** §8.7.2: the pending requests of one node. */
export async function getPending(core: ServiceCore, name: string, actor: string): Promise<Result<Subscription[]>> {
  const owned = await ownedNode(core, name, actor, "get-pending");
  if (!owned.ok) return owned;
  return ok([...owned.value.subscriptions.values()].filter((s) => s.state === "pending").map(copySubscription));
}

/** §8.7.1: the nodes the actor may approve requests for and that have some pending. */
export async function getPendingNodes(core: ServiceCore, actor: string): Promise<Result<string[]>> {
  const nodes: string[] = [];
  for (const state of await core.loadAll()) {
    if (state.subscriptions.pending === 0) continue;
    if ((await core.check(state, actor, "get-pending")).ok) nodes.push(state.name);
  }
  return ok(nodes.sort());
}

/**
 * §8.6: the owner's answer to an authorization request (pubsub#allow). Approval makes the
 * subscription subscribed, denial ends it; either way the subscriber is told (§6.1.4).
 */
export async function answerPending(
  core: ServiceCore,
  name: string,
  actor: string,
  jid: string,
  allow: boolean,
  subid?: string,
): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const owned = await ownedNode(core, name, actor, "manage-subscriptions");
    if (!owned.ok) return owned;
    const state = owned.value;
    const pending = core
      .subscriptionsOf(state, jid)
      .filter((s) => s.state === "pending" && (subid === undefined || s.subid === subid));
    if (pending.length === 0) return fail("item-not-found", "no pending subscription");
    if (pending.length > 1) return fail("subid-required");
    if (allow) await setState(core, state, pending[0], "subscribed");
    else await core.endSubscription(state, pending[0]);
    return ok(undefined);
  });
}
