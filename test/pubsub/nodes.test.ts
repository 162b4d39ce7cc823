// Owner use cases on a real server: create (§8.1, instant nodes, create-and-configure), configure
// (§8.2), default configuration (§8.3), delete (§8.4, with redirect and notifications), purge
// (§8.5), and malformed requests.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import {
  NS,
  NS_DATA,
  NS_OWNER,
  PUBSUB,
  configure,
  createNode,
  errorOf,
  eventOf,
  expectResult,
  formFields,
  itemIds,
  login,
  nextMessage,
  noMessage,
  owner,
  publish,
  pubsub,
  startPubsubServer,
  submitForm,
  subscribe,
} from "./helpers.js";

let ts: TestServer;
let admin: RawClient;
let romeo: RawClient;
let juliet: RawClient;

beforeAll(async () => {
  ts = await startPubsubServer({}, ["romeo", "juliet"]);
  admin = await login(ts, "admin", "desk");
  romeo = await login(ts, "romeo", "orchard");
  juliet = await login(ts, "juliet", "balcony");
});
afterAll(() => ts?.stop());

async function configForm(c: RawClient, node: string): Promise<Map<string, string[]>> {
  const r = expectResult(await owner(c, "get", `<configure node='${node}'/>`));
  const x = r.getChild("pubsub", NS_OWNER)!.getChild("configure")!.getChild("x", NS_DATA)!;
  return formFields(x);
}

describe("create (§8.1)", () => {
  it("an admin creates a node; the same name again is a conflict (cancel)", async () => {
    const r = expectResult(await pubsub(admin, "set", "<create node='c1'/>"));
    expect(r.children).toHaveLength(0); // as Prosody: an empty result for a named node
    expect(errorOf(await pubsub(admin, "set", "<create node='c1'/>"))).toMatchObject({ type: "cancel", condition: "conflict" });
  });

  it("others may not create nodes by default (pubsub_create_node = admins): forbidden", async () => {
    expect(errorOf(await pubsub(romeo, "set", "<create node='c2'/>"))).toMatchObject({ type: "auth", condition: "forbidden" });
  });

  it("an instant node gets a generated name, returned in the result (§8.1.2)", async () => {
    const r = expectResult(await pubsub(admin, "set", "<create/>"));
    const node = r.getChild("pubsub", NS)!.getChild("create")!.attrs.node!;
    expect(node).toMatch(/^[0-9a-f-]{36}$/);
    expect((await configForm(admin, node)).get("pubsub#max_items")).toEqual(["20"]);
  });

  it("create and configure in one request (§8.1.3)", async () => {
    await createNode(admin, "c3", { "pubsub#title": "Princely Musings", "pubsub#max_items": "5", "pubsub#access_model": "whitelist" });
    const form = await configForm(admin, "c3");
    expect(form.get("pubsub#title")).toEqual(["Princely Musings"]);
    expect(form.get("pubsub#max_items")).toEqual(["5"]);
    expect(form.get("pubsub#access_model")).toEqual(["whitelist"]);
  });

  it("a <configure/> with its own node attribute is a bad-request (§8.1.3)", async () => {
    const r = await pubsub(admin, "set", "<create node='c4'/><configure node='c4'/>");
    expect(errorOf(r)).toMatchObject({ type: "modify", condition: "bad-request" });
  });

  it("a malformed configuration refuses the creation: bad-request with the field named", async () => {
    const r = await pubsub(admin, "set", `<create node='c5'/><configure>${submitForm("http://jabber.org/protocol/pubsub#node_config", { "pubsub#persist_items": "maybe" })}</configure>`);
    expect(errorOf(r)).toMatchObject({ condition: "bad-request", text: expect.stringContaining("pubsub#persist_items") });
    expect(errorOf(await owner(admin, "get", "<configure node='c5'/>"))).toMatchObject({ condition: "item-not-found" });
  });

  it("max_items above pubsub_max_items is not acceptable; 'max' is (config-node-max)", async () => {
    const r = await pubsub(admin, "set", `<create node='c6'/><configure>${submitForm(undefined, { "pubsub#max_items": "1000" })}</configure>`);
    expect(errorOf(r)).toMatchObject({ type: "modify", condition: "not-acceptable" });
    await createNode(admin, "c6", { "pubsub#max_items": "max" });
    expect((await configForm(admin, "c6")).get("pubsub#max_items")).toEqual(["max"]);
  });
});

