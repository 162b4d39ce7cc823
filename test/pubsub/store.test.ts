// The module's PubsubStore over Herald's storage drivers (memory and LevelDB), checked against the
// behaviour of the service's MemoryPubsubStore: the same operations give the same answers, payload
// elements come back as equal elements, prefixes keep services apart, and the service runs on it.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LevelStorage, MemoryStorage, type StorageDriver } from "../../src/storage/index.js";
import { COMPONENT_NODE_DEFAULTS, MemoryPubsubStore, type PubsubStore, type StoredItem } from "../../src/util/pubsub/index.js";
import { createTestService, expectOk } from "../../src/util/pubsub/testing.js";
import { Element } from "../../src/xml/stanza.js";
import { HeraldPubsubStore } from "../../modules/lib/pubsub/store.js";
import { pepLayout, pepStore } from "../../modules/lib/pubsub/pep-store.js";

const dir = mkdtempSync(join(tmpdir(), "herald-pubsub-store-"));
const level = new LevelStorage(join(dir, "db"));
const memory = new MemoryStorage();
afterAll(async () => {
  await level.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One account's PEP store (Prosody's layout: per-account maps, one archive per node). */
function pepStoreOn(driver: StorageDriver, username: string): HeraldPubsubStore {
  return pepStore({ openMap: (n) => driver.map("ps.test", n), openArchive: (n) => driver.archive("ps.test", n) }, username);
}

function storeOn(driver: StorageDriver, prefix = ""): HeraldPubsubStore {
  return new HeraldPubsubStore(
    { nodes: driver.keyval("ps.test", "n"), subscriptions: driver.map("ps.test", "s"), items: driver.archive("ps.test", "i") },
    { prefix },
  );
}

const payload = (id: string) => new Element("entry", { xmlns: "http://www.w3.org/2005/Atom" }, [new Element("title", {}, [id]), " tail & <text>"]);
const item = (id: string, published: number): StoredItem => ({ id, publisher: "a@b", published, payload: payload(id) });
const ids = (items: StoredItem[]) => items.map((i) => i.id);

let seq = 0;
for (const [name, driver] of [["memory", memory], ["leveldb", level]] as const) {
  describe(`HeraldPubsubStore on ${name}`, () => {
    const node = () => `node${++seq}`;
    const stores = (): PubsubStore[] => [storeOn(driver, `p${seq}/`), new MemoryPubsubStore(), pepStoreOn(driver, `u${seq}`)];

    it("answers item queries as the reference store does", async () => {
      await driver.open();
      const n = node();
      const results = [];
      for (const store of stores()) {
        for (const [i, id] of ["a", "b", "c", "d", "e"].entries()) await store.appendItem(n, item(id, 1000 + i));
        await store.appendItem(n, item("b", 2000));
        results.push([
          ids(await store.listItems(n)),
          ids(await store.listItems(n, { after: "c", limit: 1 })),
          ids(await store.listItems(n, { before: "e" })),
          ids(await store.listItems(n, { before: "e", limit: 2 })),
          ids(await store.listItems(n, { before: "e", limit: 2, reverse: true })),
          ids(await store.listItems(n, { reverse: true, limit: 2 })),
          ids(await store.listItems(n, { ids: ["d", "a"] })),
          ids(await store.listItems(n, { after: "zz" })),
          await store.countItems(n),
          await store.deleteItems(n, { ids: ["c"] }),
          await store.deleteItems(n, { olderThan: 1001 }),
          await store.truncateItems(n, 2),
          ids(await store.listItems(n)),
          await store.deleteItems(n),
          await store.countItems(n),
        ]);
      }
      expect(results[0]).toEqual(results[1]);
      expect(results[2]).toEqual(results[1]);
      expect(results[0][0]).toEqual(["a", "c", "d", "e", "b"]);
    });

    it("payloads come back as equal elements, publisher and time kept", async () => {
      const n = node();
      const store = storeOn(driver);
      await store.appendItem(n, item("x", 1234));
      await store.appendItem(n, { id: "empty", publisher: "c@d", published: 1235 });
      const got = await store.getItem(n, "x");
      expect(got?.publisher).toBe("a@b");
      expect(got?.published).toBe(1234);
      expect(String(got?.payload)).toBe(String(payload("x")));
      expect((await store.getItem(n, "empty"))?.payload).toBeUndefined();
    });

    it.each([
      ["the component's layout", (d: StorageDriver, svc: string) => storeOn(d, `${svc}/`)],
      ["PEP's layout", (d: StorageDriver, svc: string) => pepStoreOn(d, svc)],
    ])("node records and subscriptions; deleteNode removes everything of the node only (%s)", async (_name, open) => {
      const [n, m] = [node(), node()];
      const store = open(driver, `svc1-${seq}`);
      const other = open(driver, `svc2-${seq}`);
      const record = { name: n, config: { ...COMPONENT_NODE_DEFAULTS, title: "T" }, affiliations: { "a@b": "owner" as const }, created: 5 };
      await store.saveNode(record);
      await store.saveNode({ ...record, name: m });
      await other.saveNode({ ...record, name: "elsewhere" });
      const sub = { jid: "a@b/r", subid: "s1", state: "subscribed" as const, options: { deliver: true, includeBody: false, expire: "presence" as const }, created: 1 };
      await store.saveSubscription(n, sub);
      await store.saveSubscription(n, { ...sub, subid: "s2" });
      await store.deleteSubscription(n, "s1");
      await store.appendItem(n, item("i", 1));
      expect(await store.loadNode(n)).toEqual(record);
      expect((await store.listNodes()).sort()).toEqual([n, m].sort());
      expect(await other.listNodes()).toEqual(["elsewhere"]);
      expect(await store.loadSubscriptions(n)).toEqual([{ ...sub, subid: "s2" }]);
      await store.deleteNode(n);
      expect(await store.loadNode(n)).toBeUndefined();
      expect(await store.loadSubscriptions(n)).toEqual([]);
      expect(await store.countItems(n)).toBe(0);
      expect(await store.loadNode(m)).toBeDefined();
    });

    it("write-behind: appends queue and go out in rounds; reads see them; durable() tells when they are stored", async () => {
      const n = node();
      const wb = new HeraldPubsubStore(
        { nodes: driver.keyval("ps.test", "n"), subscriptions: driver.map("ps.test", "s"), items: driver.archive("ps.test", "i") },
        { prefix: `wb${seq}/`, writeBehind: true },
      );
      const mark = wb.mark();
      const batches = driver instanceof LevelStorage ? driver.commitStats.batches : 0;
      await Promise.all(Array.from({ length: 64 }, (_, i) => wb.appendItem(n, item(`w${i}`, 5000 + i), { keep: 10 })));
      if (driver instanceof LevelStorage) expect(wb.busy).toBe(true); // accepted, not yet synced
      expect(wb.mark()).toBe(mark + 64);
      // A read waits for the node's queue: it sees every item queued before it.
      expect(ids(await wb.listItems(n))).toEqual(Array.from({ length: 10 }, (_, i) => `w${54 + i}`));
      await wb.durable(mark);
      expect(wb.busy).toBe(false);
      expect(wb.written()).toBeUndefined();
      // Stored: another store over the same driver, writing through, reads them.
      expect(await storeOn(driver, `wb${seq}/`).countItems(n)).toBe(10);
      // The first item went out alone, the others together in far fewer rounds than items.
      if (driver instanceof LevelStorage) expect(driver.commitStats.batches - batches).toBeLessThan(32);
    });

    it.each([
      ["the component's layout", (d: StorageDriver, svc: string) => new HeraldPubsubStore({ nodes: d.keyval("ps.test", "n"), subscriptions: d.map("ps.test", "s"), items: d.archive("ps.test", "i") }, { prefix: `${svc}/`, writeBehind: true })],
      ["PEP's layout", (d: StorageDriver, svc: string) => new HeraldPubsubStore(pepLayout({ openMap: (m) => d.map("ps.test", m), openArchive: (m) => d.archive("ps.test", m) }, svc), { writeBehind: true })],
    ])("write-behind: subscription writes queue and go out in rounds; loads see them; durable() tells when they are stored (%s)", async (_name, open) => {
      const n = node();
      const svc = `wbs${seq}`;
      const wb = open(driver, svc);
      const sub = (i: number) => ({ jid: `s${i}@x/r`, subid: `id${i}`, state: "subscribed" as const, options: { deliver: true, includeBody: false }, created: i });
      const mark = wb.mark();
      const batches = driver instanceof LevelStorage ? driver.commitStats.batches : 0;
      await Promise.all(Array.from({ length: 64 }, (_, i) => wb.saveSubscription(n, sub(i))));
      await Promise.all(Array.from({ length: 16 }, (_, i) => wb.deleteSubscription(n, `id${i * 4}`)));
      if (driver instanceof LevelStorage) expect(wb.busy).toBe(true); // accepted, not yet synced
      expect(wb.mark()).toBe(mark + 80);
      const expected = Array.from({ length: 64 }, (_, i) => i)
        .filter((i) => i % 4 !== 0)
        .map((i) => `id${i}`)
        .sort();
      // A load waits for the node's queue: it sees every write queued before it, deletions included.
      expect((await wb.loadSubscriptions(n)).map((s) => s.subid).sort()).toEqual(expected);
      await wb.durable(mark);
      expect(wb.busy).toBe(false);
      // Stored: another store over the same driver, writing through, reads them.
      const through = open(driver, svc);
      expect((await through.loadSubscriptions(n)).map((s) => s.subid).sort()).toEqual(expected);
      // The first write went out alone, the others together: far fewer synced batches than writes.
      if (driver instanceof LevelStorage) expect(driver.commitStats.batches - batches).toBeLessThan(16);
    });

    it("the service runs on it: publish, subscribe, retrieve", async () => {
      const t = createTestService({}, { store: storeOn(driver, `svc${++seq}/`) });
      expectOk(await t.service.create("n", "o@x"));
      expectOk(await t.service.subscribe("n", "s@x/r", "s@x/r"));
      expectOk(await t.service.publish("n", "o@x", "1", { payload: payload("1") }));
      const got = expectOk(await t.service.getItems("n", "s@x/r"));
      expect(ids(got.items)).toEqual(["1"]);
      expect(got.items[0].payload).toBeInstanceOf(Element);
    });
  });
}

describe("HeraldPubsubStore write-behind on a failing database", () => {
  it("durable() rejects and written() is false for items that could not be stored; later items are fine", async () => {
    const broken = new LevelStorage(join(dir, "broken"));
    await broken.open();
    const wb = new HeraldPubsubStore(
      { nodes: broken.keyval("ps.test", "n"), subscriptions: broken.map("ps.test", "s"), items: broken.archive("ps.test", "i") },
      { writeBehind: true },
    );
    await broken.close();
    const mark = wb.mark();
    await wb.appendItem("n", item("lost", 1));
    const gate = wb.written();
    expect(gate).toBeDefined();
    await expect(wb.durable(mark)).rejects.toThrow();
    expect(await gate).toBe(false);
    // Once the database is back, items queued after the failure are stored and reported so.
    await broken.open();
    const again = wb.mark();
    await wb.appendItem("n", item("kept", 2));
    await wb.durable(again);
    expect(ids(await wb.listItems("n"))).toEqual(["kept"]);
    await broken.close();
  });

  it("durable() rejects and written() is false for subscription writes that could not be stored", async () => {
    const broken = new LevelStorage(join(dir, "broken-subs"));
    await broken.open();
    const wb = new HeraldPubsubStore(
      { nodes: broken.keyval("ps.test", "n"), subscriptions: broken.map("ps.test", "s"), items: broken.archive("ps.test", "i") },
      { writeBehind: true },
    );
    await broken.close();
    const sub = { jid: "a@b/r", subid: "s1", state: "subscribed" as const, options: { deliver: true, includeBody: false }, created: 1 };
    const mark = wb.mark();
    await wb.saveSubscription("n", sub);
    const gate = wb.written();
    expect(gate).toBeDefined();
    await expect(wb.durable(mark)).rejects.toThrow();
    expect(await gate).toBe(false);
    await broken.open();
    const again = wb.mark();
    await wb.saveSubscription("n", { ...sub, subid: "s2" });
    await wb.durable(again);
    expect((await wb.loadSubscriptions("n")).map((s) => s.subid)).toEqual(["s2"]);
    await broken.close();
  });
});
