// Node lifecycle and configuration: create (§8.1), delete (§8.4), configure (§8.2), metadata
// (§5.4) and discovery of nodes (§5.2).

import { jidBare } from "../jid.js";
import { checkCapability } from "./acl.js";
import { copyNodeConfig, effectiveMaxItems, mergeNodeConfig, validateNodeConfig } from "./config.js";
import type { NodeState, ServiceCore } from "./core.js";
import { SubscriptionTable } from "./subscription-table.js";
import { fail, ok } from "./errors.js";
import type { NodeConfig, NodeList, NodeListEntry, NodeMeta, Recipient, Result, RsmQuery, RsmResult } from "./types.js";

/** Create a node; `name` undefined or "" asks for an instant node (§8.1.2). */
export async function createNode(
  core: ServiceCore,
  name: string | undefined,
  actor: string,
  config: Partial<NodeConfig> = {},
): Promise<Result<{ node: string }>> {
  // §8.1.1: insufficient privileges to create nodes -> forbidden (Prosody checks this first).
  if (!(await core.config.canCreate(actor))) return fail("forbidden");
  if (name === undefined || name === "") {
    if (!core.config.instantNodes) return fail("instant-nodes-unsupported");
    name = core.generateId();
  }
  const checked = validateNodeConfig(config, core.config);
  if (!checked.ok) return checked;
  const node = name;
  const created = await core.withLock(node, () => createLocked(core, node, actor, checked.value));
  return created.ok ? ok({ node }) : created;
}

/** Create under the caller's lock on `name`. The creator becomes the owner. */
export async function createLocked(
  core: ServiceCore,
  name: string,
  actor: string,
  config: Partial<NodeConfig>,
): Promise<Result<NodeState>> {
  if (await core.load(name)) return fail("conflict");
  const { maxNodes } = core.config;
  if (maxNodes !== undefined && (await core.nodeCount()) >= maxNodes) return fail("max-nodes-exceeded");
  const creator = jidBare(actor);
  const state: NodeState = {
    name,
    config: mergeNodeConfig(core.config.nodeDefaults, config),
    affiliations: new Map([[creator, "owner"]]),
    subscriptions: new SubscriptionTable(),
    creator,
    created: core.clock(),
    lastItem: null,
  };
  await core.commitRecord(state);
  core.adopt(state);
  core.bus.emit("node-created", name, { node: name, creator });
  return ok(state);
}

/** Everyone subscribed in any state, one entry per JID (for delete: §8.4.2 includes pending). */
function allSubscribers(state: NodeState): Recipient[] {
  const byJid = new Map<string, Recipient>();
  for (const sub of state.subscriptions.values()) {
    const r = byJid.get(sub.jid);
    if (r) r.subids.push(sub.subid);
    else byJid.set(sub.jid, { jid: sub.jid, subids: [sub.subid] });
  }
  return [...byJid.values()];
}

export async function deleteNode(
  core: ServiceCore,
  name: string,
  actor: string,
  redirect?: string,
): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const allowed = await core.check(state, actor, "delete");
    if (!allowed.ok) return allowed;
    const recipients = allSubscribers(state);
    // §8.4.1: items leave persistent storage before the node itself.
    await core.store.deleteItems(name);
    await core.store.deleteNode(name);
    core.forget(name);
    await core.emit(
      {
        kind: "delete",
        node: name,
        recipients,
        config: core.snapshot(state),
        owners: core.owners(state),
        ...(redirect !== undefined ? { redirect } : {}),
      },
      state.config.notifyDelete,
    );
    return ok(undefined);
  });
}

export async function getNodeConfig(core: ServiceCore, name: string, actor: string): Promise<Result<NodeConfig>> {
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const allowed = await core.check(state, actor, "configure");
  if (!allowed.ok) return allowed;
  return ok(copyNodeConfig(state.config));
}

/** May this subscription stay under the node's (new) access model? */
async function mayStaySubscribed(core: ServiceCore, state: NodeState, jid: string): Promise<boolean> {
  const affiliation = await core.affiliationOf(state, jid);
  if (affiliation !== "none") return affiliation !== "outcast" && affiliation !== "publish-only";
  if (state.config.accessModel === "authorize") return true; // already approved (or still pending)
  return (await checkCapability("none", "subscribe", core.facts(state, jid))).ok;
}

