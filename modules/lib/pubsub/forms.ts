// The data forms of XEP-0060: node configuration (pubsub#node_config, with Prosody's labels, field
// order and options, which the scansion scripts compare exactly), subscription options
// (pubsub#subscribe_options), node metadata (pubsub#meta-data), the subscription authorization form
// (pubsub#subscribe_authorization, §8.6) and the get-pending command's form (§8.7).
// Rendering goes through src/util/dataforms.ts; submitted forms are read into raw values here and
// typed by the service's own parsers (config.ts, options.ts).

import { findForm, getFormType, rawFormValues, renderForm, type FieldDef, type FormValues } from "../../../src/util/dataforms.js";
import {
  COMPONENT_NODE_DEFAULTS,
  configFieldByVar,
  nodeConfigToForm,
  parseNodeConfigForm,
  parseSubscriptionOptionsForm,
  type NodeConfig,
  type NodeMeta,
  type Result,
  type SubscriptionOptions,
} from "../../../src/util/pubsub/index.js";
import { Element } from "../../../src/xml/stanza.js";
import {
  FORM_META_DATA,
  FORM_NODE_CONFIG,
  FORM_SUBSCRIBE_AUTHORIZATION,
  FORM_SUBSCRIBE_OPTIONS,
} from "./xml.js";
import { xmppDateTime } from "../../../src/util/datetime.js";

// ---- node configuration ----------------------------------------------------------------------

/** Prosody's node_config form, field for field (plugins/mod_pubsub/pubsub.lib.lua). */
function prosodyConfigFields(maxItems: number): FieldDef[] {
  return [
    { var: "pubsub#title", type: "text-single", label: "Title" },
    { var: "pubsub#description", type: "text-single", label: "Description" },
    {
      var: "pubsub#type",
      type: "text-single",
      label: "The type of node data, usually specified by the namespace of the payload (if any)",
    },
    {
      var: "pubsub#max_items",
      type: "text-single",
      label: "Max # of items to persist",
      // XEP-0060 §16.4.4 / XEP-0122: "max" or an integer up to the service's limit (config-node-max).
      datatype: "pubsub:integer-or-max",
      range: { min: 1, max: maxItems },
    },
    { var: "pubsub#persist_items", type: "boolean", label: "Persist items to storage" },
    {
      var: "pubsub#access_model",
      type: "list-single",
      label: "Specify the subscriber model",
      options: ["authorize", "open", "presence", "roster", "whitelist"],
    },
    { var: "pubsub#roster_groups_allowed", type: "list-multi", label: "Roster groups allowed to subscribe" },
    {
      var: "pubsub#publish_model",
      type: "list-single",
      label: "Specify the publisher model",
      options: ["publishers", "subscribers", "open"],
    },
    { var: "pubsub#send_last_published_item", type: "list-single", options: ["never", "on_sub", "on_sub_and_presence"] },
    { var: "pubsub#deliver_notifications", type: "boolean", label: "Whether to deliver event notifications" },
    { var: "pubsub#deliver_payloads", type: "boolean", label: "Whether to deliver payloads with event notifications" },
    {
      var: "pubsub#notification_type",
      type: "list-single",
      label: "Specify the delivery style for notifications",
      options: [
        { value: "normal", label: "Messages of type normal" },
        { value: "headline", label: "Messages of type headline" },
      ],
    },
    { var: "pubsub#notify_delete", type: "boolean", label: "Whether to notify subscribers when the node is deleted" },
    {
      var: "pubsub#notify_retract",
      type: "boolean",
      label: "Whether to notify subscribers when items are removed from the node",
    },
    {
      var: "pubsub#itemreply",
      type: "list-single",
      label: "Specify whose JID to include as the publisher of items",
      options: [
        { value: "owner", label: "Include the node owner's JID" },
        { value: "publisher", label: "Include the item publisher's JID" },
        { value: "none", label: "Don't include any JID with items" },
      ],
    },
  ];
}

/** The options Herald has beyond Prosody's form (XEP-0060 §16.4.4 variables). */
function extendedConfigFields(): FieldDef[] {
  return [
    { var: "pubsub#notify_config", type: "boolean", label: "Notify subscribers when the node configuration changes" },
    { var: "pubsub#notify_sub", type: "boolean", label: "Notify owners about new subscribers and unsubscribes" },
    {
      var: "pubsub#presence_based_delivery",
      type: "boolean",
      label: "Deliver event notifications only to available users",
    },
    { var: "pubsub#max_payload_size", type: "text-single", label: "Max payload size in bytes", datatype: "xs:integer" },
    {
      var: "pubsub#item_expire",
      type: "text-single",
      label: "Number of seconds after which to automatically purge items",
      datatype: "pubsub:integer-or-max",
    },
    {
      var: "pubsub#publish_node_full",
      type: "list-single",
      label: "What to do when an item is published to a full node",
      options: ["retract-oldest", "discard-oldest", "reject"],
    },
    { var: "pubsub#language", type: "text-single", label: "The default language of the node" },
    { var: "pubsub#contact", type: "jid-multi", label: "The JIDs of those to contact with questions" },
  ];
}

