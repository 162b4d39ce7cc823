// Items: publish (§7.1) with publish-options (§7.1.5) and auto-create (§7.1.4), retract (§7.2),
// purge (§8.5), retrieval (§6.5) with max_items and RSM, item expiry (pubsub#item_expire).

import { jidBare } from "../jid.js";
import { grantOf, publishModelAllows } from "./acl.js";
import {
  checkPreconditions,
  effectiveMaxItems,
  effectiveMaxPayloadSize,
  itemLifetimeMs,
  parseNodeConfigForm,
  validateNodeConfig,
} from "./config.js";
import type { NodeState, ServiceCore } from "./core.js";
import { fail, ok } from "./errors.js";
import { createLocked } from "./nodes.js";
import type { ItemPage, ItemQuery, NotifiedItem, PublishItem, PublishOutcome, Result, StoredItem } from "./types.js";

type Preconditions = Readonly<Record<string, string | string[]>>;

/** A missing node, auto-created when the service allows it; publish-options become its configuration. */
async function nodeForPublish(
  core: ServiceCore,
  name: string,
  actor: string,
  preconditions: Preconditions | undefined,
): Promise<Result<{ state: NodeState; created: boolean }>> {
  const existing = await core.load(name);
  if (existing) return ok({ state: existing, created: false });
  // §7.1.3.3: no node and no auto-create -> item-not-found.
  if (!core.config.autocreateOnPublish) return fail("item-not-found");
  if (!(await core.config.canCreate(actor))) return fail("forbidden");
  const parsed = parseNodeConfigForm(preconditions ?? {}, { unknown: "reject" });
  if (!parsed.ok) return parsed;
  const checked = validateNodeConfig(parsed.value, core.config);
  if (!checked.ok) return checked;
  const created = await createLocked(core, name, actor, checked.value);
  return created.ok ? ok({ state: created.value, created: true }) : created;
}

/** XEP-0060 §4.3 / §7.1.3.6: does the request's item fit the node's event type? */
function checkEventType(state: NodeState, item: PublishItem | undefined): Result<void> {
  const { persistItems, deliverPayloads } = state.config;
  if (!persistItems && !deliverPayloads) return item ? fail("item-forbidden") : ok(undefined);
  if (!item) return fail("item-required");
  if (deliverPayloads && item.payload === undefined) return fail("payload-required");
  return ok(undefined);
}

export async function publish(
  core: ServiceCore,
  name: string,
  actor: string,
  id: string | undefined,
  item: PublishItem | undefined,
  preconditions?: Preconditions,
): Promise<Result<PublishOutcome>> {
  return core.withLock(name, async () => {
    const found = await nodeForPublish(core, name, actor, preconditions);
    if (!found.ok) return found;
    const { state, created } = found.value;
    const affiliation = await core.affiliationOf(state, actor);
    // §7.1.3.1 and pubsub#publish_model.
    if (!publishModelAllows(affiliation, state.config.publishModel, core.isSubscribed(state, actor))) {
      return fail("forbidden");
    }
    if (!created && preconditions) {
      const met = checkPreconditions(state.config, preconditions);
      if (!met.ok) return met;
    }
    const fits = checkEventType(state, item);
    if (!fits.ok) return fits;
    const config = state.config;
    // §7.1.3.4
    if (item?.size !== undefined && item.size > effectiveMaxPayloadSize(config, core.config)) {
      return fail("payload-too-big");
    }
    // §7.1.3.5: the payload's namespace against pubsub#type, when both are known.
    if (item?.namespace !== undefined && config.type !== undefined && item.namespace !== config.type) {
      return fail("invalid-payload", `payload namespace must be ${config.type}`);
    }
    // §4.3: a transient notification-only node has no item, so no ItemID either.
    const itemId = item ? (id ?? core.generateId()) : undefined;
    const stored: StoredItem = { id: itemId ?? "", publisher: jidBare(actor), published: core.clock() };
    if (item?.payload !== undefined) stored.payload = item.payload;
    let dropped: string[] = [];
    if (config.persistItems && itemId !== undefined) {
      const kept = await storeItem(core, state, stored);
      if (!kept.ok) return kept;
      dropped = kept.value;
    }
    if (itemId !== undefined) state.lastItem = stored;
    if (dropped.length > 0 && config.notifyRetract) await emitRetract(core, state, dropped);
    const notified: NotifiedItem = { publisher: stored.publisher, published: stored.published };
    if (itemId !== undefined) notified.id = itemId;
    if (config.deliverPayloads && stored.payload !== undefined) notified.payload = stored.payload;
    await core.emit(
      {
        kind: "items",
        node: name,
        item: notified,
        recipients: config.deliverNotifications ? await core.recipients(state) : [],
        config: core.snapshot(state),
        owners: core.owners(state),
      },
      config.deliverNotifications,
    );
    return ok(itemId !== undefined ? { node: name, id: itemId, created } : { node: name, created });
  });
}

