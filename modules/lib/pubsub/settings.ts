// Reading the component's options into the service's configuration: node_defaults (a Lua table
// keyed by form variable, Prosody's internal option name, or Herald's), and the node-creation
// policy pubsub_create_node.

import { ConfigTable, type ConfigValue } from "../../../src/config/options.js";
import { NODE_CONFIG_FIELDS, parseNodeConfigForm, type NodeConfig, type Result } from "../../../src/util/pubsub/index.js";
import { jidBare, jidHost } from "../../../src/util/jid.js";

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
