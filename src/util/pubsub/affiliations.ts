// Affiliations: the entity's own (§5.7) and the owner's management of them (§8.9), always by
// bare JID (§4.1: "All affiliations MUST be based on a bare JID").

import { jidBare, jidSplit } from "../jid.js";
import { grantOf, mayHoldSubscription } from "./acl.js";
import { setState } from "./owner-subscriptions.js";
import type { NodeState, ServiceCore } from "./core.js";
import { fail, ok } from "./errors.js";
import { AFFILIATIONS, type Affiliation, type AffiliationChange, type FailedEntry, type Result } from "./types.js";

/** §5.7: the actor's explicit affiliations (never "none"), on one node or every node by name. */
export async function getOwnAffiliations(
  core: ServiceCore,
  name: string | undefined,
  actor: string,
): Promise<Result<Array<{ node: string; affiliation: Affiliation }>>> {
  let states: NodeState[];
  if (name === undefined) {
    states = [...(await core.loadAll())].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } else {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    states = [state];
  }
  const bare = jidBare(actor);
  return ok(
    states.flatMap((s) => {
      const affiliation = s.affiliations.get(bare);
      return affiliation ? [{ node: s.name, affiliation }] : [];
    }),
  );
}

/** §8.9.1: every affiliated entity except "none". */
export async function getNodeAffiliations(
  core: ServiceCore,
  name: string,
  actor: string,
): Promise<Result<Array<{ jid: string; affiliation: Affiliation }>>> {
  const state = await core.load(name);
  if (!state) return fail("item-not-found");
  const allowed = await core.check(state, actor, "manage-affiliations");
  if (!allowed.ok) return allowed;
  return ok([...state.affiliations].map(([jid, affiliation]) => ({ jid, affiliation })));
}

/**
 * §8.9.2: apply a delta. A JID named twice -> bad-request. Entries that are invalid, or that would
 * leave the node without an owner (§8.9.2.4), come back in `failed` with their current
 * affiliation (not-acceptable); the rest are applied. Becoming outcast or publish-only ends the
 * entity's subscriptions; each affected entity gets an affiliation event (§8.9.4).
 */
export async function setNodeAffiliations(
  core: ServiceCore,
  name: string,
  actor: string,
  changes: readonly AffiliationChange[],
): Promise<Result<void>> {
  return core.withLock(name, async () => {
    const state = await core.load(name);
    if (!state) return fail("item-not-found");
    const allowed = await core.check(state, actor, "manage-affiliations");
    if (!allowed.ok) return allowed;
    const seen = new Set<string>();
    for (const change of changes) {
      const bare = jidBare(change.jid);
      if (seen.has(bare)) return fail("bad-request", `${bare} is listed twice`);
      seen.add(bare);
    }
    const failed: FailedEntry[] = [];
    const valid: Array<{ jid: string; affiliation: Affiliation }> = [];
    for (const change of changes) {
      const jid = jidBare(change.jid);
      const current = state.affiliations.get(jid) ?? "none";
      if (!jidSplit(change.jid) || !AFFILIATIONS.includes(change.affiliation)) {
        failed.push({ jid: change.jid, affiliation: current });
      } else if (change.affiliation !== current) {
        valid.push({ jid, affiliation: change.affiliation });
      }
    }
    // The node keeps at least one owner: if the delta would remove them all, no demotion applies.
    const ownersAfter = new Set(core.owners(state));
    for (const { jid, affiliation } of valid) {
      if (affiliation === "owner") ownersAfter.add(jid);
      else ownersAfter.delete(jid);
    }
    const applied =
      ownersAfter.size > 0
        ? valid
        : valid.filter(({ jid }) => {
            if (state.affiliations.get(jid) !== "owner") return true;
            failed.push({ jid, affiliation: "owner" });
            return false;
          });
    if (applied.length > 0) {
      const next = new Map(state.affiliations);
      for (const { jid, affiliation } of applied) {
        if (affiliation === "none") next.delete(jid);
        else next.set(jid, affiliation);
      }
      await core.commitRecord(state, { affiliations: next });
      for (const { jid, affiliation } of applied) await afterChange(core, state, jid, affiliation);
    }
    if (failed.length > 0) return { ok: false, error: "not-acceptable", failed };
    return ok(undefined);
  });
}

async function afterChange(core: ServiceCore, state: NodeState, bare: string, affiliation: Affiliation): Promise<void> {
  // The node's index by bare JID: the entity's subscriptions only, not every subscriber's.
  if (!mayHoldSubscription(affiliation)) {
    for (const sub of state.subscriptions.ofBare(bare)) await core.endSubscription(state, sub);
  } else if (grantOf(affiliation, "subscribe") === true) {
    // §8.7 note: an entity that becomes member, publisher or owner while its request waits is approved.
    for (const sub of state.subscriptions.ofBare(bare)) {
      if (sub.state === "pending") await setState(core, state, sub, "subscribed");
    }
  }
  await core.emit({
    kind: "affiliation",
    node: state.name,
    recipients: [{ jid: bare, subids: [] }],
    config: core.snapshot(state),
    owners: core.owners(state),
    jid: bare,
    affiliation,
  });
}
