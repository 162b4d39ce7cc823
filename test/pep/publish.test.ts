// PEP as a pubsub service at the account's bare JID (XEP-0163): auto-create on publish with the
// PEP defaults, publish-options (XEP-0060 §7.1.5), who may do what, service discovery, bad input.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import {
  NS,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_OWNER,
  TUNE,
  errorOf,
  expectResult,
  form,
  login,
  nextId,
  nextMessage,
  online,
  publish,
  pubsub,
  startPepServer,
  subscribe,
  tune,
} from "./helpers.js";

let ts: TestServer;
let romeo: RawClient;
let juliet: RawClient;
let tybalt: RawClient;

beforeAll(async () => {
  ts = await startPepServer(["romeo", "juliet", "tybalt"]);
  await subscribe(ts, "romeo", "juliet");
  romeo = await login(ts, "romeo", "orchard");
  juliet = await login(ts, "juliet", "balcony");
  tybalt = await login(ts, "tybalt", "street");
});
afterAll(() => ts?.stop());

function configValues(reply: Element): Map<string, string[]> {
  const x = reply.getChild("pubsub", NS_OWNER)!.getChild("configure")!.getChild("x", "jabber:x:data")!;
  return new Map(x.childElements("field").map((f) => [f.attrs.var ?? "", f.childElements("value").map((v) => v.getText())]));
}

describe("publish (XEP-0163 §3, XEP-0060 §7.1)", () => {
  it("creates the node on first publish, with the PEP defaults, owned by the account", async () => {
    const r = expectResult(await publish(romeo, TUNE, "current", tune("Nocturne")));
    const item = r.getChild("pubsub", NS)!.getChild("publish")!.getChild("item")!;
    expect(item.attrs.id).toBe("current");
    const conf = configValues(expectResult(await pubsub(romeo, "get", `<configure node='${TUNE}'/>`, { ns: NS_OWNER })));
    expect(conf.get("pubsub#access_model")).toEqual(["presence"]);
    expect(conf.get("pubsub#max_items")).toEqual(["1"]);
    expect(conf.get("pubsub#send_last_published_item")).toEqual(["on_sub_and_presence"]);
    expect(conf.get("pubsub#persist_items")).toEqual(["1"]);
    const aff = expectResult(await pubsub(romeo, "get", `<affiliations node='${TUNE}'/>`, { ns: NS_OWNER }));
    expect(aff.getChild("pubsub", NS_OWNER)!.getChild("affiliations")!.childElements("affiliation").map((a) => a.attrs)).toEqual([
      { jid: "romeo@localhost", affiliation: "owner" },
    ]);
  });

  it("generates an item id when none is given, and keeps one item (max_items 1)", async () => {
    const r = expectResult(await publish(romeo, TUNE, undefined, tune("Aubade")));
    const id = r.getChild("pubsub", NS)!.getChild("publish")!.getChild("item")!.attrs.id;
    expect(id).toMatch(/.{8,}/);
    const items = expectResult(await pubsub(romeo, "get", `<items node='${TUNE}'/>`));
    const list = items.getChild("pubsub", NS)!.getChild("items")!.childElements("item");
    expect(list.map((i) => i.attrs.id)).toEqual([id]);
    expect(list[0].getChild("tune", TUNE)!.getChildText("title")).toBe("Aubade");
  });

  it("takes the account's bare JID as the address too (to = own bare JID)", async () => {
    expectResult(await pubsub(romeo, "set", `<publish node='${TUNE}'><item id='x'>${tune("Serenade")}</item></publish>`, { to: "romeo@localhost" }));
    const items = expectResult(await pubsub(romeo, "get", `<items node='${TUNE}'/>`, { to: "romeo@localhost" }));
    expect(items.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.attrs.id).toBe("x");
  });
});

