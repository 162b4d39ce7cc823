import { describe, expect, it } from "vitest";
import { PubsubEventBus } from "./bus.js";
import { COMPONENT_NODE_DEFAULTS } from "./config.js";
import { MemoryPubsubStore } from "./store.js";
import type { ItemsEvent, StoredItem } from "./types.js";

const item = (id: string, published = 0): StoredItem => ({ id, publisher: "a@b", published, payload: { id } });

describe("MemoryPubsubStore", () => {
  it("keeps node records as copies", async () => {
    const store = new MemoryPubsubStore();
    const record = { name: "n", config: { ...COMPONENT_NODE_DEFAULTS }, affiliations: { "a@b": "owner" as const }, created: 1 };
    await store.saveNode(record);
    record.affiliations["a@b"] = "owner";
    (record.config as { title?: string }).title = "changed after save";
    expect((await store.loadNode("n"))?.config.title).toBeUndefined();
    expect(await store.listNodes()).toEqual(["n"]);
    await store.deleteNode("n");
    expect(await store.loadNode("n")).toBeUndefined();
    expect(await store.listNodes()).toEqual([]);
  });

  it("subscriptions by subid", async () => {
    const store = new MemoryPubsubStore();
    const sub = { jid: "a@b", subid: "s1", state: "subscribed" as const, options: { deliver: true, includeBody: false }, created: 0 };
    await store.saveSubscription("n", sub);
    await store.saveSubscription("n", { ...sub, subid: "s2" });
    await store.deleteSubscription("n", "s1");
    expect((await store.loadSubscriptions("n")).map((s) => s.subid)).toEqual(["s2"]);
  });

  it("items: an ordered log; re-append moves to the end; ranges, limits, reverse", async () => {
    const store = new MemoryPubsubStore();
    for (const id of ["a", "b", "c", "d"]) await store.appendItem("n", item(id));
    await store.appendItem("n", item("b"));
    const idsOf = (items: StoredItem[]) => items.map((i) => i.id);
    expect(idsOf(await store.listItems("n"))).toEqual(["a", "c", "d", "b"]);
    expect(idsOf(await store.listItems("n", { after: "c", limit: 1 }))).toEqual(["d"]);
    expect(idsOf(await store.listItems("n", { before: "d" }))).toEqual(["a", "c"]);
    expect(idsOf(await store.listItems("n", { reverse: true, limit: 2 }))).toEqual(["b", "d"]);
    expect(idsOf(await store.listItems("n", { ids: ["d", "a"] }))).toEqual(["a", "d"]);
    expect(idsOf(await store.listItems("n", { after: "zz" }))).toEqual([]);
    expect(await store.countItems("n")).toBe(4);
    expect(await store.getItem("n", "c")).toEqual(item("c"));
  });

  it("items keep their payload by reference", async () => {
    const store = new MemoryPubsubStore();
    const payload = new Map([["k", 1]]);
    await store.appendItem("n", { id: "x", publisher: "a@b", published: 0, payload });
    expect((await store.getItem("n", "x"))?.payload).toBe(payload);
  });

  it("delete by ids, by age, all; truncate to the newest", async () => {
    const store = new MemoryPubsubStore();
    for (const [i, id] of ["a", "b", "c", "d", "e"].entries()) await store.appendItem("n", item(id, i * 10));
    expect(await store.deleteItems("n", { ids: ["b"] })).toBe(1);
    expect(await store.deleteItems("n", { olderThan: 10 })).toBe(1); // a
    expect(await store.truncateItems("n", 2)).toBe(1); // c
    expect((await store.listItems("n")).map((i) => i.id)).toEqual(["d", "e"]);
    expect(await store.truncateItems("n", 5)).toBe(0);
    expect(await store.deleteItems("n")).toBe(2);
    expect(await store.deleteItems("missing")).toBe(0);
  });
});

describe("PubsubEventBus", () => {
  it("calls listeners of the name, then of name/node, and can remove them", () => {
    const bus = new PubsubEventBus();
    const calls: string[] = [];
    const event = { node: "n", item: { id: "1" } } as ItemsEvent;
    bus.on("item-published", (e) => calls.push(`any:${e.item.id}`));
    const off = bus.on("item-published/n", (e) => calls.push(`n:${e.item.id}`));
    bus.on("item-published/m", () => calls.push("m"));
    bus.emit("item-published", "n", event);
    off();
    bus.emit("item-published", "n", event);
    expect(calls).toEqual(["any:1", "n:1", "any:1"]);
  });
});
