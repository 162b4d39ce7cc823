import { describe, expect, it } from "vitest";
import { MemoryPubsubStore } from "./store.js";
import { createTestService, expectOk } from "./testing.js";
import type { StoredItem } from "./types.js";

const OWNER = "hamlet@denmark.lit/elsinore";
const OWNER_BARE = "hamlet@denmark.lit";
const SUB = "francisco@denmark.lit/barracks";

const ids = (items: StoredItem[]) => items.map((i) => i.id);

async function nodeWith(config = {}, serviceConfig = {}) {
  const t = createTestService(serviceConfig);
  expectOk(await t.service.create("n", OWNER, config));
  return t;
}

describe("publish (§7.1)", () => {
  it("stores the item with the publisher's bare JID and notifies subscribers with the payload", async () => {
    const t = await nodeWith();
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    const out = expectOk(await t.service.publish("n", OWNER, "current", { payload: { entry: 1 } }));
    expect(out).toEqual({ node: "n", id: "current", created: false });
    expect(await t.store.getItem("n", "current")).toMatchObject({ publisher: OWNER_BARE, payload: { entry: 1 } });
    const [event] = t.eventsOf("items");
    expect(event.item).toEqual({ id: "current", publisher: OWNER_BARE, published: t.clock.now, payload: { entry: 1 } });
    expect(event.recipients).toEqual([{ jid: SUB, subids: [sub.subid], includeBody: false }]);
    expect(event.owners).toEqual([OWNER_BARE]);
  });

  it("generates an id when none is given (§7.1.2)", async () => {
    const t = await nodeWith();
    const out = expectOk(await t.service.publish("n", OWNER, undefined, { payload: 1 }));
    expect(out.id).toBe("id-1");
    expect(await t.store.getItem("n", "id-1")).toBeDefined();
  });

  it("re-publishing an id overwrites it and makes it the newest (§7.1.2)", async () => {
    const t = await nodeWith();
    for (const id of ["a", "b", "a"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id + "!" }));
    expect(ids(expectOk(await t.service.getItems("n", OWNER)).items)).toEqual(["b", "a"]);
    expect(t.eventsOf("items")).toHaveLength(3);
  });

  it("a missing node is item-not-found without auto-create (§7.1.3.3)", async () => {
    const t = createTestService();
    expect(await t.service.publish("nope", OWNER, "1", { payload: 1 })).toEqual({ ok: false, error: "item-not-found" });
  });

  it("is acknowledged only after the durable write", async () => {
    let release!: () => void;
    class SlowStore extends MemoryPubsubStore {
      override async appendItem(node: string, item: StoredItem, options?: { keep?: number }): Promise<void> {
        await new Promise<void>((resolve) => (release = resolve));
        return super.appendItem(node, item, options);
      }
    }
    const t = createTestService({}, { store: new SlowStore() });
    expectOk(await t.service.create("n", OWNER));
    let done = false;
    const publishing = t.service.publish("n", OWNER, "1", { payload: 1 }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    expect(t.eventsOf("items")).toEqual([]);
    release();
    expectOk(await publishing);
    expect(await t.store.getItem("n", "1")).toBeDefined();
  });

  it("deliver_notifications off: no broadcast, but the bus still hears of it", async () => {
    const t = await nodeWith({ deliverNotifications: false });
    const heard: string[] = [];
    t.service.events.on("item-published/n", (e) => heard.push(e.item.id ?? ""));
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")).toEqual([]);
    expect(heard).toEqual(["1"]);
  });

  it("deliver_payloads off: notifications carry no payload", async () => {
    const t = await nodeWith({ deliverPayloads: false });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: "secret" }));
    expect(t.eventsOf("items")[0].item).not.toHaveProperty("payload");
    expect((await t.store.getItem("n", "1"))?.payload).toBe("secret");
  });

  it("fans out to thousands of subscribers from memory: a fixed number of store calls per publish", async () => {
    const calls: string[] = [];
    const store = new MemoryPubsubStore();
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        return typeof value === "function"
          ? (...args: unknown[]) => {
              calls.push(String(key));
              return value.apply(target, args);
            }
          : value;
      },
    });
    const t = createTestService({}, { store: counted });
    expectOk(await t.service.create("n", OWNER));
    for (let i = 0; i < 3000; i++) expectOk(await t.service.subscribe("n", `u${i}@example.com`, `u${i}@example.com`));
    calls.length = 0;
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(calls).toEqual(["appendItem"]); // one durable write: the append trims to max_items
    expect(t.eventsOf("items")[0].recipients).toHaveLength(3000);
  });

  it("the broadcaster is called even with no subscribers (PEP adds its own recipients)", async () => {
    const t = await nodeWith();
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")).toEqual([expect.objectContaining({ recipients: [] })]);
  });
});

