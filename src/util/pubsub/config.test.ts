import { describe, expect, it } from "vitest";
import {
  COMPONENT_NODE_DEFAULTS,
  NODE_CONFIG_FIELDS,
  checkPreconditions,
  effectiveMaxItems,
  nodeConfigToForm,
  parseNodeConfigForm,
  resolveServiceConfig,
  validateNodeConfig,
} from "./config.js";
import { PUBSUB_ERRORS, errorSpec } from "./errors.js";
import { mergeSubscriptionOptions, parseSubscriptionOptionsForm } from "./options.js";
import type { NodeConfig } from "./types.js";

const limits = resolveServiceConfig();

describe("node configuration fields", () => {
  it("cover every NodeConfig key once", () => {
    const keys = NODE_CONFIG_FIELDS.map((f) => f.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of Object.keys(COMPONENT_NODE_DEFAULTS)) expect(keys).toContain(key);
    for (const field of NODE_CONFIG_FIELDS) expect(field.var).toMatch(/^pubsub#[a-z_]+$/);
  });

  it("start with Prosody's form order", () => {
    expect(NODE_CONFIG_FIELDS.slice(0, 15).map((f) => f.var)).toEqual([
      "pubsub#title",
      "pubsub#description",
      "pubsub#type",
      "pubsub#max_items",
      "pubsub#persist_items",
      "pubsub#access_model",
      "pubsub#roster_groups_allowed",
      "pubsub#publish_model",
      "pubsub#send_last_published_item",
      "pubsub#deliver_notifications",
      "pubsub#deliver_payloads",
      "pubsub#notification_type",
      "pubsub#notify_delete",
      "pubsub#notify_retract",
      "pubsub#itemreply",
    ]);
  });
});

describe("parseNodeConfigForm", () => {
  it("types the submitted values", () => {
    const parsed = parseNodeConfigForm({
      FORM_TYPE: "http://jabber.org/protocol/pubsub#node_config",
      "pubsub#title": "Princely Musings",
      "pubsub#max_items": "max",
      "pubsub#item_expire": "604800",
      "pubsub#persist_items": "0",
      "pubsub#deliver_payloads": "true",
      "pubsub#roster_groups_allowed": ["Friends", "Family"],
      "pubsub#send_last_published_item": "on_sub",
      "pubsub#description": "",
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        title: "Princely Musings",
        maxItems: "max",
        itemExpire: 604800,
        persistItems: false,
        deliverPayloads: true,
        rosterGroupsAllowed: ["Friends", "Family"],
        sendLastPublishedItem: "on_sub",
        description: undefined,
      },
    });
  });

  it("reports every bad field as Prosody does (bad-request, 'var: message; ...')", () => {
    expect(parseNodeConfigForm({ "pubsub#max_items": "many", "pubsub#persist_items": "yes" })).toEqual({
      ok: false,
      error: "bad-request",
      text: "pubsub#max_items: not an integer or max; pubsub#persist_items: not a boolean",
    });
    expect(parseNodeConfigForm({ "pubsub#access_model": "everyone" })).toMatchObject({ error: "bad-request" });
  });

  it("ignores unknown fields unless told to reject them", () => {
    expect(parseNodeConfigForm({ "x-custom": "1" })).toEqual({ ok: true, value: {} });
    expect(parseNodeConfigForm({ "x-custom": "1" }, { unknown: "reject" })).toMatchObject({ ok: false });
  });
});

describe("validateNodeConfig", () => {
  it("accepts max_items in 1..limit or max (config-node-max)", () => {
    expect(validateNodeConfig({ maxItems: 1 }, limits).ok).toBe(true);
    expect(validateNodeConfig({ maxItems: 256 }, limits).ok).toBe(true);
    expect(validateNodeConfig({ maxItems: "max" }, limits).ok).toBe(true);
    expect(validateNodeConfig({ maxItems: 257 }, limits)).toMatchObject({ error: "not-acceptable" });
    expect(validateNodeConfig({ maxItems: 0 }, limits)).toMatchObject({ error: "not-acceptable" });
    expect(validateNodeConfig({ maxItems: 2.5 }, limits)).toMatchObject({ error: "not-acceptable" });
  });

  it("refuses unknown keys, wrong types and unsetting required options", () => {
    expect(validateNodeConfig({ nonsense: true }, limits)).toMatchObject({ error: "not-acceptable" });
    expect(validateNodeConfig({ persistItems: "yes" }, limits)).toMatchObject({ error: "not-acceptable" });
    expect(validateNodeConfig({ persistItems: undefined }, limits)).toMatchObject({ error: "not-acceptable" });
    expect(validateNodeConfig({ title: undefined, itemExpire: undefined }, limits).ok).toBe(true);
  });

  it("effectiveMaxItems resolves max", () => {
    const config: NodeConfig = { ...COMPONENT_NODE_DEFAULTS, maxItems: "max" };
    expect(effectiveMaxItems(config, resolveServiceConfig({ maxItems: 10 }))).toBe(10);
  });
});

