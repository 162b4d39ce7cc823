// Items on a real server: publish (§7.1) with given or generated ids, notifications, retrieval
// (§6.5: all, max_items, by id, RSM), retract (§7.2), publish-options (§7.1.5), event types
// (§4.3, §7.1.3.6), max_items and publish_node_full, item_expire, and every bad publish request.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import {
  ATOM,
  NS,
  configure,
  createNode,
  errorOf,
  eventOf,
  expectResult,
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
  ts = await startPubsubServer({ component: "pubsub_max_payload_size = 2000\npubsub_sweep_interval = 0.2" }, ["romeo", "juliet"]);
  admin = await login(ts, "admin", "desk");
  romeo = await login(ts, "romeo", "orchard");
  juliet = await login(ts, "juliet", "balcony");
});
afterAll(() => ts?.stop());

const entry = (title: string) => `<entry xmlns='http://www.w3.org/2005/Atom'><title>${title}</title></entry>`;

describe("publish (§7.1)", () => {
  it("given id: the result names it, the subscriber gets the payload before the publisher's result", async () => {
    await createNode(admin, "i1");
    expectResult(await subscribe(juliet, "i1"));
    const r = expectResult(await publish(admin, "i1", "current"));
    const published = r.getChild("pubsub", NS)!.getChild("publish")!;
    expect(published.attrs.node).toBe("i1");
    expect(published.getChild("item")!.attrs).toEqual({ id: "current" });
    const msg = await nextMessage(juliet);
    expect(msg.attrs).toMatchObject({ from: "pubsub.localhost", to: juliet.jid, type: "headline" });
    const item = eventOf(msg).getChild("items")!.getChild("item")!;
    // expose_publisher unset and itemreply none: no publisher attribute (Prosody).
    expect(item.attrs).toEqual({ id: "current" });
    expect(item.getChild("entry", "http://www.w3.org/2005/Atom")?.getChildText("title")).toBe("Soliloquy");
  });

  it("a publisher that is also a subscriber gets its notification before the result (Prosody's order)", async () => {
    await createNode(admin, "i0");
    expectResult(await subscribe(admin, "i0"));
    admin.send(`<iq type='set' to='pubsub.localhost' id='order1'><pubsub xmlns='${NS}'><publish node='i0'><item id='1'>${ATOM}</item></publish></pubsub></iq>`);
    const first = await admin.next();
    const second = await admin.next();
    expect([first.name, second.name]).toEqual(["message", "iq"]);
    expect(second.attrs).toMatchObject({ id: "order1", type: "result" });
  });

  it("no id: the service generates a unique one and returns it", async () => {
    await createNode(admin, "i2");
    const a = expectResult(await publish(admin, "i2", undefined)).getChild("pubsub", NS)!.getChild("publish")!.getChild("item")!.attrs.id!;
    const b = expectResult(await publish(admin, "i2", undefined)).getChild("pubsub", NS)!.getChild("publish")!.getChild("item")!.attrs.id!;
    expect(a).not.toBe(b);
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='i2'/>")))).toEqual([a, b]);
  });

  it("the same id again overwrites the item and makes it the newest", async () => {
    await createNode(admin, "i3");
    expectResult(await publish(admin, "i3", "a", entry("one")));
    expectResult(await publish(admin, "i3", "b", entry("two")));
    expectResult(await publish(admin, "i3", "a", entry("three")));
    const r = expectResult(await pubsub(admin, "get", "<items node='i3'/>"));
    expect(itemIds(r)).toEqual(["b", "a"]);
    const a = r.getChild("pubsub", NS)!.getChild("items")!.childElements("item")[1];
    expect(a.getChild("entry", "http://www.w3.org/2005/Atom")?.getChildText("title")).toBe("three");
  });

  it("a payload without namespace of its own keeps the pubsub namespace", async () => {
    await createNode(admin, "i4");
    expectResult(await subscribe(juliet, "i4"));
    expectResult(await publish(admin, "i4", "x", "<plain>text</plain>"));
    const item = eventOf(await nextMessage(juliet)).getChild("items")!.getChild("item")!;
    expect(item.firstElement()!.attrs.xmlns).toBe(NS);
  });

  it("deliver_notifications off: nothing is sent; notification_type normal: a normal message", async () => {
    await createNode(admin, "i5", { "pubsub#deliver_notifications": "0" });
    expectResult(await subscribe(juliet, "i5"));
    expectResult(await publish(admin, "i5", "1"));
    await noMessage(juliet);
    await createNode(admin, "i6", { "pubsub#notification_type": "normal" });
    expectResult(await subscribe(juliet, "i6"));
    expectResult(await publish(admin, "i6", "1"));
    const msg = await nextMessage(juliet);
    expect(msg.attrs.type === undefined || msg.attrs.type === "normal").toBe(true);
  });

  it("itemreply = publisher adds the publisher's bare JID, in notifications and retrieval", async () => {
    await createNode(admin, "i7", { "pubsub#itemreply": "publisher" });
    expectResult(await subscribe(juliet, "i7"));
    expectResult(await publish(admin, "i7", "1"));
    expect(eventOf(await nextMessage(juliet)).getChild("items")!.getChild("item")!.attrs.publisher).toBe("admin@localhost");
    const got = expectResult(await pubsub(juliet, "get", "<items node='i7'/>"));
    expect(got.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.attrs.publisher).toBe("admin@localhost");
  });
});

