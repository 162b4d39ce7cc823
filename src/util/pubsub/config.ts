// Node configuration: defaults (component and PEP, as Prosody), the form variable of each option,
// parsing of submitted form values, validation against the service's limits, publish-options
// preconditions (XEP-0060 §7.1.5). Form layout and labels belong to the protocol layer.

import { fail, ok } from "./errors.js";
import {
  ACCESS_MODELS,
  type AccessModel,
  type NodeConfig,
  type ResolvedServiceConfig,
  type Result,
  type ServiceConfig,
} from "./types.js";

/** Prosody's component defaults (mod_pubsub.lua, util/pubsub.lua). */
export const COMPONENT_NODE_DEFAULTS: Readonly<NodeConfig> = Object.freeze({
  contact: [],
  maxItems: 20,
  persistItems: true,
  accessModel: "open",
  rosterGroupsAllowed: [],
  publishModel: "publishers",
  sendLastPublishedItem: "never",
  deliverNotifications: true,
  deliverPayloads: true,
  notificationType: "headline",
  notifyConfig: false,
  notifyDelete: true,
  notifyRetract: true,
  notifySub: false,
  presenceBasedDelivery: false,
  itemreply: "none",
  publishNodeFull: "discard-oldest",
} satisfies NodeConfig);

/** Prosody's PEP defaults (mod_pep.lua): one item, presence access, last item on sub and presence. */
export const PEP_NODE_DEFAULTS: Readonly<NodeConfig> = Object.freeze({
  ...COMPONENT_NODE_DEFAULTS,
  maxItems: 1,
  accessModel: "presence",
  sendLastPublishedItem: "on_sub_and_presence",
} satisfies NodeConfig);

type FieldKind = "boolean" | "text" | "integer" | "integer-or-max" | "list-single" | "list-multi" | "jid-multi";

export interface NodeConfigField {
  key: keyof NodeConfig;
  /** The registered form variable (XEP-0060 §16.4.4). */
  var: string;
  kind: FieldKind;
  options?: readonly string[];
}

/** Every option the service understands, in Prosody's form order first, then the others. */
export const NODE_CONFIG_FIELDS: readonly NodeConfigField[] = [
  { key: "title", var: "pubsub#title", kind: "text" },
  { key: "description", var: "pubsub#description", kind: "text" },
  { key: "type", var: "pubsub#type", kind: "text" },
  { key: "maxItems", var: "pubsub#max_items", kind: "integer-or-max" },
  { key: "persistItems", var: "pubsub#persist_items", kind: "boolean" },
  { key: "accessModel", var: "pubsub#access_model", kind: "list-single", options: ACCESS_MODELS },
  { key: "rosterGroupsAllowed", var: "pubsub#roster_groups_allowed", kind: "list-multi" },
  {
    key: "publishModel",
    var: "pubsub#publish_model",
    kind: "list-single",
    options: ["publishers", "subscribers", "open"],
  },
  {
    key: "sendLastPublishedItem",
    var: "pubsub#send_last_published_item",
    kind: "list-single",
    options: ["never", "on_sub", "on_sub_and_presence"],
  },
  { key: "deliverNotifications", var: "pubsub#deliver_notifications", kind: "boolean" },
  { key: "deliverPayloads", var: "pubsub#deliver_payloads", kind: "boolean" },
  { key: "notificationType", var: "pubsub#notification_type", kind: "list-single", options: ["normal", "headline"] },
  { key: "notifyDelete", var: "pubsub#notify_delete", kind: "boolean" },
  { key: "notifyRetract", var: "pubsub#notify_retract", kind: "boolean" },
  { key: "itemreply", var: "pubsub#itemreply", kind: "list-single", options: ["owner", "publisher", "none"] },
  { key: "notifyConfig", var: "pubsub#notify_config", kind: "boolean" },
  { key: "notifySub", var: "pubsub#notify_sub", kind: "boolean" },
  { key: "presenceBasedDelivery", var: "pubsub#presence_based_delivery", kind: "boolean" },
  { key: "maxPayloadSize", var: "pubsub#max_payload_size", kind: "integer" },
  { key: "itemExpire", var: "pubsub#item_expire", kind: "integer-or-max" },
  {
    key: "publishNodeFull",
    var: "pubsub#publish_node_full",
    kind: "list-single",
    options: ["retract-oldest", "discard-oldest", "reject"],
  },
  { key: "language", var: "pubsub#language", kind: "text" },
  { key: "contact", var: "pubsub#contact", kind: "jid-multi" },
];

const BY_VAR = new Map(NODE_CONFIG_FIELDS.map((f) => [f.var, f]));
const BY_KEY = new Map(NODE_CONFIG_FIELDS.map((f) => [f.key as string, f]));

export function configFieldByVar(name: string): NodeConfigField | undefined {
  return BY_VAR.get(name);
}

/** XEP-0004 §3.3 boolean. */
export function parseBoolean(value: string): boolean | undefined {
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  return undefined;
}