describe("form values back out", () => {
  it("booleans as 1/0, lists as lists, unset as undefined", () => {
    const form = nodeConfigToForm({ ...COMPONENT_NODE_DEFAULTS, rosterGroupsAllowed: ["A"] });
    expect(form["pubsub#persist_items"]).toBe("1");
    expect(form["pubsub#notify_config"]).toBe("0");
    expect(form["pubsub#max_items"]).toBe("20");
    expect(form["pubsub#roster_groups_allowed"]).toEqual(["A"]);
    expect(form["pubsub#title"]).toBeUndefined();
  });

  it("round-trip through the parser", () => {
    const config: NodeConfig = { ...COMPONENT_NODE_DEFAULTS, title: "T", itemExpire: "max", maxPayloadSize: 10 };
    const form = Object.fromEntries(
      Object.entries(nodeConfigToForm(config)).filter((e): e is [string, string | string[]] => e[1] !== undefined),
    );
    expect(parseNodeConfigForm(form)).toEqual({ ok: true, value: config });
  });
});

describe("checkPreconditions (§7.1.5)", () => {
  it("ignores FORM_TYPE and compares defaults too", () => {
    expect(
      checkPreconditions(COMPONENT_NODE_DEFAULTS, {
        FORM_TYPE: "http://jabber.org/protocol/pubsub#publish-options",
        "pubsub#persist_items": "1",
        "pubsub#notification_type": "headline",
      }).ok,
    ).toBe(true);
  });

  it("an unset option matches only an empty value", () => {
    expect(checkPreconditions(COMPONENT_NODE_DEFAULTS, { "pubsub#title": "" }).ok).toBe(true);
    expect(checkPreconditions(COMPONENT_NODE_DEFAULTS, { "pubsub#title": "x" })).toMatchObject({
      error: "precondition-not-met",
      text: "Field does not match: title",
    });
  });

  it("names the option as Prosody does in the text", () => {
    expect(checkPreconditions(COMPONENT_NODE_DEFAULTS, { "pubsub#deliver_payloads": "0" })).toMatchObject({
      text: "Field does not match: include_payload",
    });
    expect(checkPreconditions(COMPONENT_NODE_DEFAULTS, { "pubsub#type": "urn:x" })).toMatchObject({
      text: "Field does not match: payload_type",
    });
    expect(checkPreconditions(COMPONENT_NODE_DEFAULTS, { "pubsub#publish_node_full": "reject" })).toMatchObject({
      text: "Field does not match: publish_node_full",
    });
  });
});

describe("subscription options (§6.3)", () => {
  it("parses the subscribe_options form", () => {
    expect(
      parseSubscriptionOptionsForm({
        FORM_TYPE: "http://jabber.org/protocol/pubsub#subscribe_options",
        "pubsub#deliver": "false",
        "pubsub#include_body": "1",
        "pubsub#expire": "2006-02-28T23:59:59Z",
        "pubsub#show-values": ["chat", "online"],
      }),
    ).toEqual({
      ok: true,
      value: { deliver: false, includeBody: true, expire: Date.UTC(2006, 1, 28, 23, 59, 59), showValues: ["chat", "online"] },
    });
    expect(parseSubscriptionOptionsForm({ "pubsub#expire": "presence" })).toEqual({
      ok: true,
      value: { expire: "presence" },
    });
  });

  it("invalid options -> invalid-options", () => {
    expect(parseSubscriptionOptionsForm({ "pubsub#deliver": "maybe" })).toMatchObject({ error: "invalid-options" });
    expect(parseSubscriptionOptionsForm({ "pubsub#expire": "soon" })).toMatchObject({ error: "invalid-options" });
    expect(parseSubscriptionOptionsForm({ "pubsub#show-values": ["sleeping"] })).toMatchObject({
      error: "invalid-options",
    });
    expect(parseSubscriptionOptionsForm({ "pubsub#digest": "1" })).toMatchObject({ error: "invalid-options" });
  });

  it("clamps leases to the maximum", () => {
    const merged = mergeSubscriptionOptions({ deliver: true, includeBody: false }, { expire: 10_000_000 }, 0, 60);
    expect(merged.expire).toBe(60_000);
  });
});

describe("error table", () => {
  it("maps every key to a stanza error type and condition", () => {
    for (const spec of Object.values(PUBSUB_ERRORS)) {
      expect(["cancel", "auth", "modify", "wait"]).toContain(spec.type);
      expect(spec.condition).toMatch(/^[a-z-]+$/);
    }
  });

  it("follows XEP-0060's pairings", () => {
    expect(errorSpec({ error: "precondition-not-met" })).toEqual({
      type: "cancel",
      condition: "conflict",
      pubsubError: "precondition-not-met",
    });
    expect(errorSpec({ error: "item-forbidden" })).toMatchObject({ type: "modify", condition: "bad-request" });
    expect(errorSpec({ error: "presence-subscription-required" })).toMatchObject({ condition: "not-authorized" });
    expect(errorSpec({ error: "closed-node" })).toMatchObject({ condition: "not-allowed", pubsubError: "closed-node" });
    expect(errorSpec({ error: "invalid-jid" })).toMatchObject({ condition: "bad-request", pubsubError: "invalid-jid" });
    expect(errorSpec({ error: "forbidden" })).toEqual({ type: "auth", condition: "forbidden" });
    expect(errorSpec({ error: "conflict" })).toEqual({ type: "cancel", condition: "conflict" });
    expect(errorSpec({ error: "persistent-items-unsupported" })).toMatchObject({
      condition: "feature-not-implemented",
      pubsubError: "unsupported",
      feature: "persistent-items",
    });
    expect(errorSpec({ error: "unsupported", feature: "purge-nodes" })).toMatchObject({ feature: "purge-nodes" });
  });
});
