// The subscriber's side: subscribe (§6.1, incl. authorize -> pending and multi-subscribe with
// subids), unsubscribe (§6.2), subscription options (§6.3), own subscriptions (§5.6).

import { jidBare, jidSplit } from "../jid.js";
import { accessModelAllows, grantOf, mayHoldSubscription } from "./acl.js";
import type { NodeState, ServiceCore } from "./core.js";
import { fail, ok } from "./errors.js";
import { lastItemOf } from "./items.js";
import { createLocked } from "./nodes.js";
import {
  DEFAULT_SUBSCRIPTION_OPTIONS,
  leaseExpired,
  mergeSubscriptionOptions,
  sameSubscriptionOptions,
  validateSubscriptionOptions,
} from "./options.js";
import type { LastItemEvent, Result, StoredItem, SubscribeOutcome, Subscription, SubscriptionOptions } from "./types.js";

export function copySubscription(sub: Subscription): Subscription {
  const options = { ...sub.options };
  if (sub.options.showValues) options.showValues = [...sub.options.showValues];
  return { ...sub, options };
}

/** The last item a fresh (or re-confirmed) subscription gets, per send_last_published_item. */
export async function lastItemFor(
  core: ServiceCore,
  state: NodeState,
  sub: Subscription,
): Promise<StoredItem | undefined> {
  if (sub.state !== "subscribed" || !sub.options.deliver) return undefined;
  if (state.config.sendLastPublishedItem === "never") return undefined;
  return lastItemOf(core, state);
}

/**
 * The "last-item" event that delivers `last` to one subscription: the payload only when the node
 * delivers payloads, addressed to the subscribed JID with its subid and include_body option.
 */
export function lastItemEvent(core: ServiceCore, state: NodeState, sub: Subscription, last: StoredItem): LastItemEvent {
  const item = { id: last.id, publisher: last.publisher, published: last.published };
  return {
    kind: "last-item",
    node: state.name,
    item: state.config.deliverPayloads && last.payload !== undefined ? { ...item, payload: last.payload } : item,
    recipients: [{ jid: sub.jid, subids: [sub.subid], includeBody: sub.options.includeBody }],
    config: core.snapshot(state),
    owners: core.owners(state),
  };
}

function outcome(core: ServiceCore, state: NodeState, sub: Subscription, lastItem: StoredItem | undefined): SubscribeOutcome {
  if (!lastItem) return { subscription: copySubscription(sub) };
  return { subscription: copySubscription(sub), lastItem, lastItemEvent: lastItemEvent(core, state, sub, lastItem) };
}

/** Is `actor` allowed to act for `jid`: the same bare JID, or a node owner (service admin)? */
async function actsFor(core: ServiceCore, state: NodeState, actor: string, jid: string): Promise<boolean> {
  if (jidBare(jid) === jidBare(actor)) return true;
  return grantOf(await core.affiliationOf(state, actor), "manage-subscriptions") === true;
}

/**
 * §6.1. `jid` is the address to subscribe, exactly as given. The reply carries the subscription
 * (state subscribed or pending) and, when the node sends the last item on subscription, that item:
 * the caller sends it after the IQ result (Prosody's order, pubsub_resend_on_sub.scs).
 */
export async function subscribe(
  core: ServiceCore,
  name: string,
  actor: string,
  jid: string,
  options?: Partial<SubscriptionOptions>,
): Promise<Result<SubscribeOutcome>> {
  if (!jid) return fail("jid-required");
  if (!jidSplit(jid)) return fail("invalid-jid");
  const checked = validateSubscriptionOptions(options ?? {});
  if (!checked.ok) return checked;
  return core.withLock(name, async () => {
    let state = await core.load(name);
    if (!state) {
      // §6.1.3.12 / auto-create on subscribe (Prosody: autocreate_on_subscribe).
      if (!core.config.autocreateOnSubscribe || !(await core.config.canCreate(actor))) return fail("item-not-found");
      const created = await createLocked(core, name, actor, {});
      if (!created.ok) return created;
      state = created.value;
    }
    const forOther = jidBare(jid) !== jidBare(actor);
    // §6.1.3.1: only the same bare JID, unless the actor manages the node's subscriptions.
    if (forOther && !(await actsFor(core, state, actor, jid))) return fail("invalid-jid");
    const affiliation = await core.affiliationOf(state, jid);
    // §6.1.3.8 outcast; §4.1 publish-only may not subscribe.
    if (!mayHoldSubscription(affiliation)) return fail("forbidden");
    const existing = core.subscriptionsOf(state, jid);
    // §6.1.3.7
    if (existing.some((s) => s.state === "pending")) return fail("pending-subscription");
    const now = core.clock();
    const wanted = mergeSubscriptionOptions(DEFAULT_SUBSCRIPTION_OPTIONS, checked.value, now, core.config.maxLeaseSeconds);
    // §6.1.6: without multi-subscribe, answer with the current subscription; with it, the same
    // options again also return the existing subscription rather than a duplicate.
    const same = existing.find(
      (s) => !leaseExpired(s.options, now) && (!core.config.multiSubscribe || sameSubscriptionOptions(s.options, wanted)),
    );
    if (same) return ok(outcome(core, state, same, await lastItemFor(core, state, same)));
    let pending = false;
    if (affiliation === "none" && !forOther) {
      const allowed = await accessModelAllows("subscribe", core.facts(state, jid));
      if (!allowed.ok) return allowed;
      // §6.1.2: authorize -> pending until an owner approves (members and above subscribe directly).
      pending = state.config.accessModel === "authorize";
    }
    const limit = core.config.maxSubscriptionsPerJid;
    // §6.1.3.9
    if (limit !== undefined && existing.length >= limit) return fail("too-many-subscriptions");
    const sub: Subscription = {
      node: name,
      jid,
      subid: core.generateId(),
      state: pending ? "pending" : "subscribed",
      options: wanted,
      created: now,
    };
    await core.saveSubscription(sub);
    core.putSubscription(state, sub);
    if (pending) {
      const owners = core.owners(state);
      // §8.6: ask the owners.
      await core.emit({
        kind: "authorization-request",
        node: name,
        recipients: owners.map((o) => ({ jid: o, subids: [] })),
        config: core.snapshot(state),
        owners,
        jid,
        subid: sub.subid,
      });
      return ok(outcome(core, state, sub, undefined));
    }
    await core.emitSubscription(state, sub, sub.state, "owners", state.config.notifySub);
    return ok(outcome(core, state, sub, await lastItemFor(core, state, sub)));
  });
}

