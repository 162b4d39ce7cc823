// PEP (XEP-0163) as a variant of the one pubsub service: its defaults and its recipient filter
// (Prosody's subscriber_filter), which mod_pep wires; and, for the modules that use an account's
// service (mod_vcard_legacy, mod_vcard4, mod_bookmarks, mod_pubsub_http), how they reach it and the
// small helpers they share: publishing with "defaults only" options, reading one node's last payload.

import {
  PEP_NODE_DEFAULTS,
  type AccessModel,
  type AccessOracle,
  type NodeConfig,
  type PubsubEvent,
  type PubsubService,
  type Recipient,
  type Result,
  type ServiceConfig,
} from "../../../src/util/pubsub/index.js";
import { jidBare } from "../../../src/util/jid.js";
import { Element } from "../../../src/xml/stanza.js";
import type { StanzaBroadcaster } from "./broadcaster.js";
import type { PubsubContext } from "./context.js";
import type { PepServiceHandle } from "./services.js";
import { NS_PUBSUB } from "./xml.js";

// ---- what makes a service PEP: its defaults and its recipient filter -----------------------------
// (the node defaults themselves are the service's PEP_NODE_DEFAULTS)

/** XEP-0163 §5 / Prosody: what a PEP account advertises beyond the service's own features. */
export const PEP_EXTRA_FEATURES = ["auto-subscribe", "filtered-notifications", "last-published", "presence-notifications", "presence-subscribe"].map(
  (f) => `${NS_PUBSUB}#${f}`,
);

/** Prosody's check_node_config for PEP: these four, not authorize. */
export const PEP_ACCESS_MODELS: readonly AccessModel[] = ["open", "presence", "roster", "whitelist"];

/**
 * The configuration of an account's service (Prosody's mod_pep): the account (`owner`, its bare
 * JID) acts as owner of every node and alone may create nodes; PEP's node defaults (one item,
 * access model presence, last item on subscription and presence); auto-create on publish.
 */
export function pepServiceConfig(owner: string, limits: { maxItems: number; maxPayloadSize: number }): ServiceConfig {
  const isOwner = (jid: string) => jidBare(jid) === owner;
  return {
    nodeDefaults: PEP_NODE_DEFAULTS,
    maxItems: limits.maxItems,
    maxPayloadSize: limits.maxPayloadSize,
    accessModels: PEP_ACCESS_MODELS,
    autocreateOnPublish: true,
    autocreateOnSubscribe: false,
    canCreate: isOwner,
    isAdmin: isOwner,
  };
}

/** The protocol context of an account's service: identity pubsub/pep, PEP's features, no ad-hoc commands. */
export function pepContext(service: PubsubService, owner: string, broadcaster: StanzaBroadcaster, send: (stanza: Element) => Promise<void>): PubsubContext {
  return {
    service,
    jid: owner,
    broadcast: (event) => broadcaster.notify(event),
    send,
    identity: { category: "pubsub", type: "pep" },
    presenceEvents: true,
    presenceAware: true,
    adhocCommands: false,
    extraFeatures: PEP_EXTRA_FEATURES,
  };
}

/** The events filtered notifications apply to (Prosody's subscriber_filter runs on broadcasts). */
const FILTERED_KINDS = new Set<PubsubEvent["kind"]>(["items", "retract", "purge", "delete"]);

export interface PepRecipientOptions {
  /** Recipients that advertised "+notify" for this node. */
  interested(node: string): string[];
  /**
   * May `jid` receive events of `node` (the "subscribe" capability under the node's access model)?
   * `config` is the node's configuration at the event (a deleted node has no other).
   */
  mayReceive(node: string, jid: string, config: Readonly<NodeConfig>, deleted: boolean): Promise<boolean>;
  /**
   * The available resources (full JIDs) of an account registered by its bare JID that want `node`,
   * when known (a local account: its resources' own caps); undefined or empty when not known.
   */
  resourcesWanting?(bare: string, node: string): string[] | undefined;
}