describe("event types (§4.3, §7.1.3.6)", () => {
  it("persistent node: an <item/> is required", async () => {
    const t = await nodeWith();
    expect(await t.service.publish("n", OWNER, undefined, undefined)).toEqual({ ok: false, error: "item-required" });
  });

  it("payload node: the item needs a payload", async () => {
    const t = await nodeWith();
    expect(await t.service.publish("n", OWNER, "1", {})).toEqual({ ok: false, error: "payload-required" });
  });

  it("persistent notification-only node: an empty item is fine", async () => {
    const t = await nodeWith({ deliverPayloads: false });
    expectOk(await t.service.publish("n", OWNER, "1", {}));
  });

  it("transient notification-only node: an item is forbidden; without one, an empty notification", async () => {
    const t = await nodeWith({ persistItems: false, deliverPayloads: false });
    expect(await t.service.publish("n", OWNER, "1", { payload: 1 })).toEqual({ ok: false, error: "item-forbidden" });
    expect(expectOk(await t.service.publish("n", OWNER, undefined, undefined))).toEqual({ node: "n", created: false });
    expect(t.eventsOf("items")[0].item).not.toHaveProperty("id");
  });

  it("transient payload node: items are delivered, not stored; retrieval is unsupported", async () => {
    const t = await nodeWith({ persistItems: false });
    expectOk(await t.service.publish("n", OWNER, undefined, { payload: "p" }));
    expect(await t.store.countItems("n")).toBe(0);
    expect(t.eventsOf("items")[0].item).toMatchObject({ id: "id-1", payload: "p" });
    expect(await t.service.getItems("n", OWNER)).toEqual({ ok: false, error: "persistent-items-unsupported" });
    expect(await t.service.retract("n", OWNER, "id-1")).toMatchObject({ error: "persistent-items-unsupported" });
    expect(await t.service.purge("n", OWNER)).toMatchObject({ error: "persistent-items-unsupported" });
    // The last item is still cached for send_last_published_item.
    expect(expectOk(await t.service.getLastItem("n", OWNER))?.id).toBe("id-1");
  });
});

describe("payload checks", () => {
  it("pubsub#max_payload_size and the service limit -> payload-too-big (§7.1.3.4)", async () => {
    const t = await nodeWith({ maxPayloadSize: 100 }, { maxPayloadSize: 1000 });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1, size: 100 }));
    expect(await t.service.publish("n", OWNER, "2", { payload: 1, size: 101 })).toEqual({
      ok: false,
      error: "payload-too-big",
    });
    expect(await t.service.setConfig("n", OWNER, { maxPayloadSize: 5000 })).toMatchObject({ error: "not-acceptable" });
  });

  it("pubsub#type must match the payload namespace (§7.1.3.5)", async () => {
    const t = await nodeWith({ type: "http://www.w3.org/2005/Atom" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1, namespace: "http://www.w3.org/2005/Atom" }));
    expect(await t.service.publish("n", OWNER, "2", { payload: 1, namespace: "urn:other" })).toMatchObject({
      error: "invalid-payload",
    });
  });
});

describe("publish-options (§7.1.5)", () => {
  it("matching preconditions publish; a mismatch is precondition-not-met naming the field", async () => {
    const t = await nodeWith();
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }, { "pubsub#access_model": "open" }));
    expect(
      await t.service.publish("n", OWNER, "2", { payload: 1 }, {
        FORM_TYPE: "http://jabber.org/protocol/pubsub#publish-options",
        "pubsub#access_model": "presence",
      }),
    ).toEqual({ ok: false, error: "precondition-not-met", text: "Field does not match: access_model" });
    expect(await t.store.getItem("n", "2")).toBeUndefined();
  });

  it("compares typed values (booleans, numbers, lists)", async () => {
    const t = await nodeWith({ rosterGroupsAllowed: ["a", "b"] });
    const options = { "pubsub#persist_items": "true", "pubsub#max_items": "20", "pubsub#roster_groups_allowed": ["b", "a"] };
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }, options));
    expect(await t.service.publish("n", OWNER, "1", { payload: 1 }, { "pubsub#max_items": "19" })).toMatchObject({
      error: "precondition-not-met",
    });
  });

  it("an unknown field is refused", async () => {
    const t = await nodeWith();
    expect(await t.service.publish("n", OWNER, "1", { payload: 1 }, { "x-unknown": "1" })).toMatchObject({
      error: "precondition-not-met",
    });
  });

  it("auto-create makes the options the new node's configuration (Prosody, PEP)", async () => {
    const t = createTestService({ autocreateOnPublish: true });
    const out = expectOk(
      await t.service.publish("auto", OWNER, "1", { payload: 1 }, { "pubsub#access_model": "whitelist" }),
    );
    expect(out.created).toBe(true);
    expect(expectOk(await t.service.getConfig("auto", OWNER)).accessModel).toBe("whitelist");
    expect(expectOk(await t.service.getNodeAffiliations("auto", OWNER))).toEqual([
      { jid: OWNER_BARE, affiliation: "owner" },
    ]);
  });

  it("auto-create respects canCreate and refuses bad options", async () => {
    const t = createTestService({ autocreateOnPublish: true, canCreate: (a) => a.startsWith("hamlet@") });
    expect(await t.service.publish("x", SUB, "1", { payload: 1 })).toMatchObject({ error: "forbidden" });
    expect(await t.service.publish("x", OWNER, "1", { payload: 1 }, { "pubsub#max_items": "999" })).toMatchObject({
      error: "not-acceptable",
    });
    expect(await t.store.loadNode("x")).toBeUndefined();
  });
});