/**
 * Durably append, then keep max_items (pubsub#publish_node_full): reject refuses a new id on a full
 * node (§7.1.3, conflict + node-full), discard-oldest drops the oldest silently (Prosody),
 * retract-oldest drops them and returns their ids for retract notifications.
 */
async function storeItem(core: ServiceCore, state: NodeState, item: StoredItem): Promise<Result<string[]>> {
  const { store } = core;
  const max = effectiveMaxItems(state.config, core.config);
  const policy = state.config.publishNodeFull;
  if (policy === "reject") {
    const replaces = (await store.getItem(state.name, item.id)) !== undefined;
    if (!replaces && (await store.countItems(state.name)) >= max) return fail("node-full");
  }
  if (policy !== "retract-oldest") {
    // Append and trim in one durable write.
    await store.appendItem(state.name, item, { keep: max });
    return ok([]);
  }
  await store.appendItem(state.name, item);
  const excess = (await store.countItems(state.name)) - max;
  if (excess <= 0) return ok([]);
  const oldest = (await store.listItems(state.name, { limit: excess })).map((i) => i.id);
  await store.deleteItems(state.name, { ids: oldest });
  return ok(oldest);
}

async function emitRetract(core: ServiceCore, state: NodeState, ids: string[], broadcast = true): Promise<void> {
  await core.emit(
    {
      kind: "retract",
      node: state.name,
      ids,
      recipients: broadcast ? await core.recipients(state) : [],
      config: core.snapshot(state),
      owners: core.owners(state),
    },
    broadcast,
  );
}

/**
 * §7.2. `notify`: true -> subscribers are told (§7.2.2.1 MUST); false -> not; undefined -> as
 * pubsub#notify_retract says.
 */
export async function retract(
  core: ServiceCore,
  name: string,
  actor: string,
  id: string,
  notify?: boolean,
): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    if (id === "") return fail("item-required");
    const affiliation = await core.affiliationOf(state, actor);
    const any = grantOf(affiliation, "retract-any") === true;
    if (!any && grantOf(affiliation, "retract-own") !== true) return fail("forbidden");
    if (!state.config.persistItems) return fail("persistent-items-unsupported");
    const item = await core.store.getItem(name, id);
    if (!item) return fail("item-not-found");
    // §4.1 note: publish-only may delete only its own items.
    if (!any && item.publisher !== jidBare(actor)) return fail("forbidden");
    await core.store.deleteItems(name, { ids: [id] });
    if (state.lastItem?.id === id) state.lastItem = undefined;
    await emitRetract(core, state, [id], notify ?? state.config.notifyRetract);
    return ok(undefined);
  });
}

/** §8.5. One <purge/> notification instead of one retract per item, when notify_retract is on. */
export async function purge(core: ServiceCore, name: string, actor: string): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const allowed = await core.check(state, actor, "purge");
    if (!allowed.ok) return allowed;
    if (!state.config.persistItems) return fail("persistent-items-unsupported");
    await core.store.deleteItems(name);
    state.lastItem = null;
    const broadcast = state.config.notifyRetract;
    await core.emit(
      {
        kind: "purge",
        node: name,
        recipients: broadcast ? await core.recipients(state) : [],
        config: core.snapshot(state),
        owners: core.owners(state),
      },
      broadcast,
    );
    return ok(undefined);
  });
}

/** Remove items older than pubsub#item_expire allows. */
export async function expireItems(core: ServiceCore, state: NodeState): Promise<void> {
  const lifetime = itemLifetimeMs(state.config, core.config);
  if (lifetime === undefined) return;
  const cutoff = core.clock() - lifetime;
  if (state.config.persistItems) await core.store.deleteItems(state.name, { olderThan: cutoff });
  if (state.lastItem && state.lastItem.published < cutoff) state.lastItem = state.config.persistItems ? undefined : null;
}

