// What presence and time do to a service: the last item for subscribers coming online
// (send_last_published_item = on_sub_and_presence), the end of temporary subscriptions
// (pubsub#expire = presence, §12.17), and sweeps of ended leases (§12.18) and expired items.

import { jidBare } from "../jid.js";
import type { ServiceCore } from "./core.js";
import { expireItems, lastItemOf } from "./items.js";
import { leaseExpired } from "./options.js";
import type { Recipient } from "./types.js";

/** Does a subscription's JID cover this address? A bare subscription covers every resource. */
function covers(subscribed: string, jid: string): boolean {
  return subscribed === jid || subscribed === jidBare(jid);
}

/**
 * `jid` became available: for each node that sends the last item on presence and where `jid` is
 * subscribed (directly or through its bare JID), send it that item, addressed to `jid`.
 */
export async function onAvailable(core: ServiceCore, jid: string): Promise<void> {
  const now = core.clock();
  // Only the nodes where this bare JID holds subscriptions (the core's index), not every node.
  await core.loadEverything();
  for (const state of core.nodesSubscribedBy(jidBare(jid))) {
    if (state.config.sendLastPublishedItem !== "on_sub_and_presence") continue;
    // The node's index by bare JID: this entity's subscriptions (creation order), not every subscriber's.
    const subs = state.subscriptions
      .ofBare(jidBare(jid))
      .filter((s) => s.state === "subscribed" && s.options.deliver && !leaseExpired(s.options, now) && covers(s.jid, jid));
    if (subs.length === 0) continue;
    const last = await lastItemOf(core, state);
    if (!last) continue;
    const recipient: Recipient = {
      jid,
      subids: subs.map((s) => s.subid),
      includeBody: subs.some((s) => s.options.includeBody),
    };
    const item = { id: last.id, publisher: last.publisher, published: last.published };
    await core.emit({
      kind: "last-item",
      node: state.name,
      item: state.config.deliverPayloads && last.payload !== undefined ? { ...item, payload: last.payload } : item,
      recipients: [recipient],
      config: core.snapshot(state),
      owners: core.owners(state),
    });
  }
}

/**
 * `jid` went offline: end its temporary subscriptions (§12.17: "When the service receives
 * unavailable presence from the full JID, it MUST cancel the temporary subscription"). A bare JID
 * means every resource went away. The subscriber is not told (it is gone); owners are, if notify_sub.
 */
export async function onUnavailable(core: ServiceCore, jid: string): Promise<void> {
  const everyResource = jid === jidBare(jid);
  await core.loadEverything();
  for (const state of core.nodesSubscribedBy(jidBare(jid))) {
    const own = everyResource ? state.subscriptions.ofBare(jid) : state.subscriptions.ofJid(jid);
    const ending = own.filter((s) => s.options.expire === "presence");
    if (ending.length === 0) continue;
    await core.withLock(state.name, async () => {
      for (const sub of ending) {
        if (state.subscriptions.get(sub.subid) === sub) await core.endSubscription(state, sub, false);
      }
    });
  }
}

/** End every lease that is over and remove expired items, on all nodes. Call it from a timer. */
export async function sweep(core: ServiceCore): Promise<void> {
  for (const state of await core.loadAll()) {
    await core.withLock(state.name, async () => {
      const now = core.clock();
      for (const sub of Array.from(state.subscriptions.values())) {
        if (leaseExpired(sub.options, now)) await core.endSubscription(state, sub);
      }
      await expireItems(core, state);
    });
  }
}
