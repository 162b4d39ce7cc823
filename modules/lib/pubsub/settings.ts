// Reading the component's options into the service's configuration (componentSettings):
// node_defaults (a Lua table keyed by form variable, Prosody's internal option name, or Herald's),
// the node-creation policy pubsub_create_node, the limits and switches mod_pubsub documents.

import { ConfigTable, type ConfigValue, type OptionReader } from "../../../src/config/options.js";
import { ACCESS_MODELS, NODE_CONFIG_FIELDS, parseNodeConfigForm, type AccessModel, type NodeConfig, type Result, type ServiceConfig } from "../../../src/util/pubsub/index.js";
import { jidBare, jidHost, jidPrep } from "../../../src/util/jid.js";
import { DIRECTED_PRESENCE_LIMIT } from "./access.js";

/** Prosody's internal names that differ from the form variable (pubsub.lib.lua). */
const PROSODY_NAMES: Record<string, string> = {
  payload_type: "pubsub#type",
  notify_items: "pubsub#deliver_notifications",
  include_payload: "pubsub#deliver_payloads",
};

const BY_KEY = new Map(NODE_CONFIG_FIELDS.map((f) => [f.key as string, f.var]));

function variableOf(name: string): string {
  if (name.startsWith("pubsub#")) return name;
  return PROSODY_NAMES[name] ?? BY_KEY.get(name) ?? `pubsub#${name}`;
}

function formValue(v: ConfigValue): string | string[] | undefined {
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v;
  if (v instanceof ConfigTable) return v.array.map((x) => String(x));
  return undefined;
}

/**
 * node_defaults = { max_items = 10; access_model = "whitelist"; ["pubsub#notify_sub"] = true }
 * -> a partial node configuration (errors name the offending options).
 */
export function readNodeDefaults(table: ConfigTable | undefined): Result<Partial<NodeConfig>> {
  if (!table) return { ok: true, value: {} };
  const fields: Record<string, string | string[]> = {};
  for (const key of table.keys()) {
    const value = formValue(table.hash[key]);
    if (value === undefined) return { ok: false, error: "bad-request", text: `node_defaults: ${key} has an unusable value` };
    fields[variableOf(key)] = value;
  }
  return parseNodeConfigForm(fields, { unknown: "reject" });
}

export type CreatePolicy = "admins" | "local" | "anyone";

/**
 * Prosody's pubsub_create_node (default "admins": only admins create nodes, mod_pubsub.lua's
 * :create-node permission); "local": accounts of this server's hosts; "anyone".
 */
export function creationPolicy(policy: CreatePolicy, isAdmin: (jid: string) => boolean, localHosts: () => string[]): (actor: string) => boolean {
  return (actor) => {
    const bare = jidBare(actor);
    if (isAdmin(bare)) return true;
    if (policy === "anyone") return true;
    if (policy === "local") return localHosts().includes(jidHost(bare));
    return false;
  };
}

/** What mod_pubsub reads from its options (the names and defaults its header documents). */
export interface ComponentSettings {
  service: ServiceConfig;
  maxItems: number;
  exposePublisher: boolean | undefined;
  policy: CreatePolicy;
  isAdmin(jid: string): boolean;
  notifyAffiliations: boolean;
  fullConfigForm: boolean;
  name: string;
  directedPresenceLimit: number;
  sweepMs: number;
  maxArchiveResults: number;
  /** Options that were ignored, with the reason. */
  warnings: string[];
}

export interface ComponentEnvironment {
  /** The component's address (acts as an owner of every node for the admin shell). */
  host: string;
  /** The server's admins (`admins` of the global section). */
  isServerAdmin(jid: string): boolean;
  /** The server's hosts (pubsub_create_node = "local"). */
  hostNames(): string[];
}

export function componentSettings(o: OptionReader, env: ComponentEnvironment): ComponentSettings {
  const warnings: string[] = [];
  const maxItems = o.integer("pubsub_max_items", 256, { min: 1, max: 1_000_000 });
  const exposePublisher = o.has("expose_publisher") ? o.boolean("expose_publisher", false) : undefined;
  const policy = o.enum<CreatePolicy>("pubsub_create_node", "admins", ["admins", "local", "anyone"]) ?? "admins";
  const componentAdmins = new Set(
    o.ownArray("admins").flatMap((a) => {
      const j = jidPrep(a);
      return j === undefined ? [] : [jidBare(j)];
    }),
  );
  // The service's own JID acts for the admin shell's pubsub commands (an owner of every node).
  const isAdmin = (jid: string) => jid === env.host || env.isServerAdmin(jid) || componentAdmins.has(jidBare(jid));
  const defaults = readNodeDefaults(o.table("node_defaults"));
  if (!defaults.ok) warnings.push(`node_defaults ignored: ${defaults.text ?? defaults.error}`);
  const models = o.array("pubsub_access_models", ACCESS_MODELS).filter((m): m is AccessModel => (ACCESS_MODELS as readonly string[]).includes(m));
  return {
    service: {
      nodeDefaults: defaults.ok ? defaults.value : undefined,
      maxItems,
      maxPayloadSize: o.integer("pubsub_max_payload_size", 65536, { min: 1, max: 64 * 1024 * 1024 }),
      maxItemExpire: finite(o.period("pubsub_max_item_expire")),
      maxLeaseSeconds: finite(o.period("pubsub_max_lease")),
      maxNodes: o.integer("pubsub_max_nodes", undefined, { min: 1 }),
      maxSubscriptionsPerJid: o.integer("pubsub_max_subscriptions", undefined, { min: 1 }),
      accessModels: models.length > 0 ? models : ACCESS_MODELS,
      autocreateOnPublish: o.boolean("autocreate_on_publish", false),
      autocreateOnSubscribe: o.boolean("autocreate_on_subscribe", false),
      canCreate: creationPolicy(policy, isAdmin, env.hostNames),
      isAdmin,
    },
    maxItems,
    exposePublisher,
    policy,
    isAdmin,
    notifyAffiliations: o.boolean("pubsub_notify_affiliations", true),
    fullConfigForm: o.boolean("pubsub_full_config_form", false),
    name: o.string("name", "Herald PubSub Service"),
    directedPresenceLimit: o.integer("pubsub_max_directed_presences", DIRECTED_PRESENCE_LIMIT, { min: 1, max: 10_000_000 }),
    sweepMs: o.period("pubsub_sweep_interval", 60, { min: 0.05 }) * 1000,
    maxArchiveResults: o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 }),
    warnings,
  };
}

/** A period option, unset when absent or "never". */
function finite(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined;
}