/** The newest live item (cached), or undefined. */
export async function lastItemOf(core: ServiceCore, state: NodeState): Promise<StoredItem | undefined> {
  await expireItems(core, state);
  if (state.lastItem === undefined) {
    const newest = state.config.persistItems
      ? await core.store.listItems(state.name, { limit: 1, reverse: true })
      : [];
    state.lastItem = newest[0] ?? null;
  }
  return state.lastItem ?? undefined;
}

/** §6.5 access: existence, the access model, the subid rules of §6.5.9.1-2. */
async function mayRetrieve(core: ServiceCore, name: string, actor: string, subid?: string): Promise<Result<NodeState>> {
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const allowed = await core.check(state, actor, "retrieve-items");
  if (!allowed.ok) return allowed;
  const bare = jidBare(actor);
  if (subid !== undefined) {
    const sub = state.subscriptions.get(subid);
    if (!sub || jidBare(sub.jid) !== bare) return fail("invalid-subid");
  } else {
    const own = state.subscriptions.ofJid(actor).filter((s) => s.state !== "pending");
    if (bare !== actor) own.push(...state.subscriptions.ofJid(bare).filter((s) => s.state !== "pending"));
    if (own.length > 1) return fail("subid-required");
  }
  return ok(state);
}

/**
 * §6.5. Items come oldest first (publish order), as Prosody returns them. `ids`: those items in the
 * requested order, missing ones skipped; `max` (max_items): the N newest; `rsm`: a XEP-0059 page of
 * the publish-ordered list (`before: ""` = the last page).
 */
export async function getItems(
  core: ServiceCore,
  name: string,
  actor: string,
  query: ItemQuery = {},
): Promise<Result<ItemPage>> {
  const access = await mayRetrieve(core, name, actor, query.subid);
  if (!access.ok) return access;
  const state = access.value;
  if (!state.config.persistItems) return fail("persistent-items-unsupported");
  await expireItems(core, state);
  const { store } = core;
  const view = { itemreply: state.config.itemreply, owners: core.owners(state) };
  if (query.ids) {
    const found = new Map((await store.listItems(name, { ids: query.ids })).map((i) => [i.id, i]));
    return ok({ items: query.ids.flatMap((id) => found.get(id) ?? []), ...view });
  }
  const rsm = query.rsm;
  const max = rsm?.max !== undefined && query.max !== undefined ? Math.min(rsm.max, query.max) : (rsm?.max ?? query.max);
  if (!rsm) {
    const items = max === undefined ? await store.listItems(name) : await newest(core, name, max);
    return ok({ items, ...view });
  }
  let items: StoredItem[];
  if (rsm.after !== undefined) {
    if (!(await store.getItem(name, rsm.after))) return fail("item-not-found", "RSM after: no such item");
    items = await store.listItems(name, { after: rsm.after, limit: max });
  } else if (rsm.before !== undefined) {
    if (rsm.before !== "" && !(await store.getItem(name, rsm.before))) {
      return fail("item-not-found", "RSM before: no such item");
    }
    const before = rsm.before === "" ? undefined : rsm.before;
    items = (await store.listItems(name, { before, limit: max, reverse: true })).reverse();
  } else {
    items = await store.listItems(name, { limit: max });
  }
  const page: ItemPage = { items, rsm: { count: await store.countItems(name) }, ...view };
  if (items.length > 0 && page.rsm) {
    page.rsm.first = items[0].id;
    page.rsm.last = items[items.length - 1].id;
  }
  return ok(page);
}

async function newest(core: ServiceCore, name: string, max: number): Promise<StoredItem[]> {
  return (await core.store.listItems(name, { limit: max, reverse: true })).reverse();
}

export async function getItem(core: ServiceCore, name: string, actor: string, id: string): Promise<Result<StoredItem>> {
  const got = await getItems(core, name, actor, { ids: [id] });
  if (!got.ok) return got;
  const item = got.value.items[0];
  return item ? ok(item) : fail("item-not-found");
}

/** The newest item under the same access rules as retrieval; transient nodes answer from the cache. */
export async function getLastItem(
  core: ServiceCore,
  name: string,
  actor: string,
): Promise<Result<StoredItem | undefined>> {
  const access = await mayRetrieve(core, name, actor);
  if (!access.ok) return access;
  return ok(await lastItemOf(core, access.value));
}