/**
 * PEP's subscriber filter (the broadcaster's `recipients`): besides the node's subscribers
 * (explicit subscriptions, XEP-0060 style), item, retract, purge and delete notifications go to
 * every entity that advertised "<node>+notify" (XEP-0163 §4.3.2) and may subscribe under the node's
 * access model (§4.3.1: presence by default): the account's own resources and its contacts. Other
 * events (subscription, configuration, affiliation) go to the service's recipients.
 */
export function pepRecipients(opts: PepRecipientOptions): (event: PubsubEvent) => Promise<Recipient[]> {
  return async (event) => {
    if (!FILTERED_KINDS.has(event.kind)) return event.recipients;
    const out = [...event.recipients];
    const have = new Set(out.map((r) => r.jid));
    const wanting = opts.interested(event.node).filter((jid) => !have.has(jid));
    if (wanting.length === 0) return out;
    const allowed = await Promise.all(wanting.map((jid) => opts.mayReceive(event.node, jid, event.config, event.kind === "delete")));
    const extra: string[] = [];
    for (const [i, jid] of wanting.entries()) {
      if (!allowed[i]) continue;
      // A local contact registered by its bare JID (from its own resources' caps): the notification
      // goes to those of its resources that want the node (XEP-0163 §4.3.2), not to the bare JID,
      // which would reach the others too.
      const resources = jid === jidBare(jid) ? opts.resourcesWanting?.(jid, event.node) : undefined;
      if (resources && resources.length > 0) extra.push(...resources.filter((r) => !have.has(r)));
      else extra.push(jid);
    }
    // One copy per resource: a bare JID left gets none beside the copies its resources receive.
    const full = new Set([...have, ...extra].filter((jid) => jid !== jidBare(jid)).map((jid) => jidBare(jid)));
    const added = new Set<string>();
    for (const jid of extra) {
      if (added.has(jid) || (jid === jidBare(jid) && full.has(jid))) continue;
      added.add(jid);
      out.push({ jid, subids: [] });
    }
    return out;
  };
}

/** The access model's answer from a node's configuration alone (a deleted node's notification). */
export async function mayByModel(config: Readonly<NodeConfig>, owner: string, jid: string, access: AccessOracle): Promise<boolean> {
  switch (config.accessModel) {
    case "open":
      return true;
    case "presence":
      return access.isSubscribedToPresence(owner, jid);
    case "roster": {
      const groups = await access.rosterGroups(owner, jid);
      return groups !== null && groups.some((g) => config.rosterGroupsAllowed.includes(g));
    }
    default:
      return false;
  }
}

// ---- for the modules that use an account's service (module.depends("pep"), services.ts) ----------

/**
 * Publish `payload` as item `id`. `defaults` (form variables) configure the node if this publish
 * creates it and are otherwise not checked (Prosody's `_defaults_only`): the owner may have changed
 * the node since, and that is no reason to refuse the item.
 */
export async function publishWithDefaults(
  pep: PepServiceHandle,
  actor: string,
  node: string,
  id: string,
  payload: Element,
  defaults: Record<string, string>,
): Promise<Result<unknown>> {
  const item = { payload, size: Buffer.byteLength(payload.toString(), "utf8"), namespace: payload.attrs.xmlns };
  const first = await pep.service.publish(node, actor, id, item, defaults);
  if (first.ok || first.error !== "precondition-not-met") return first;
  return pep.service.publish(node, actor, id, item);
}

/** The payload of a node's last item as `actor` may see it; undefined when none (or not allowed). */
export async function lastPayload(pep: PepServiceHandle, node: string, actor: string): Promise<Element | undefined> {
  const last = await pep.service.getLastItem(node, actor);
  return last.ok && last.value?.payload instanceof Element ? last.value.payload : undefined;
}