function single(value: string | string[]): string {
  return Array.isArray(value) ? (value[0] ?? "") : value;
}

/** Turn one submitted value into its typed form, or an error message. */
function parseFieldValue(field: NodeConfigField, raw: string | string[]): { value: unknown } | { error: string } {
  switch (field.kind) {
    case "boolean": {
      const b = parseBoolean(single(raw).trim());
      return b === undefined ? { error: "not a boolean" } : { value: b };
    }
    case "text": {
      const s = single(raw);
      return { value: s === "" ? undefined : s };
    }
    case "integer":
    case "integer-or-max": {
      const s = single(raw).trim();
      if (s === "" && field.kind === "integer") return { value: undefined };
      if (s === "max" && field.kind === "integer-or-max") return { value: "max" };
      if (!/^\d+$/.test(s)) return { error: field.kind === "integer" ? "not an integer" : "not an integer or max" };
      return { value: Number(s) };
    }
    case "list-single": {
      const s = single(raw);
      if (field.options && !field.options.includes(s)) return { error: "not an allowed value" };
      return { value: s };
    }
    case "list-multi":
    case "jid-multi":
      return { value: Array.isArray(raw) ? [...raw] : raw === "" ? [] : [raw] };
  }
}

/**
 * Parse submitted pubsub#node_config values (form variable -> value(s)). FORM_TYPE is skipped;
 * unknown variables are ignored (Prosody) or rejected. Errors: bad-request, text "var: message; ...".
 */
export function parseNodeConfigForm(
  fields: Readonly<Record<string, string | string[]>>,
  options: { unknown?: "ignore" | "reject" } = {},
): Result<Partial<NodeConfig>> {
  const out: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [name, raw] of Object.entries(fields)) {
    if (name === "FORM_TYPE") continue;
    const field = BY_VAR.get(name);
    if (!field) {
      if (options.unknown === "reject") errors.push(`${name}: unknown field`);
      continue;
    }
    const parsed = parseFieldValue(field, raw);
    if ("error" in parsed) errors.push(`${name}: ${parsed.error}`);
    else out[field.key] = parsed.value;
  }
  if (errors.length > 0) return fail("bad-request", errors.join("; "));
  return ok(out as Partial<NodeConfig>);
}

/** Typed values back to form values (booleans as "1"/"0"), for rendering by the protocol layer. */
export function nodeConfigToForm(config: Readonly<NodeConfig>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const field of NODE_CONFIG_FIELDS) {
    const v = config[field.key];
    if (v === undefined) out[field.var] = undefined;
    else if (typeof v === "boolean") out[field.var] = v ? "1" : "0";
    else if (Array.isArray(v)) out[field.var] = [...v];
    else out[field.var] = String(v);
  }
  return out;
}

function isPositiveInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

/** Check one typed option; returns an error message or undefined. */
function checkValue(field: NodeConfigField, v: unknown, limits: ResolvedServiceConfig): string | undefined {
  if (v === undefined) {
    return field.kind === "text" || field.key === "maxPayloadSize" || field.key === "itemExpire"
      ? undefined
      : "may not be unset";
  }
  switch (field.kind) {
    case "boolean":
      return typeof v === "boolean" ? undefined : "not a boolean";
    case "text":
      return typeof v === "string" ? undefined : "not a string";
    case "list-single":
      return typeof v === "string" && field.options?.includes(v) ? undefined : "not an allowed value";
    case "list-multi":
    case "jid-multi":
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "not a list of strings";
    case "integer":
      if (!isPositiveInteger(v)) return "not a positive integer";
      if (field.key === "maxPayloadSize" && v > limits.maxPayloadSize) return `above ${limits.maxPayloadSize}`;
      return undefined;
    case "integer-or-max":
      if (v === "max") return undefined;
      if (!isPositiveInteger(v)) return "not a positive integer or max";
      // XEP-0060 §8.2 (config-node-max): values above the service's limit are refused, "max" is the limit.
      if (field.key === "maxItems" && v > limits.maxItems) return `above ${limits.maxItems}`;
      if (field.key === "itemExpire" && limits.maxItemExpire !== undefined && v > limits.maxItemExpire) {
        return `above ${limits.maxItemExpire}`;
      }
      return undefined;
  }
}

/**
 * Validate a typed partial configuration: unknown keys and bad values -> not-acceptable (text
 * "key: message"); an access model the service does not offer -> unsupported-access-model (§8.1.3).
 */
export function validateNodeConfig(
  partial: Readonly<Record<string, unknown>>,
  limits: ResolvedServiceConfig,
): Result<Partial<NodeConfig>> {
  const errors: string[] = [];
  for (const [key, v] of Object.entries(partial)) {
    const field = BY_KEY.get(key);
    if (!field) {
      errors.push(`${key}: unknown option`);
      continue;
    }
    const problem = checkValue(field, v, limits);
    if (problem) errors.push(`${field.var}: ${problem}`);
  }
  if (errors.length > 0) return fail("not-acceptable", errors.join("; "));
  const model = partial.accessModel as AccessModel | undefined;
  if (model !== undefined && !limits.accessModels.includes(model)) {
    return fail("unsupported-access-model", `access model ${model} is not offered here`);
  }
  return ok(partial as Partial<NodeConfig>);
}