/**
 * Find the one subscription a request is about (§6.2.3, §6.3.4): the actor must act for `jid`
 * (`denied` otherwise), `jid` must hold one (not-subscribed), a subid must be one of its
 * (invalid-subid), and without a subid it must hold exactly one (subid-required).
 */
async function resolveSubscription(
  core: ServiceCore,
  state: NodeState,
  actor: string,
  jid: string,
  subid: string | undefined,
): Promise<Result<Subscription>> {
  if (!(await actsFor(core, state, actor, jid))) return fail("forbidden");
  const subs = core.subscriptionsOf(state, jid);
  if (subs.length === 0) return fail("not-subscribed");
  if (subid !== undefined) {
    const sub = subs.find((s) => s.subid === subid);
    return sub ? ok(sub) : fail("invalid-subid");
  }
  if (subs.length > 1) return fail("subid-required");
  return ok(subs[0]);
}

/** §6.2. Returns the ended subscription (the reply shows it with subscription='none'). */
export async function unsubscribe(
  core: ServiceCore,
  name: string,
  actor: string,
  jid: string,
  subid?: string,
): Promise<Result<Subscription>> {
  if (!jid) return fail("jid-required");
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const found = await resolveSubscription(core, state, actor, jid, subid);
    if (!found.ok) return found;
    await core.endSubscription(state, found.value, false);
    return ok(copySubscription(found.value));
  });
}

/** §6.3.2 */
export async function getSubscriptionOptions(
  core: ServiceCore,
  name: string,
  actor: string,
  jid: string,
  subid?: string,
): Promise<Result<Subscription>> {
  if (!jid) return fail("jid-required");
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const found = await resolveSubscription(core, state, actor, jid, subid);
  return found.ok ? ok(copySubscription(found.value)) : found;
}

/**
 * §6.3.5. An unconfigured subscription becomes subscribed: from now on it receives items (§6.1.6),
 * beginning with the last one when the node sends it on subscription.
 */
export async function setSubscriptionOptions(
  core: ServiceCore,
  name: string,
  actor: string,
  jid: string,
  options: Partial<SubscriptionOptions>,
  subid?: string,
): Promise<Result<Subscription>> {
  if (!jid) return fail("jid-required");
  const checked = validateSubscriptionOptions(options);
  if (!checked.ok) return checked;
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const found = await resolveSubscription(core, state, actor, jid, subid);
    if (!found.ok) return found;
    const sub = found.value;
    const updated: Subscription = {
      ...sub,
      options: mergeSubscriptionOptions(sub.options, checked.value, core.clock(), core.config.maxLeaseSeconds),
      state: sub.state === "unconfigured" ? "subscribed" : sub.state,
    };
    await core.saveSubscription(updated);
    core.putSubscription(state, updated);
    if (sub.state === "unconfigured") {
      const last = await lastItemFor(core, state, updated);
      if (last) await core.emit(lastItemEvent(core, state, updated, last));
    }
    return ok(copySubscription(updated));
  });
}

/**
 * §5.6: the subscriptions of every JID with the actor's bare JID, on one node or all nodes
 * (ordered by node, then creation). Ended leases are left out.
 */
export async function getOwnSubscriptions(
  core: ServiceCore,
  name: string | undefined,
  actor: string,
): Promise<Result<Subscription[]>> {
  let states: NodeState[];
  if (name === undefined) {
    // Only the nodes where the actor's bare JID holds subscriptions (the core's index, name order).
    await core.loadEverything();
    states = core.nodesSubscribedBy(jidBare(actor));
  } else {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    states = [state];
  }
  const bare = jidBare(actor);
  const now = core.clock();
  const out: Subscription[] = [];
  for (const state of states) {
    // The node's index by bare JID: the actor's own subscriptions, not every subscriber's.
    for (const sub of state.subscriptions.ofBare(bare)) {
      if (!leaseExpired(sub.options, now)) out.push(copySubscription(sub));
    }
  }
  return ok(out);
}
