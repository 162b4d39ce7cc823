// Who may do what: XEP-0060 §4.1 "Affiliations and their Privileges" as data, the access models of
// §4.5 deciding what an entity without affiliation ("none") may do, and the publish models.

import { fail, ok } from "./errors.js";
import type { AccessModel, Affiliation, PublishModel, Result } from "./types.js";

export type Capability =
  | "subscribe"
  | "retrieve-items"
  | "publish"
  | "retract-own" // delete an item the actor published
  | "retract-any" // delete any item
  | "purge"
  | "configure"
  | "delete"
  | "manage-subscriptions" // §8.8, incl. approving pending ones (§8.6) and subscribing others
  | "manage-affiliations" // §8.9
  | "get-pending" // §8.7
  | "get-metadata" // §5.4
  | "discover"; // see the node in listings (§5.2)

/** true: allowed; false: forbidden; "access-model": the node's access model decides (affiliation none). */
export type Grant = boolean | "access-model";

const ALL = (grant: boolean): Record<Capability, Grant> => ({
  subscribe: grant,
  "retrieve-items": grant,
  publish: grant,
  "retract-own": grant,
  "retract-any": grant,
  purge: grant,
  configure: grant,
  delete: grant,
  "manage-subscriptions": grant,
  "manage-affiliations": grant,
  "get-pending": grant,
  "get-metadata": grant,
  discover: grant,
});

/**
 * XEP-0060 §4.1. The starred cells: a publisher may delete/purge any item (the XEP's MAY, as
 * Prosody); publish-only may delete only its own items (the XEP's SHOULD) and may not purge.
 */
export const CAPABILITIES: Readonly<Record<Affiliation, Readonly<Record<Capability, Grant>>>> = {
  owner: ALL(true),
  publisher: {
    ...ALL(false),
    subscribe: true,
    "retrieve-items": true,
    publish: true,
    "retract-own": true,
    "retract-any": true,
    purge: true,
    "get-metadata": true,
    discover: true,
  },
  "publish-only": { ...ALL(false), publish: true, "retract-own": true, "get-metadata": true, discover: true },
  member: { ...ALL(false), subscribe: true, "retrieve-items": true, "get-metadata": true, discover: true },
  none: {
    ...ALL(false),
    subscribe: "access-model",
    "retrieve-items": "access-model",
    discover: "access-model",
    "get-metadata": true,
  },
  outcast: ALL(false),
};

export function grantOf(affiliation: Affiliation, capability: Capability): Grant {
  return CAPABILITIES[affiliation][capability];
}

/** What the access model needs to know about the entity, asked lazily (the oracle may be remote). */
export interface AccessFacts {
  accessModel: AccessModel;
  /** Has a subscription in state subscribed (for authorize: retrieval by subscribers only). */
  isSubscribed(): boolean;
  /** Subscribed to (any) node owner's presence. */
  hasPresenceSubscription(): Promise<boolean>;
  /** In one of pubsub#roster_groups_allowed of (any) node owner's roster. */
  inAllowedRosterGroup(): Promise<boolean>;
}

/**
 * The access model's answer for an entity with affiliation "none" (§4.5, §6.1.3, §6.5.9).
 * For "subscribe" under authorize this says ok; the caller makes the subscription pending.
 */
export async function accessModelAllows(
  capability: "subscribe" | "retrieve-items" | "discover",
  facts: AccessFacts,
): Promise<Result<void>> {
  switch (facts.accessModel) {
    case "open":
      return ok(undefined);
    case "presence":
      // §6.1.3.2, §6.5.9.6
      return (await facts.hasPresenceSubscription()) ? ok(undefined) : fail("presence-subscription-required");
    case "roster":
      // §6.1.3.3, §6.5.9.7
      return (await facts.inAllowedRosterGroup()) ? ok(undefined) : fail("not-in-roster-group");
    case "whitelist":
      // §6.1.3.4, §6.5.9.8: only affiliated entities (the whitelist) get in.
      return fail("closed-node");
    case "authorize":
      // §4.5: anyone may ask to subscribe; §6.5.9.3: only subscribers may retrieve items.
      if (capability === "retrieve-items" && !facts.isSubscribed()) return fail("retrieve-not-subscribed");
      return ok(undefined);
  }
}

/** Decide a capability for an affiliation, consulting the access model for "none". */
export async function checkCapability(
  affiliation: Affiliation,
  capability: Capability,
  facts: AccessFacts,
): Promise<Result<void>> {
  const grant = grantOf(affiliation, capability);
  if (grant === true) return ok(undefined);
  if (grant === false) return fail("forbidden");
  if (capability !== "subscribe" && capability !== "retrieve-items" && capability !== "discover") {
    return fail("forbidden");
  }
  return accessModelAllows(capability, facts);
}

/**
 * pubsub#publish_model: publishers (the §4.1 table), subscribers (also anyone subscribed), open
 * (anyone but an outcast).
 */
export function publishModelAllows(affiliation: Affiliation, model: PublishModel, isSubscriber: boolean): boolean {
  if (affiliation === "outcast") return false;
  if (grantOf(affiliation, "publish") === true) return true;
  if (model === "open") return true;
  return model === "subscribers" && isSubscriber;
}

/**
 * May an entity of this affiliation hold a subscription at all? (publish-only and outcast may not:
 * §4.1; used to drop subscriptions when affiliations change.)
 */
export function mayHoldSubscription(affiliation: Affiliation): boolean {
  return grantOf(affiliation, "subscribe") !== false;
}