const EXTENDED_KEYS = new Map<string, keyof NodeConfig>(
  extendedConfigFields().map((f) => [f.var, configFieldByVar(f.var)!.key]),
);

function sameConfigValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = Array.isArray(a) ? a : [];
    const y = Array.isArray(b) ? b : [];
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  return a === b;
}

/**
 * The node_config form. Prosody's fields always, in Prosody's order (the scansion scripts compare
 * the form strictly); then Herald's further options: all of them when `full` (the §8.3 default
 * form, or pubsub_full_config_form), otherwise those whose value differs from Prosody's default,
 * so a node configured with them shows them.
 */
export function nodeConfigForm(config: Readonly<NodeConfig>, maxItems: number, full: boolean): Element {
  const fields = prosodyConfigFields(maxItems);
  for (const field of extendedConfigFields()) {
    const key = EXTENDED_KEYS.get(field.var)!;
    if (full || !sameConfigValue(config[key], COMPONENT_NODE_DEFAULTS[key])) fields.push(field);
  }
  const values = nodeConfigToForm(config) as FormValues;
  return renderForm({ formType: FORM_NODE_CONFIG, fields }, values, "form");
}

/** The node configuration as a result form, for configuration notifications (§8.2 notify_config). */
export function nodeConfigResultForm(config: Readonly<NodeConfig>, maxItems: number): Element {
  const fields = [...prosodyConfigFields(maxItems), ...extendedConfigFields()];
  return renderForm({ formType: FORM_NODE_CONFIG, fields }, nodeConfigToForm(config) as FormValues, "result");
}

// ---- reading submitted forms ------------------------------------------------------------------

/** The data form child of `parent`, if any. */
export function findDataForm(parent: Element | undefined): Element | undefined {
  return findForm(parent);
}

/** The FORM_TYPE of a form ("" when none). */
export function formTypeOf(x: Element): string {
  return getFormType(x) ?? "";
}

export { rawFormValues };

/** A form's `type`, defaulting to submit. */
export function formKind(x: Element): string {
  return x.attrs.type ?? "submit";
}

/**
 * Raw node_config values for the service's parser: multi-valued fields as lists, the others as
 * their single value (a text field sent without a value clears it; other fields without a value
 * are left out, as if not submitted).
 */
export function nodeConfigValues(x: Element): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of rawFormValues(x)) {
    if (name === "FORM_TYPE") continue;
    const field = configFieldByVar(name);
    if (field && (field.kind === "list-multi" || field.kind === "jid-multi")) out[name] = values;
    else if (values.length > 0) out[name] = values[0];
    else if (!field || field.kind === "text") out[name] = "";
  }
  return out;
}

/**
 * A submitted node_config form (§8.2.4, §8.1.3): its FORM_TYPE, if any, must be node_config;
 * unknown fields are ignored (as Prosody does); bad values -> bad-request with the field named.
 */
export function parseConfigForm(x: Element): Result<Partial<NodeConfig>> {
  const formType = formTypeOf(x);
  if (formType !== "" && formType !== FORM_NODE_CONFIG) return { ok: false, error: "bad-request", text: `Unexpected FORM_TYPE ${formType}` };
  return parseNodeConfigForm(nodeConfigValues(x));
}

/** publish-options values (§7.1.5), FORM_TYPE left out; multi-valued fields kept as lists. */
export function publishOptionValues(x: Element): Record<string, string | string[]> {
  return nodeConfigValues(x);
}

// ---- subscription options (§6.3) -------------------------------------------------------------

const SHOW_OPTIONS = [
  { value: "chat", label: "Want to Chat" },
  { value: "online", label: "Available" },
  { value: "away", label: "Away" },
  { value: "xa", label: "Extended Away" },
  { value: "dnd", label: "Do Not Disturb" },
];

const SUBSCRIBE_OPTION_FIELDS: FieldDef[] = [
  { var: "pubsub#deliver", type: "boolean", label: "Enable delivery?" },
  // §12.18: a dateTime, or "presence" for a temporary subscription (§12.17).
  { var: "pubsub#expire", type: "text-single", label: "Requested lease expiration" },
  { var: "pubsub#include_body", type: "boolean", label: "Receive message body in addition to payload?" },
  {
    var: "pubsub#show-values",
    type: "list-multi",
    label: "Select the presence types which are allowed to receive event notifications",
    options: SHOW_OPTIONS,
  },
];

function subscriptionOptionValues(options: Readonly<SubscriptionOptions>): FormValues {
  const values: Record<string, string | boolean | readonly string[]> = {
    "pubsub#deliver": options.deliver,
    "pubsub#include_body": options.includeBody,
  };
  if (options.expire !== undefined) {
    values["pubsub#expire"] = options.expire === "presence" ? "presence" : xmppDateTime(options.expire, "milliseconds");
  }
  if (options.showValues) values["pubsub#show-values"] = options.showValues;
  return values;
}

