// Error keys of the pubsub service and how each maps onto XMPP (RFC 6120 §8.3 stanza errors plus an
// optional child in http://jabber.org/protocol/pubsub#errors). XEP-0060 §11 and the per-use-case
// sections name the pairs; where Prosody differs, the comment says which one we follow.

import type { PubsubFailure } from "./types.js";

export const PUBSUB_ERRORS_NS = "http://jabber.org/protocol/pubsub#errors";

export type StanzaErrorType = "cancel" | "auth" | "modify" | "wait";

export interface PubsubErrorSpec {
  type: StanzaErrorType;
  /** RFC 6120 defined condition (urn:ietf:params:xml:ns:xmpp-stanzas). */
  condition: string;
  /** Child element in PUBSUB_ERRORS_NS. */
  pubsubError?: string;
  /** For pubsubError "unsupported": the feature attribute. */
  feature?: string;
}

export const PUBSUB_ERRORS = {
  "bad-request": { type: "modify", condition: "bad-request" },
  // XEP-0060 §8.1.1 create an existing node; Prosody: cancel/conflict.
  conflict: { type: "cancel", condition: "conflict" },
  forbidden: { type: "auth", condition: "forbidden" },
  "item-not-found": { type: "cancel", condition: "item-not-found" },
  "not-acceptable": { type: "modify", condition: "not-acceptable" },
  "not-allowed": { type: "cancel", condition: "not-allowed" },
  "registration-required": { type: "auth", condition: "registration-required" },
  "internal-server-error": { type: "wait", condition: "internal-server-error" },
  "feature-not-implemented": { type: "cancel", condition: "feature-not-implemented" },
  // §6.1.3.1
  "invalid-jid": { type: "modify", condition: "bad-request", pubsubError: "invalid-jid" },
  // §6.1.3.2
  "presence-subscription-required": {
    type: "auth",
    condition: "not-authorized",
    pubsubError: "presence-subscription-required",
  },
  // §6.1.3.3
  "not-in-roster-group": { type: "auth", condition: "not-authorized", pubsubError: "not-in-roster-group" },
  // §6.1.3.4
  "closed-node": { type: "cancel", condition: "not-allowed", pubsubError: "closed-node" },
  // §6.1.3.7
  "pending-subscription": { type: "auth", condition: "not-authorized", pubsubError: "pending-subscription" },
  // §6.1.3.9
  "too-many-subscriptions": {
    type: "wait",
    condition: "policy-violation",
    pubsubError: "too-many-subscriptions",
  },
  // §6.2.3.4, §6.3.4.2: unsubscribe/options when not subscribed (the XEP's example uses type cancel).
  "not-subscribed": { type: "cancel", condition: "unexpected-request", pubsubError: "not-subscribed" },
  // §6.5.9.3: retrieving items from an authorize node without a subscription.
  "retrieve-not-subscribed": { type: "auth", condition: "not-authorized", pubsubError: "not-subscribed" },
  // §6.2.3.1, §6.3.4.4, §6.5.9.1: several subscriptions, no subid given.
  "subid-required": { type: "modify", condition: "bad-request", pubsubError: "subid-required" },
  // §6.2.3.5, §6.3.4.5, §6.5.9.2
  "invalid-subid": { type: "modify", condition: "not-acceptable", pubsubError: "invalid-subid" },
  // §6.3.4.3
  "jid-required": { type: "modify", condition: "bad-request", pubsubError: "jid-required" },
  // §6.3.5: an invalid set of subscription options.
  "invalid-options": { type: "modify", condition: "bad-request", pubsubError: "invalid-options" },
  // §7.2.3.3 and any request without a node attribute.
  "nodeid-required": { type: "modify", condition: "bad-request", pubsubError: "nodeid-required" },
  // §8.1.2: instant node requested but unsupported.
  "instant-nodes-unsupported": { type: "modify", condition: "not-acceptable", pubsubError: "nodeid-required" },
  // §7.1.3.6: persistent node and no <item/>; §7.2.3.4: retract without an item id.
  "item-required": { type: "modify", condition: "bad-request", pubsubError: "item-required" },
  // §7.1.3.6: notification-only transient node and an <item/>.
  "item-forbidden": { type: "modify", condition: "bad-request", pubsubError: "item-forbidden" },
  // §7.1.3.6: payload node and an empty <item/>.
  "payload-required": { type: "modify", condition: "bad-request", pubsubError: "payload-required" },
  // §7.1.3.5
  "invalid-payload": { type: "modify", condition: "bad-request", pubsubError: "invalid-payload" },
  // §7.1.3.4
  "payload-too-big": { type: "modify", condition: "not-acceptable", pubsubError: "payload-too-big" },
  // §7.1.5: publish-options not matching the node configuration.
  "precondition-not-met": { type: "cancel", condition: "conflict", pubsubError: "precondition-not-met" },
  // §7.1.3 pubsub#publish_node_full = reject.
  "node-full": { type: "cancel", condition: "conflict", pubsubError: "node-full" },
  "max-items-exceeded": { type: "cancel", condition: "not-allowed", pubsubError: "max-items-exceeded" },
  "max-nodes-exceeded": { type: "cancel", condition: "not-allowed", pubsubError: "max-nodes-exceeded" },
  "configuration-required": { type: "modify", condition: "not-acceptable", pubsubError: "configuration-required" },
  // §8.1.3: access model not offered by the service.
  "unsupported-access-model": {
    type: "modify",
    condition: "not-acceptable",
    pubsubError: "unsupported-access-model",
  },
  // §6.5.9.4, §7.2.3.5, §8.5.3.3: the node keeps no items. Prosody uses a non-standard child; we follow the XEP.
  "persistent-items-unsupported": {
    type: "cancel",
    condition: "feature-not-implemented",
    pubsubError: "unsupported",
    feature: "persistent-items",
  },
  // Generic: the failure carries `feature`.
  unsupported: { type: "cancel", condition: "feature-not-implemented", pubsubError: "unsupported" },
} as const satisfies Record<string, PubsubErrorSpec>;

export type PubsubErrorKey = keyof typeof PUBSUB_ERRORS;

/** The XMPP shape of a failure (the failure's own `feature` wins over the table's). */
export function errorSpec(failure: Pick<PubsubFailure, "error" | "feature">): PubsubErrorSpec {
  const spec: PubsubErrorSpec = PUBSUB_ERRORS[failure.error];
  if (failure.feature !== undefined) return { ...spec, feature: failure.feature };
  return spec;
}

export function fail(error: PubsubErrorKey, text?: string): PubsubFailure {
  return text === undefined ? { ok: false, error } : { ok: false, error, text };
}

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}