/**
 * §8.2: apply a partial configuration. Side effects as Prosody: leaving persistence clears the
 * items, a lower max_items trims them, a stricter access model ends the subscriptions it no longer
 * allows (each told "none"). pubsub#notify_config sends a configuration notification (§8.2).
 */
export async function setNodeConfig(
  core: ServiceCore,
  name: string,
  actor: string,
  partial: Partial<NodeConfig>,
): Promise<Result<NodeConfig>> {
  const checked = validateNodeConfig(partial, core.config);
  if (!checked.ok) return checked;
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const allowed = await core.check(state, actor, "configure");
    if (!allowed.ok) return allowed;
    const before = state.config;
    const after = mergeNodeConfig(before, checked.value);
    await core.commitRecord(state, { config: after });
    if (before.persistItems && !after.persistItems) {
      await core.store.deleteItems(name);
    } else if (after.persistItems && effectiveMaxItems(after, core.config) < effectiveMaxItems(before, core.config)) {
      await core.store.truncateItems(name, effectiveMaxItems(after, core.config));
      state.lastItem = undefined;
    }
    if (
      before.accessModel !== after.accessModel ||
      before.rosterGroupsAllowed.join("\u0000") !== after.rosterGroupsAllowed.join("\u0000")
    ) {
      for (const sub of Array.from(state.subscriptions.values())) {
        if (!(await mayStaySubscribed(core, state, sub.jid))) await core.endSubscription(state, sub);
      }
    }
    await core.emit(
      {
        kind: "configuration",
        node: name,
        recipients: after.notifyConfig ? await core.recipients(state) : [],
        config: core.snapshot(state),
        owners: core.owners(state),
        includeConfig: after.deliverPayloads,
      },
      after.notifyConfig,
    );
    return ok(copyNodeConfig(after));
  });
}

export async function getNodeMeta(core: ServiceCore, name: string, actor: string): Promise<Result<NodeMeta>> {
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const allowed = await core.check(state, actor, "get-metadata");
  if (!allowed.ok) return allowed;
  const withAffiliation = (a: string) => [...state.affiliations].filter(([, x]) => x === a).map(([j]) => j);
  const meta: NodeMeta = {
    node: name,
    nodeType: "leaf",
    config: copyNodeConfig(state.config),
    created: state.created,
    owners: withAffiliation("owner"),
    publishers: withAffiliation("publisher"),
    numSubscribers: state.subscriptions.size - state.subscriptions.pending,
  };
  if (state.creator !== undefined) meta.creator = state.creator;
  return ok(meta);
}

/** XEP-0059 paging over an ordered list of keys. */
export function pageByKey<T>(
  list: readonly T[],
  keyOf: (x: T) => string,
  rsm: RsmQuery,
): Result<{ page: T[]; rsm: RsmResult }> {
  let start = 0;
  let end = list.length;
  if (rsm.after !== undefined) {
    const at = list.findIndex((x) => keyOf(x) === rsm.after);
    if (at < 0) return fail("item-not-found", "RSM after: no such key");
    start = at + 1;
  }
  if (rsm.before !== undefined && rsm.before !== "") {
    const at = list.findIndex((x) => keyOf(x) === rsm.before);
    if (at < 0) return fail("item-not-found", "RSM before: no such key");
    end = at;
  }
  if (rsm.max !== undefined) {
    if (rsm.before !== undefined) start = Math.max(start, end - rsm.max);
    else end = Math.min(end, start + rsm.max);
  }
  const page = list.slice(start, Math.max(start, end));
  const result: RsmResult = { count: list.length };
  if (page.length > 0) {
    result.first = keyOf(page[0]);
    result.last = keyOf(page[page.length - 1]);
  }
  return ok({ page, rsm: result });
}

/** §5.2: the nodes this actor may see, by name; with RSM when asked. */
export async function listNodes(core: ServiceCore, actor: string, rsm?: RsmQuery): Promise<Result<NodeList>> {
  const visible: NodeListEntry[] = [];
  for (const name of [...(await core.store.listNodes())].sort()) {
    const state = await core.load(name);
    if (!state || !(await core.check(state, actor, "discover")).ok) continue;
    visible.push(state.config.title !== undefined ? { node: name, title: state.config.title } : { node: name });
  }
  if (!rsm) return ok({ nodes: visible });
  const paged = pageByKey(visible, (e) => e.node, rsm);
  return paged.ok ? ok({ nodes: paged.value.page, rsm: paged.value.rsm }) : paged;
}