describe("publish-options (XEP-0060 §7.1.5)", () => {
  const node = "urn:xmpp:bookmarks:1";
  const opts = { "pubsub#persist_items": "true", "pubsub#max_items": "max", "pubsub#access_model": "whitelist" };

  it("configures a node it creates, and must match an existing node", async () => {
    expectResult(await publish(juliet, node, "orchard", "<conference xmlns='urn:xmpp:bookmarks:1' name='Orchard'/>", opts));
    const conf = configValues(expectResult(await pubsub(juliet, "get", `<configure node='${node}'/>`, { ns: NS_OWNER })));
    expect(conf.get("pubsub#access_model")).toEqual(["whitelist"]);
    expect(conf.get("pubsub#max_items")).toEqual(["max"]);
    // Matching options: accepted.
    expectResult(await publish(juliet, node, "balcony", "<conference xmlns='urn:xmpp:bookmarks:1' name='Balcony'/>", opts));
    const items = expectResult(await pubsub(juliet, "get", `<items node='${node}'/>`));
    expect(items.getChild("pubsub", NS)!.getChild("items")!.childElements("item").map((i) => i.attrs.id)).toEqual(["orchard", "balcony"]);
  });

  it("refuses options the node does not have: conflict, precondition-not-met, Prosody's text", async () => {
    const r = await publish(juliet, node, "crypt", "<conference xmlns='urn:xmpp:bookmarks:1'/>", { "pubsub#access_model": "presence" });
    expect(errorOf(r)).toEqual({ type: "cancel", condition: "conflict", app: "precondition-not-met", text: "Field does not match: access_model" });
  });

  it("refuses a configuration PEP does not offer when creating", async () => {
    const auth = await publish(juliet, "urn:example:a", "1", "<a xmlns='urn:example:a'/>", { "pubsub#access_model": "authorize" });
    expect(errorOf(auth)).toMatchObject({ type: "modify", condition: "not-acceptable", app: "unsupported-access-model" });
    const big = await publish(juliet, "urn:example:b", "1", "<b xmlns='urn:example:b'/>", { "pubsub#max_items": "257" });
    expect(errorOf(big)).toMatchObject({ type: "modify", condition: "not-acceptable" });
    const unknown = await publish(juliet, "urn:example:c", "1", "<c xmlns='urn:example:c'/>", { "pubsub#no_such_option": "1" });
    expect(errorOf(unknown).type).toBe("modify");
    // None of them was created.
    const items = await pubsub(juliet, "get", "<items node='urn:example:a'/>");
    expect(errorOf(items).condition).toBe("item-not-found");
  });
});

describe("who may do what", () => {
  it("only the account publishes to its PEP service", async () => {
    const r = await pubsub(tybalt, "set", `<publish node='${TUNE}'><item>${tune("Brawl")}</item></publish>`, { to: "romeo@localhost" });
    expect(errorOf(r)).toMatchObject({ type: "auth", condition: "forbidden" });
    const create = await pubsub(juliet, "set", "<publish node='urn:example:mine'><item><x xmlns='urn:example:mine'/></item></publish>", { to: "romeo@localhost" });
    expect(errorOf(create)).toMatchObject({ condition: "forbidden" });
    const conf = await pubsub(juliet, "get", `<configure node='${TUNE}'/>`, { to: "romeo@localhost", ns: NS_OWNER });
    expect(errorOf(conf)).toMatchObject({ condition: "forbidden" });
    const del = await pubsub(tybalt, "set", `<delete node='${TUNE}'/>`, { to: "romeo@localhost", ns: NS_OWNER });
    expect(errorOf(del)).toMatchObject({ condition: "forbidden" });
  });

  it("access model presence: a contact with a subscription reads the items, a stranger may not", async () => {
    const got = expectResult(await pubsub(juliet, "get", `<items node='${TUNE}'/>`, { to: "romeo@localhost" }));
    expect(got.getChild("pubsub", NS)!.getChild("items")!.childElements("item")).toHaveLength(1);
    const stranger = await pubsub(tybalt, "get", `<items node='${TUNE}'/>`, { to: "romeo@localhost" });
    expect(errorOf(stranger)).toEqual({ type: "auth", condition: "not-authorized", app: "presence-subscription-required" });
    const sub = await pubsub(tybalt, "set", `<subscribe node='${TUNE}' jid='${tybalt.jid}'/>`, { to: "romeo@localhost" });
    expect(errorOf(sub)).toMatchObject({ condition: "not-authorized", app: "presence-subscription-required" });
  });

  it("whitelist: even a contact is kept out", async () => {
    const r = await pubsub(romeo, "get", "<items node='urn:xmpp:bookmarks:1'/>", { to: "juliet@localhost" });
    expect(errorOf(r)).toMatchObject({ condition: "not-allowed", app: "closed-node" });
  });

  it("whitelist: an affiliation the owner grants lets the entity in, and it is told (XEP-0060 §8.9.4)", async () => {
    const node = "urn:herald:test:whitelisted";
    expectResult(await publish(romeo, node, "1", tune("Secret"), { "pubsub#access_model": "whitelist" }));
    const tybaltOnline = await login(ts, "tybalt", "lantern");
    try {
      await online(tybaltOnline, []);
      expect(errorOf(await pubsub(tybaltOnline, "get", `<items node='${node}'/>`, { to: "romeo@localhost" }))).toMatchObject({ condition: "not-allowed" });
      const set = `<affiliations node='${node}'><affiliation jid='tybalt@localhost' affiliation='member'/></affiliations>`;
      expectResult(await pubsub(romeo, "set", set, { ns: NS_OWNER }));
      const told = await nextMessage(tybaltOnline);
      expect(told.attrs.from).toBe("romeo@localhost");
      const affiliations = told.getChild("pubsub", NS)!.getChild("affiliations")!;
      expect(affiliations.attrs.node).toBe(node);
      expect(affiliations.childElements("affiliation").map((a) => a.attrs)).toEqual([{ jid: "tybalt@localhost", affiliation: "member" }]);
      const got = expectResult(await pubsub(tybaltOnline, "get", `<items node='${node}'/>`, { to: "romeo@localhost" }));
      expect(got.getChild("pubsub", NS)!.getChild("items")!.childElements("item").map((i) => i.attrs.id)).toEqual(["1"]);
    } finally {
      expectResult(await pubsub(romeo, "set", `<delete node='${node}'/>`, { ns: NS_OWNER }));
      tybaltOnline.close();
      await tybaltOnline.waitClosed();
    }
  });

  it("open: anyone reads", async () => {
    expectResult(await publish(romeo, "urn:xmpp:microblog:0", "hello", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Hi</title></entry>", { "pubsub#access_model": "open" }));
    const r = expectResult(await pubsub(tybalt, "get", "<items node='urn:xmpp:microblog:0'/>", { to: "romeo@localhost" }));
    expect(r.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.attrs.id).toBe("hello");
  });
});

describe("service discovery (XEP-0163 §1, XEP-0060 §5)", () => {
  it("the account has identity pubsub/pep and the PEP features", async () => {
    const r = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`));
    const q = r.getChild("query", NS_DISCO_INFO)!;
    expect(q.childElements("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(["account/registered", "pubsub/pep"]);
    const features = q.childElements("feature").map((f) => f.attrs.var);
    for (const f of ["publish", "auto-create", "publish-options", "filtered-notifications", "auto-subscribe", "presence-subscribe", "last-published", "access-presence"]) {
      expect(features).toContain(`${NS}#${f}`);
    }
    expect(features).not.toContain(`${NS}#access-authorize`);
    expect(new Set(features).size).toBe(features.length);
  });

  it("lists the nodes the requester may see, named by title", async () => {
    expectResult(
      await pubsub(romeo, "set", `<configure node='${TUNE}'>${form("http://jabber.org/protocol/pubsub#node_config", { "pubsub#title": "Nice tunes" })}</configure>`, { ns: NS_OWNER }),
    );
    const own = expectResult(await romeo.iq(`<iq type='get' id='${nextId()}'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`));
    expect(own.getChild("query", NS_DISCO_ITEMS)!.childElements("item").map((i) => i.attrs)).toEqual([
      { jid: "romeo@localhost", node: TUNE, name: "Nice tunes" },
      { jid: "romeo@localhost", node: "urn:xmpp:microblog:0" },
    ]);
    const stranger = expectResult(await tybalt.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`));
    expect(stranger.getChild("query", NS_DISCO_ITEMS)!.childElements("item").map((i) => i.attrs.node)).toEqual(["urn:xmpp:microblog:0"]);
  });

  it("a node's info has its metadata, its items are named by id", async () => {
    const info = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_INFO}' node='${TUNE}'/></iq>`));
    const q = info.getChild("query", NS_DISCO_INFO)!;
    expect(q.getChild("identity")!.attrs).toEqual({ category: "pubsub", type: "leaf" });
    expect(q.getChild("x", "jabber:x:data")).toBeDefined();
    const items = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_ITEMS}' node='${TUNE}'/></iq>`));
    expect(items.getChild("query", NS_DISCO_ITEMS)!.childElements("item").map((i) => i.attrs)).toEqual([{ jid: "romeo@localhost", name: "x" }]);
    const missing = await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_INFO}' node='urn:nothing'/></iq>`);
    expect(errorOf(missing).condition).toBe("item-not-found");
  });
});