describe("bad publish requests", () => {
  it("no node: nodeid-required; unknown node: item-not-found (no auto-create)", async () => {
    expect(errorOf(await pubsub(admin, "set", `<publish><item>${ATOM}</item></publish>`))).toMatchObject({
      type: "modify",
      condition: "bad-request",
      app: "nodeid-required",
    });
    expect(errorOf(await publish(admin, "no-such-node", "1"))).toMatchObject({ type: "cancel", condition: "item-not-found" });
  });

  it("an item with no payload on a payload node: bad-request + payload-required (§7.1.3.6)", async () => {
    await createNode(admin, "b1");
    expect(errorOf(await pubsub(admin, "set", "<publish node='b1'><item id='1'/></publish>"))).toMatchObject({
      condition: "bad-request",
      app: "payload-required",
    });
  });

  it("two payloads, or text, in an item: bad-request + invalid-payload (§7.1.3.5)", async () => {
    await createNode(admin, "b2");
    const two = await pubsub(admin, "set", `<publish node='b2'><item id='1'>${ATOM}${ATOM}</item></publish>`);
    expect(errorOf(two)).toMatchObject({ type: "modify", condition: "bad-request", app: "invalid-payload" });
    const text = await pubsub(admin, "set", "<publish node='b2'><item id='1'>just words</item></publish>");
    expect(errorOf(text)).toMatchObject({ condition: "bad-request", app: "invalid-payload" });
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='b2'/>")))).toEqual([]);
  });

  it("a payload of another namespace than pubsub#type: invalid-payload", async () => {
    await createNode(admin, "b3", { "pubsub#type": "urn:example:tune" });
    expect(errorOf(await publish(admin, "b3", "1"))).toMatchObject({ condition: "bad-request", app: "invalid-payload" });
    expectResult(await publish(admin, "b3", "1", "<tune xmlns='urn:example:tune'/>"));
  });

  it("an oversize payload: not-acceptable + payload-too-big (§7.1.3.4), service limit and node limit", async () => {
    await createNode(admin, "b4");
    const big = `<blob xmlns='urn:example:blob'>${"x".repeat(3000)}</blob>`;
    expect(errorOf(await publish(admin, "b4", "1", big))).toMatchObject({ type: "modify", condition: "not-acceptable", app: "payload-too-big" });
    expectResult(await configure(admin, "b4", { "pubsub#max_payload_size": "100" }));
    const medium = `<blob xmlns='urn:example:blob'>${"x".repeat(200)}</blob>`;
    expect(errorOf(await publish(admin, "b4", "1", medium))).toMatchObject({ app: "payload-too-big" });
  });

  it("two items in one publish: bad-request; publishing without the right: forbidden", async () => {
    await createNode(admin, "b5");
    expect(errorOf(await pubsub(admin, "set", `<publish node='b5'><item>${ATOM}</item><item>${ATOM}</item></publish>`))).toMatchObject({
      condition: "bad-request",
    });
    expect(errorOf(await publish(romeo, "b5", "1"))).toMatchObject({ type: "auth", condition: "forbidden" });
  });
});

describe("publish-options (§7.1.5)", () => {
  const options = (fields: Record<string, string>, formType = "http://jabber.org/protocol/pubsub#publish-options") =>
    `<publish-options>${submitForm(formType, fields)}</publish-options>`;

  it("met preconditions publish; unmet ones: conflict + precondition-not-met", async () => {
    await createNode(admin, "po1", { "pubsub#access_model": "whitelist" });
    const ok = await pubsub(admin, "set", `<publish node='po1'><item id='1'>${ATOM}</item></publish>${options({ "pubsub#access_model": "whitelist" })}`);
    expectResult(ok);
    const bad = await pubsub(admin, "set", `<publish node='po1'><item id='2'>${ATOM}</item></publish>${options({ "pubsub#access_model": "open" })}`);
    expect(errorOf(bad)).toMatchObject({ type: "cancel", condition: "conflict", app: "precondition-not-met" });
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='po1'/>")))).toEqual(["1"]);
  });

  it("an unknown field fails the precondition; a wrong FORM_TYPE is a bad-request", async () => {
    await createNode(admin, "po2");
    const unknown = await pubsub(admin, "set", `<publish node='po2'><item>${ATOM}</item></publish>${options({ "pubsub#no_such_option": "1" })}`);
    expect(errorOf(unknown)).toMatchObject({ app: "precondition-not-met" });
    const wrong = await pubsub(admin, "set", `<publish node='po2'><item>${ATOM}</item></publish>${options({ "pubsub#access_model": "open" }, "urn:other")}`);
    expect(errorOf(wrong)).toMatchObject({ condition: "bad-request" });
  });
});