describe("max_items and pubsub#publish_node_full", () => {
  it("discard-oldest (default): the oldest go silently", async () => {
    const t = await nodeWith({ maxItems: 2 });
    for (const id of ["1", "2", "3"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expect(ids(await t.store.listItems("n"))).toEqual(["2", "3"]);
    expect(t.eventsOf("retract")).toEqual([]);
  });

  it("retract-oldest: the dropped items are retracted with notifications", async () => {
    const t = await nodeWith({ maxItems: 2, publishNodeFull: "retract-oldest" });
    expectOk(await t.service.subscribe("n", SUB, SUB));
    for (const id of ["1", "2", "3"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expect(ids(await t.store.listItems("n"))).toEqual(["2", "3"]);
    expect(t.eventsOf("retract")).toEqual([expect.objectContaining({ ids: ["1"] })]);
  });

  it("reject: conflict + node-full, but replacing an existing id is fine", async () => {
    const t = await nodeWith({ maxItems: 2, publishNodeFull: "reject" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(await t.service.publish("n", OWNER, "3", { payload: 3 })).toEqual({ ok: false, error: "node-full" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: "again" }));
  });

  it('"max" means the service limit (config-node-max)', async () => {
    const t = await nodeWith({ maxItems: "max" }, { maxItems: 3 });
    for (const id of ["1", "2", "3", "4"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expect(ids(await t.store.listItems("n"))).toEqual(["2", "3", "4"]);
    expect(await t.service.setConfig("n", OWNER, { maxItems: 4 })).toMatchObject({ error: "not-acceptable" });
  });

  it("lowering max_items trims the stored items", async () => {
    const t = await nodeWith();
    for (const id of ["1", "2", "3"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expectOk(await t.service.setConfig("n", OWNER, { maxItems: 1 }));
    expect(ids(await t.store.listItems("n"))).toEqual(["3"]);
  });

  it("turning persistence off clears the items", async () => {
    const t = await nodeWith();
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expectOk(await t.service.setConfig("n", OWNER, { persistItems: false }));
    expect(await t.store.countItems("n")).toBe(0);
  });
});

describe("retrieval (§6.5)", () => {
  async function fiveItems() {
    const t = await nodeWith();
    for (const id of ["a", "b", "c", "d", "e"]) {
      expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
      t.clock.advance(1000);
    }
    return t;
  }

  it("returns all items oldest first, as Prosody (pubsub_multi_items.scs)", async () => {
    const t = await fiveItems();
    expect(ids(expectOk(await t.service.getItems("n", SUB)).items)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("max_items gives the N most recent, still oldest first (pubsub_max_items.scs)", async () => {
    const t = await fiveItems();
    expect(ids(expectOk(await t.service.getItems("n", SUB, { max: 2 })).items)).toEqual(["d", "e"]);
    // What the protocol layer needs for the `publisher` attribute (§7.1.2).
    expect(expectOk(await t.service.getItems("n", SUB, { max: 2 }))).toMatchObject({ itemreply: "none", owners: [OWNER_BARE] });
  });

  it("by id: in the requested order, missing ids skipped", async () => {
    const t = await fiveItems();
    expect(ids(expectOk(await t.service.getItems("n", SUB, { ids: ["d", "zz", "a"] })).items)).toEqual(["d", "a"]);
    expect(expectOk(await t.service.getItem("n", SUB, "c")).payload).toBe("c");
    expect(await t.service.getItem("n", SUB, "zz")).toEqual({ ok: false, error: "item-not-found" });
  });

  it("a missing node is item-not-found", async () => {
    const t = createTestService();
    expect(await t.service.getItems("n", SUB)).toEqual({ ok: false, error: "item-not-found" });
  });

  it("RSM pages forward with after and backward with before (XEP-0059)", async () => {
    const t = await fiveItems();
    const first = expectOk(await t.service.getItems("n", SUB, { rsm: { max: 2 } }));
    expect(ids(first.items)).toEqual(["a", "b"]);
    expect(first.rsm).toEqual({ count: 5, first: "a", last: "b" });
    const next = expectOk(await t.service.getItems("n", SUB, { rsm: { max: 2, after: "b" } }));
    expect(ids(next.items)).toEqual(["c", "d"]);
    const last = expectOk(await t.service.getItems("n", SUB, { rsm: { max: 2, before: "" } }));
    expect(ids(last.items)).toEqual(["d", "e"]);
    const previous = expectOk(await t.service.getItems("n", SUB, { rsm: { max: 2, before: "d" } }));
    expect(ids(previous.items)).toEqual(["b", "c"]);
    const end = expectOk(await t.service.getItems("n", SUB, { rsm: { max: 2, after: "e" } }));
    expect(end).toMatchObject({ items: [], rsm: { count: 5 } });
    expect(end.rsm).toEqual({ count: 5 });
    expect(await t.service.getItems("n", SUB, { rsm: { after: "zz" } })).toMatchObject({ error: "item-not-found" });
  });

  it("subids: several subscriptions need one (§6.5.9.1), a foreign one is invalid (§6.5.9.2)", async () => {
    const t = await fiveItems();
    const one = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true }));
    expect(await t.service.getItems("n", SUB)).toEqual({ ok: false, error: "subid-required" });
    expectOk(await t.service.getItems("n", SUB, { subid: one.subid }));
    expect(await t.service.getItems("n", "other@denmark.lit", { subid: one.subid })).toEqual({
      ok: false,
      error: "invalid-subid",
    });
  });

  it("pubsub#item_expire removes items older than its seconds", async () => {
    const t = await fiveItems(); // published at 0s, 1s, 2s, 3s, 4s; now 5s
    expectOk(await t.service.setConfig("n", OWNER, { itemExpire: 3 }));
    expect(ids(expectOk(await t.service.getItems("n", SUB)).items)).toEqual(["c", "d", "e"]);
    expect(await t.store.countItems("n")).toBe(3);
    t.clock.advance(10_000);
    await t.service.sweep();
    expect(await t.store.countItems("n")).toBe(0);
    expect(expectOk(await t.service.getLastItem("n", SUB))).toBeUndefined();
  });
});

describe("retract (§7.2)", () => {
  it("deletes the item; notify=true tells subscribers (§7.2.2.1)", async () => {
    const t = await nodeWith({ notifyRetract: false });
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expectOk(await t.service.retract("n", OWNER, "1", true));
    expect(await t.store.getItem("n", "1")).toBeUndefined();
    expect(t.eventsOf("retract")).toEqual([expect.objectContaining({ ids: ["1"], recipients: [expect.anything()] })]);
  });

  it("notify=false stays quiet; unspecified follows pubsub#notify_retract", async () => {
    const t = await nodeWith();
    for (const id of ["1", "2"]) expectOk(await t.service.publish("n", OWNER, id, { payload: 1 }));
    expectOk(await t.service.retract("n", OWNER, "1", false));
    expect(t.eventsOf("retract")).toEqual([]);
    expectOk(await t.service.retract("n", OWNER, "2"));
    expect(t.eventsOf("retract")).toHaveLength(1);
  });

  it("errors: missing node, missing item, no id", async () => {
    const t = await nodeWith();
    expect(await t.service.retract("x", OWNER, "1")).toEqual({ ok: false, error: "item-not-found" });
    expect(await t.service.retract("n", OWNER, "1")).toEqual({ ok: false, error: "item-not-found" });
    expect(await t.service.retract("n", OWNER, "")).toEqual({ ok: false, error: "item-required" });
  });

  it("retracting the newest item updates the last item", async () => {
    const t = await nodeWith();
    for (const id of ["1", "2"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expectOk(await t.service.retract("n", OWNER, "2"));
    expect(expectOk(await t.service.getLastItem("n", OWNER))?.id).toBe("1");
  });
});

describe("purge (§8.5)", () => {
  it("removes every item and sends one purge notification", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB));
    for (const id of ["1", "2"]) expectOk(await t.service.publish("n", OWNER, id, { payload: id }));
    expectOk(await t.service.purge("n", OWNER));
    expect(await t.store.countItems("n")).toBe(0);
    expect(t.eventsOf("purge")).toEqual([expect.objectContaining({ node: "n", recipients: [expect.anything()] })]);
    expect(t.eventsOf("retract")).toEqual([]);
    expect(expectOk(await t.service.getLastItem("n", OWNER))).toBeUndefined();
  });
});