describe("configure (§8.2) and defaults (§8.3)", () => {
  it("the owner reads and changes the configuration; missing fields keep their values", async () => {
    await createNode(admin, "cf1");
    expectResult(await configure(admin, "cf1", { "pubsub#title": "Elsinore news", "pubsub#notify_retract": "0" }));
    const form = await configForm(admin, "cf1");
    expect(form.get("pubsub#title")).toEqual(["Elsinore news"]);
    expect(form.get("pubsub#notify_retract")).toEqual(["0"]);
    expect(form.get("pubsub#max_items")).toEqual(["20"]);
  });

  it("options beyond Prosody's form show up once set", async () => {
    await createNode(admin, "cf2");
    expect((await configForm(admin, "cf2")).has("pubsub#item_expire")).toBe(false);
    expectResult(await configure(admin, "cf2", { "pubsub#item_expire": "3600", "pubsub#notify_sub": "1" }));
    const form = await configForm(admin, "cf2");
    expect(form.get("pubsub#item_expire")).toEqual(["3600"]);
    expect(form.get("pubsub#notify_sub")).toEqual(["1"]);
  });

  it("a cancelled form leaves the configuration as it was (§8.2.5)", async () => {
    await createNode(admin, "cf3");
    expectResult(await owner(admin, "set", `<configure node='cf3'>${submitForm(undefined, { "pubsub#title": "x" }, "cancel")}</configure>`));
    expect((await configForm(admin, "cf3")).get("pubsub#title")).toEqual([]);
  });

  it("errors: no form -> bad-request; not an owner -> forbidden; no node -> nodeid-required; unknown -> item-not-found", async () => {
    await createNode(admin, "cf4");
    expect(errorOf(await owner(admin, "set", "<configure node='cf4'/>"))).toMatchObject({ condition: "bad-request" });
    expect(errorOf(await owner(romeo, "get", "<configure node='cf4'/>"))).toMatchObject({ type: "auth", condition: "forbidden" });
    expect(errorOf(await configure(romeo, "cf4", { "pubsub#title": "mine" }))).toMatchObject({ condition: "forbidden" });
    expect(errorOf(await owner(admin, "get", "<configure/>"))).toMatchObject({ condition: "bad-request", app: "nodeid-required" });
    expect(errorOf(await owner(admin, "get", "<configure node='nowhere'/>"))).toMatchObject({ type: "cancel", condition: "item-not-found" });
  });

  it("a FORM_TYPE other than node_config is refused", async () => {
    await createNode(admin, "cf5");
    const r = await owner(admin, "set", `<configure node='cf5'>${submitForm("urn:example:other", { "pubsub#title": "x" })}</configure>`);
    expect(errorOf(r)).toMatchObject({ condition: "bad-request" });
  });

  it("the default configuration lists every option (§8.3); collections are not offered", async () => {
    const r = expectResult(await owner(admin, "get", "<default/>"));
    const fields = formFields(r.getChild("pubsub", NS_OWNER)!.getChild("default")!.getChild("x", NS_DATA)!);
    expect(fields.get("FORM_TYPE")).toEqual(["http://jabber.org/protocol/pubsub#node_config"]);
    expect(fields.get("pubsub#access_model")).toEqual(["open"]);
    expect(fields.get("pubsub#send_last_published_item")).toEqual(["never"]);
    for (const v of ["pubsub#item_expire", "pubsub#max_payload_size", "pubsub#presence_based_delivery", "pubsub#publish_node_full", "pubsub#notify_config"]) {
      expect(fields.has(v), v).toBe(true);
    }
    expect(errorOf(await owner(admin, "get", "<default type='collection'/>"))).toMatchObject({
      condition: "feature-not-implemented",
      app: "unsupported",
      feature: "collections",
    });
  });

  it("notify_config sends the new configuration to subscribers (§8.2.5.2)", async () => {
    await createNode(admin, "cf6", { "pubsub#notify_config": "1" });
    expectResult(await subscribe(juliet, "cf6"));
    expectResult(await configure(admin, "cf6", { "pubsub#title": "Changed" }));
    const conf = eventOf(await nextMessage(juliet)).getChild("configuration")!;
    expect(conf.attrs.node).toBe("cf6");
    expect(formFields(conf.getChild("x", NS_DATA)!).get("pubsub#title")).toEqual(["Changed"]);
  });
});