/** A copy of `base` with the given options set (undefined unsets an optional option). */
export function mergeNodeConfig(base: Readonly<NodeConfig>, partial: Partial<NodeConfig>): NodeConfig {
  const merged: NodeConfig = { ...base, contact: [...base.contact], rosterGroupsAllowed: [...base.rosterGroupsAllowed] };
  for (const [key, v] of Object.entries(partial)) {
    const target = merged as unknown as Record<string, unknown>;
    if (v === undefined) delete target[key];
    else target[key] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  return merged;
}

export function copyNodeConfig(config: Readonly<NodeConfig>): NodeConfig {
  return mergeNodeConfig(config, {});
}

/** pubsub#max_items as a number ("max" = the service's limit). */
export function effectiveMaxItems(config: Readonly<NodeConfig>, limits: ResolvedServiceConfig): number {
  return config.maxItems === "max" ? limits.maxItems : Math.min(config.maxItems, limits.maxItems);
}

/** pubsub#item_expire in ms, or undefined for "never". */
export function itemLifetimeMs(config: Readonly<NodeConfig>, limits: ResolvedServiceConfig): number | undefined {
  const e = config.itemExpire === "max" ? limits.maxItemExpire : config.itemExpire;
  return e === undefined ? undefined : e * 1000;
}

export function effectiveMaxPayloadSize(config: Readonly<NodeConfig>, limits: ResolvedServiceConfig): number {
  return Math.min(config.maxPayloadSize ?? limits.maxPayloadSize, limits.maxPayloadSize);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = Array.isArray(a) ? a : a === undefined ? [] : [a];
    const y = Array.isArray(b) ? b : b === undefined ? [] : [b];
    return x.length === y.length && [...x].sort().join("\u0000") === [...y].sort().join("\u0000");
  }
  return a === b;
}

/** Prosody's internal option names where they differ from the variable without "pubsub#" (pubsub.lib.lua). */
const PROSODY_OPTION_NAMES: Record<string, string> = {
  "pubsub#type": "payload_type",
  "pubsub#deliver_notifications": "notify_items",
  "pubsub#deliver_payloads": "include_payload",
};

/** The option name Prosody uses in its error texts ("access_model" for pubsub#access_model). */
export function prosodyOptionName(variable: string): string {
  return PROSODY_OPTION_NAMES[variable] ?? variable.replace(/^pubsub#/, "");
}

/**
 * XEP-0060 §7.1.5: every publish-option must equal the node's current value; an unknown field is
 * refused too ("MUST reject the publication upon encountering unknown fields"). The text names the
 * option as Prosody does ("Field does not match: access_model", pubsub_preconditions.scs).
 */
export function checkPreconditions(
  config: Readonly<NodeConfig>,
  preconditions: Readonly<Record<string, string | string[]>>,
): Result<void> {
  for (const [name, raw] of Object.entries(preconditions)) {
    if (name === "FORM_TYPE") continue;
    const field = BY_VAR.get(name);
    if (!field) return fail("precondition-not-met", `Unknown field: ${name}`);
    const parsed = parseFieldValue(field, raw);
    if ("error" in parsed || !sameValue(parsed.value, config[field.key])) {
      return fail("precondition-not-met", `Field does not match: ${prosodyOptionName(name)}`);
    }
  }
  return ok(undefined);
}

/** Fill every unset service option with its default; throws on invalid node defaults (a config bug). */
export function resolveServiceConfig(config: ServiceConfig = {}): ResolvedServiceConfig {
  const resolved: ResolvedServiceConfig = {
    nodeDefaults: mergeNodeConfig(COMPONENT_NODE_DEFAULTS, {}),
    maxItems: config.maxItems ?? 256,
    maxPayloadSize: config.maxPayloadSize ?? 65536,
    maxItemExpire: config.maxItemExpire,
    maxLeaseSeconds: config.maxLeaseSeconds,
    accessModels: config.accessModels ?? ACCESS_MODELS,
    autocreateOnPublish: config.autocreateOnPublish ?? false,
    autocreateOnSubscribe: config.autocreateOnSubscribe ?? false,
    instantNodes: config.instantNodes ?? true,
    multiSubscribe: config.multiSubscribe ?? true,
    maxSubscriptionsPerJid: config.maxSubscriptionsPerJid,
    maxNodes: config.maxNodes,
    canCreate: config.canCreate ?? (() => true),
    isAdmin: config.isAdmin ?? (() => false),
  };
  if (config.nodeDefaults) {
    const checked = validateNodeConfig(config.nodeDefaults, resolved);
    if (!checked.ok) throw new Error(`pubsub: invalid node defaults: ${checked.text ?? checked.error}`);
    resolved.nodeDefaults = mergeNodeConfig(COMPONENT_NODE_DEFAULTS, checked.value);
  }
  return resolved;
}