describe("bad input", () => {
  it("gets the errors XEP-0060 names", async () => {
    expect(errorOf(await pubsub(romeo, "set", "<publish><item><x xmlns='urn:x'/></item></publish>"))).toMatchObject({ condition: "bad-request", app: "nodeid-required" });
    expect(errorOf(await pubsub(romeo, "set", "<publish node='urn:x'><item><x xmlns='urn:x'/><y xmlns='urn:x'/></item></publish>"))).toMatchObject({
      condition: "bad-request",
      app: "invalid-payload",
    });
    expect(errorOf(await pubsub(romeo, "set", "<publish node='urn:x'><item>text</item></publish>"))).toMatchObject({ condition: "bad-request" });
    expect(errorOf(await pubsub(romeo, "get", "<items node='urn:none'/>"))).toMatchObject({ type: "cancel", condition: "item-not-found" });
    expect(errorOf(await pubsub(romeo, "set", "<frobnicate node='x'/>"))).toMatchObject({ condition: "feature-not-implemented" });
    expect(errorOf(await pubsub(romeo, "set", `<retract node='${TUNE}'><item/></retract>`))).toMatchObject({ app: "item-required" });
    expect(errorOf(await pubsub(romeo, "set", `<publish node='${TUNE}'><item>${tune("x")}</item></publish><publish-options>${form("urn:wrong", {})}</publish-options>`))).toMatchObject({
      condition: "bad-request",
    });
  });

  it("a service of an account that does not exist is unavailable", async () => {
    const r = await pubsub(romeo, "get", `<items node='${TUNE}'/>`, { to: "nobody@localhost" });
    expect(errorOf(r)).toMatchObject({ type: "cancel", condition: "service-unavailable" });
  });

  it("the server still answers after all that", async () => {
    expectResult(await pubsub(romeo, "get", `<items node='${TUNE}'/>`));
  });
});