describe("retrieval (§6.5)", () => {
  it("all items oldest first, the N newest with max_items, requested ids in request order", async () => {
    await createNode(admin, "r1");
    for (const id of ["a", "b", "c", "d"]) expectResult(await publish(admin, "r1", id, entry(id)));
    expect(itemIds(expectResult(await pubsub(juliet, "get", "<items node='r1'/>")))).toEqual(["a", "b", "c", "d"]);
    expect(itemIds(expectResult(await pubsub(juliet, "get", "<items node='r1' max_items='2'/>")))).toEqual(["c", "d"]);
    expect(itemIds(expectResult(await pubsub(juliet, "get", "<items node='r1'><item id='d'/><item id='zz'/><item id='a'/></items>")))).toEqual(["d", "a"]);
    const noRsm = expectResult(await pubsub(juliet, "get", "<items node='r1' max_items='1'/>"));
    expect(noRsm.getChild("pubsub", NS)!.children.filter((c) => typeof c !== "string")).toHaveLength(1);
  });

  it("RSM pages (XEP-0059): first page, after, the last page with an empty <before/>", async () => {
    await createNode(admin, "r2");
    for (const id of ["a", "b", "c", "d", "e"]) expectResult(await publish(admin, "r2", id));
    const page = async (set: string) => {
      const r = expectResult(await pubsub(juliet, "get", `<items node='r2'/><set xmlns='http://jabber.org/protocol/rsm'>${set}</set>`));
      const s = r.getChild("pubsub", NS)!.getChild("set", "http://jabber.org/protocol/rsm")!;
      return { ids: itemIds(r), first: s.getChildText("first"), last: s.getChildText("last"), count: s.getChildText("count") };
    };
    expect(await page("<max>2</max>")).toEqual({ ids: ["a", "b"], first: "a", last: "b", count: "5" });
    expect(await page("<max>2</max><after>b</after>")).toEqual({ ids: ["c", "d"], first: "c", last: "d", count: "5" });
    expect(await page("<max>2</max><before/>")).toEqual({ ids: ["d", "e"], first: "d", last: "e", count: "5" });
    expect(errorOf(await pubsub(juliet, "get", "<items node='r2'/><set xmlns='http://jabber.org/protocol/rsm'><max>x</max></set>"))).toMatchObject({
      condition: "bad-request",
    });
  });

  it("errors: max_items not a number -> bad-request; unknown node -> item-not-found", async () => {
    await createNode(admin, "r3");
    expect(errorOf(await pubsub(juliet, "get", "<items node='r3' max_items='-1'/>"))).toMatchObject({ condition: "bad-request" });
    expect(errorOf(await pubsub(juliet, "get", "<items node='r-none'/>"))).toMatchObject({ condition: "item-not-found" });
  });
});

describe("retract (§7.2)", () => {
  it("notify='true' tells subscribers; notify='0' does not", async () => {
    await createNode(admin, "rt1");
    for (const id of ["a", "b"]) expectResult(await publish(admin, "rt1", id));
    expectResult(await subscribe(juliet, "rt1"));
    expectResult(await pubsub(admin, "set", "<retract node='rt1' notify='true'><item id='a'/></retract>"));
    expect(eventOf(await nextMessage(juliet)).getChild("items")!.getChild("retract")!.attrs.id).toBe("a");
    expectResult(await pubsub(admin, "set", "<retract node='rt1' notify='0'><item id='b'/></retract>"));
    await noMessage(juliet);
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='rt1'/>")))).toEqual([]);
  });

  it("errors: no item id -> item-required; unknown item -> item-not-found; not a publisher -> forbidden", async () => {
    await createNode(admin, "rt2");
    expectResult(await publish(admin, "rt2", "a"));
    expect(errorOf(await pubsub(admin, "set", "<retract node='rt2'><item/></retract>"))).toMatchObject({ condition: "bad-request", app: "item-required" });
    expect(errorOf(await pubsub(admin, "set", "<retract node='rt2'/>"))).toMatchObject({ app: "item-required" });
    expect(errorOf(await pubsub(admin, "set", "<retract><item id='a'/></retract>"))).toMatchObject({ app: "nodeid-required" });
    expect(errorOf(await pubsub(admin, "set", "<retract node='rt2'><item id='zz'/></retract>"))).toMatchObject({ condition: "item-not-found" });
    expect(errorOf(await pubsub(romeo, "set", "<retract node='rt2'><item id='a'/></retract>"))).toMatchObject({ condition: "forbidden" });
  });
});