export function subscriptionOptionsForm(options: Readonly<SubscriptionOptions>, type: "form" | "result" = "form"): Element {
  return renderForm({ formType: FORM_SUBSCRIBE_OPTIONS, fields: SUBSCRIBE_OPTION_FIELDS }, subscriptionOptionValues(options), type);
}

/** Registered options Herald does not offer, with the values that ask for nothing beyond what it does. */
const HARMLESS: Record<string, (v: string) => boolean> = {
  "pubsub#digest": (v) => v === "0" || v === "false",
  "pubsub#digest_frequency": () => true, // meaningful only with digest on
  "pubsub#subscription_type": (v) => v === "items",
  "pubsub#subscription_depth": (v) => v === "1", // collections (XEP-0248) only
};

/**
 * A submitted subscribe_options form (§6.3.5). Options Herald does not offer are refused
 * (invalid-options) unless they ask for nothing (digest off and the like).
 */
export function parseOptionsForm(x: Element): Result<Partial<SubscriptionOptions>> {
  const formType = formTypeOf(x);
  if (formType !== "" && formType !== FORM_SUBSCRIBE_OPTIONS) {
    return { ok: false, error: "invalid-options", text: `Unexpected FORM_TYPE ${formType}` };
  }
  const fields: Record<string, string | string[]> = {};
  for (const [name, values] of rawFormValues(x)) {
    if (name === "FORM_TYPE") continue;
    const harmless = HARMLESS[name];
    if (harmless && harmless((values[0] ?? "").trim())) continue;
    fields[name] = name === "pubsub#show-values" ? values : (values[0] ?? "");
  }
  return parseSubscriptionOptionsForm(fields);
}

// ---- node metadata (§5.4) --------------------------------------------------------------------

/** pubsub#meta-data: Prosody's fields (title, description, type, access and publish model), then §5.4's. */
export function metaDataForm(meta: Readonly<NodeMeta>): Element {
  const c = meta.config;
  const fields: FieldDef[] = [
    { var: "pubsub#title", type: "text-single", label: "Title" },
    { var: "pubsub#description", type: "text-single", label: "Description" },
    { var: "pubsub#type", type: "text-single", label: "Payload type" },
    { var: "pubsub#access_model", type: "text-single", label: "Access model" },
    { var: "pubsub#publish_model", type: "text-single", label: "Publish model" },
    { var: "pubsub#creator", type: "jid-single", label: "Node creator" },
    { var: "pubsub#creation_date", type: "text-single", label: "Creation date" },
    { var: "pubsub#owner", type: "jid-multi", label: "Node owners" },
    { var: "pubsub#publisher", type: "jid-multi", label: "Publishers to this node" },
    { var: "pubsub#num_subscribers", type: "text-single", label: "Number of subscribers to this node" },
    { var: "pubsub#max_items", type: "text-single", label: "Max # of items to persist" },
  ];
  if (c.language !== undefined) fields.push({ var: "pubsub#language", type: "text-single", label: "Default language" });
  if (c.contact.length > 0) fields.push({ var: "pubsub#contact", type: "jid-multi", label: "People to contact with questions" });
  const values: Record<string, string | readonly string[] | undefined> = {
    "pubsub#title": c.title,
    "pubsub#description": c.description,
    "pubsub#type": c.type,
    "pubsub#access_model": c.accessModel,
    "pubsub#publish_model": c.publishModel,
    "pubsub#creator": meta.creator,
    "pubsub#creation_date": xmppDateTime(meta.created, "milliseconds"),
    "pubsub#owner": meta.owners,
    "pubsub#publisher": meta.publishers,
    "pubsub#num_subscribers": String(meta.numSubscribers),
    "pubsub#max_items": String(c.maxItems),
    "pubsub#language": c.language,
    "pubsub#contact": c.contact,
  };
  return renderForm({ formType: FORM_META_DATA, fields }, values, "result");
}

// ---- subscription authorization (§8.6, §8.7) -----------------------------------------------

export function authorizationForm(node: string, jid: string, subid: string): Element {
  return renderForm(
    {
      formType: FORM_SUBSCRIBE_AUTHORIZATION,
      title: "PubSub subscriber request",
      instructions:
        "To approve this entity's subscription request, click the OK button. To deny the request, click the cancel button.",
      fields: [
        { var: "pubsub#subid", type: "hidden" },
        { var: "pubsub#node", type: "text-single", label: "Node ID" },
        { var: "pubsub#subscriber_jid", type: "jid-single", label: "Subscriber Address" },
        { var: "pubsub#allow", type: "boolean", label: "Allow this JID to subscribe to this pubsub node?" },
      ],
    },
    { "pubsub#subid": subid, "pubsub#node": node, "pubsub#subscriber_jid": jid, "pubsub#allow": false },
    "form",
  );
}

/** §8.7: the form of the get-pending command, offering the nodes with pending requests. */
export function pendingNodesForm(nodes: readonly string[]): Element {
  return renderForm(
    {
      formType: FORM_SUBSCRIBE_AUTHORIZATION,
      fields: [{ var: "pubsub#node", type: "list-single", options: nodes.map((value) => ({ value })) }],
    },
    {},
    "form",
  );
}