describe("delete (§8.4)", () => {
  it("subscribers are told, with the redirect; the node and its items are gone", async () => {
    await createNode(admin, "d1");
    expectResult(await publish(admin, "d1", "a"));
    expectResult(await subscribe(juliet, "d1"));
    const r = await owner(admin, "set", "<delete node='d1'><redirect uri='xmpp:pubsub.localhost?;node=d2'/></delete>");
    expectResult(r);
    const del = eventOf(await nextMessage(juliet)).getChild("delete")!;
    expect(del.attrs.node).toBe("d1");
    expect(del.getChild("redirect")?.attrs.uri).toBe("xmpp:pubsub.localhost?;node=d2");
    expect(errorOf(await pubsub(admin, "get", "<items node='d1'/>"))).toMatchObject({ condition: "item-not-found" });
    await createNode(admin, "d1");
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='d1'/>")))).toEqual([]);
  });

  it("notify_delete off: no notification", async () => {
    await createNode(admin, "d3", { "pubsub#notify_delete": "0" });
    expectResult(await subscribe(juliet, "d3"));
    expectResult(await owner(admin, "set", "<delete node='d3'/>"));
    await noMessage(juliet);
  });

  it("only owners delete (forbidden); unknown nodes: item-not-found", async () => {
    await createNode(admin, "d4");
    expect(errorOf(await owner(romeo, "set", "<delete node='d4'/>"))).toMatchObject({ type: "auth", condition: "forbidden" });
    expect(errorOf(await owner(admin, "set", "<delete node='gone'/>"))).toMatchObject({ type: "cancel", condition: "item-not-found" });
    expect(errorOf(await owner(admin, "set", "<delete/>"))).toMatchObject({ condition: "bad-request", app: "nodeid-required" });
  });
});

describe("purge (§8.5)", () => {
  it("removes every item and sends one <purge/> to each subscriber", async () => {
    await createNode(admin, "p1");
    for (const id of ["a", "b", "c"]) expectResult(await publish(admin, "p1", id));
    expectResult(await subscribe(juliet, "p1"));
    expectResult(await owner(admin, "set", "<purge node='p1'/>"));
    const purge = eventOf(await nextMessage(juliet)).getChild("purge")!;
    expect(purge.attrs.node).toBe("p1");
    await noMessage(juliet);
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='p1'/>")))).toEqual([]);
  });

  it("publishers may purge, members may not; transient nodes: unsupported persistent-items", async () => {
    await createNode(admin, "p2");
    expectResult(await owner(admin, "set", `<affiliations node='p2'><affiliation jid='romeo@localhost' affiliation='publisher'/><affiliation jid='juliet@localhost' affiliation='member'/></affiliations>`));
    await noMessage(romeo);
    await noMessage(juliet);
    expectResult(await owner(romeo, "set", "<purge node='p2'/>"));
    expect(errorOf(await owner(juliet, "set", "<purge node='p2'/>"))).toMatchObject({ condition: "forbidden" });
    await createNode(admin, "p3", { "pubsub#persist_items": "0" });
    expect(errorOf(await owner(admin, "set", "<purge node='p3'/>"))).toMatchObject({
      condition: "feature-not-implemented",
      app: "unsupported",
      feature: "persistent-items",
    });
  });
});

describe("malformed requests", () => {
  it("a <pubsub/> without an action: bad-request", async () => {
    const r = await romeo.iq(`<iq type='set' to='${PUBSUB}' id='m1'><pubsub xmlns='${NS}'/></iq>`);
    expect(errorOf(r)).toMatchObject({ condition: "bad-request" });
  });

  it("an unknown action: feature-not-implemented; a known one in the wrong iq type: bad-request", async () => {
    expect(errorOf(await pubsub(romeo, "set", "<frobnicate node='x'/>"))).toMatchObject({ condition: "feature-not-implemented" });
    expect(errorOf(await pubsub(romeo, "get", "<publish node='x'/>"))).toMatchObject({ condition: "bad-request" });
    expect(errorOf(await owner(romeo, "set", "<default/>"))).toMatchObject({ condition: "bad-request" });
  });
});