describe("event types and node limits", () => {
  it("notification-only node: the item goes out without payload but is kept (§4.3)", async () => {
    await createNode(admin, "e1", { "pubsub#deliver_payloads": "0" });
    expectResult(await subscribe(juliet, "e1"));
    expectResult(await publish(admin, "e1", "1"));
    const item = eventOf(await nextMessage(juliet)).getChild("items")!.getChild("item")!;
    expect(item.attrs.id).toBe("1");
    expect(item.children).toHaveLength(0);
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='e1'/>")))).toEqual(["1"]);
  });

  it("transient notification-only node: no item allowed (item-forbidden), empty <items/> goes out", async () => {
    await createNode(admin, "e2", { "pubsub#deliver_payloads": "0", "pubsub#persist_items": "0" });
    expectResult(await subscribe(juliet, "e2"));
    expect(errorOf(await publish(admin, "e2", "1"))).toMatchObject({ type: "modify", condition: "bad-request", app: "item-forbidden" });
    const r = expectResult(await pubsub(admin, "set", "<publish node='e2'/>"));
    expect(r.getChild("pubsub", NS)!.getChild("publish")!.children).toHaveLength(0);
    const items = eventOf(await nextMessage(juliet)).getChild("items")!;
    expect(items.attrs.node).toBe("e2");
    expect(items.children).toHaveLength(0);
    expect(errorOf(await pubsub(admin, "get", "<items node='e2'/>"))).toMatchObject({ app: "unsupported", feature: "persistent-items" });
  });

  it("persistent node without <item/>: item-required", async () => {
    await createNode(admin, "e3");
    expect(errorOf(await pubsub(admin, "set", "<publish node='e3'/>"))).toMatchObject({ condition: "bad-request", app: "item-required" });
  });

  it("max_items keeps the newest; lowering it trims", async () => {
    await createNode(admin, "m1", { "pubsub#max_items": "3" });
    for (const id of ["a", "b", "c", "d"]) expectResult(await publish(admin, "m1", id));
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='m1'/>")))).toEqual(["b", "c", "d"]);
    expectResult(await configure(admin, "m1", { "pubsub#max_items": "1" }));
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='m1'/>")))).toEqual(["d"]);
  });

  it("publish_node_full = reject: conflict + node-full; retract-oldest tells subscribers", async () => {
    await createNode(admin, "m2", { "pubsub#max_items": "1", "pubsub#publish_node_full": "reject" });
    expectResult(await publish(admin, "m2", "a"));
    expect(errorOf(await publish(admin, "m2", "b"))).toMatchObject({ type: "cancel", condition: "conflict", app: "node-full" });
    expectResult(await publish(admin, "m2", "a")); // replacing is not growing
    await createNode(admin, "m3", { "pubsub#max_items": "1", "pubsub#publish_node_full": "retract-oldest" });
    expectResult(await subscribe(juliet, "m3"));
    expectResult(await publish(admin, "m3", "a"));
    await nextMessage(juliet);
    expectResult(await publish(admin, "m3", "b"));
    expect(eventOf(await nextMessage(juliet)).getChild("items")!.getChild("retract")!.attrs.id).toBe("a");
    expect(eventOf(await nextMessage(juliet)).getChild("items")!.getChild("item")!.attrs.id).toBe("b");
  });

  it("pubsub#item_expire: items older than that are removed by the sweep", async () => {
    await createNode(admin, "x1", { "pubsub#item_expire": "1" });
    expectResult(await publish(admin, "x1", "old"));
    await new Promise((r) => setTimeout(r, 1400));
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='x1'/>")))).toEqual([]);
  });

  it("publish_model open: anyone publishes; subscribers: subscribers only", async () => {
    await createNode(admin, "pm1", { "pubsub#publish_model": "open" });
    expectResult(await publish(romeo, "pm1", "r"));
    await createNode(admin, "pm2", { "pubsub#publish_model": "subscribers" });
    expect(errorOf(await publish(romeo, "pm2", "r"))).toMatchObject({ condition: "forbidden" });
    expectResult(await subscribe(romeo, "pm2"));
    expectResult(await publish(romeo, "pm2", "r"));
    await nextMessage(romeo);
  });
});

describe("purge is owner-side; retrieval of the owner", () => {
  it("owner retrieves without subscribing", async () => {
    await createNode(admin, "o1", { "pubsub#access_model": "whitelist" });
    expectResult(await publish(admin, "o1", "1"));
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='o1'/>")))).toEqual(["1"]);
    expectResult(await owner(admin, "set", "<purge node='o1'/>"));
  });
});
