// PepServices: one service per account, never two at once (eviction spares accounts with
// sessions, and an evicted service still in use is put back), and sweeps that reach accounts whose
// service is not in memory.

import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryStorage } from "../../src/storage/memory.js";
import { Element } from "../../src/xml/stanza.js";
import { InterestTable } from "./interest.js";
import { PepServices } from "./services.js";
import { PEP_STORES } from "../lib/pubsub/pep-store.js";

const HOST = "localhost";
const TUNE = "http://jabber.org/protocol/tune";

function setup(opts: { cacheSize?: number; pinned?: (u: string) => boolean; storage?: MemoryStorage } = {}) {
  const storage = opts.storage ?? new MemoryStorage();
  const services = new PepServices({
    host: HOST,
    storage: { openMap: (n) => storage.map(HOST, n), openArchive: (n) => storage.archive(HOST, n) },
    access: { isSubscribedToPresence: async () => true, rosterGroups: async () => null },
    interest: new InterestTable(100),
    accountExists: async () => true,
    post: async () => undefined,
    maxItems: 256,
    maxPayloadSize: 65536,
    cacheSize: opts.cacheSize ?? 1,
    nextId: (() => {
      let n = 0;
      return () => `m${++n}`;
    })(),
    pinned: opts.pinned,
  });
  return { storage, services };
}

const item = (title: string) => {
  const payload = new Element("tune", { xmlns: TUNE }).textTag("title", title);
  return { payload, size: payload.toString().length, namespace: TUNE };
};

afterEach(() => {
  vi.useRealTimers();
});

describe("one service per account", () => {
  it("an evicted service still in use is found again, not built a second time", async () => {
    const { services } = setup({ cacheSize: 1 });
    const alice = (await services.get("alice"))!;
    await services.get("bob"); // alice leaves the cache...
    expect(services.peek("alice")).toBeUndefined();
    // ...while something still works with her service: the same one comes back.
    const again = (await services.get("alice"))!;
    expect(again).toBe(alice);
    expect(again.service).toBe(alice.service);
    expect(services.peek("alice")).toBe(alice);
  });

  it("accounts with bound sessions are not evicted (the cache may grow past its size by them)", async () => {
    const online = new Set(["alice"]);
    const { services } = setup({ cacheSize: 1, pinned: (u) => online.has(u) });
    const alice = (await services.get("alice"))!;
    await services.get("bob");
    await services.get("carol");
    expect(services.peek("alice")).toBe(alice);
    expect(services.peek("bob")).toBeUndefined(); // no session: evicted as usual
    expect(services.size).toBe(2);
    online.delete("alice");
    await services.get("dave");
    expect(services.peek("alice")).toBeUndefined();
    expect(services.size).toBe(1);
  });

  it("forget drops an evicted service too (a deleted account starts afresh)", async () => {
    const { services } = setup({ cacheSize: 1 });
    const alice = (await services.get("alice"))!;
    await services.get("bob");
    services.forget("alice");
    expect(await services.get("alice")).not.toBe(alice);
  });
});

describe("sweeps reach accounts whose service is not in memory", () => {
  it("items past pubsub#item_expire are removed from an evicted account's storage", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { storage, services } = setup({ cacheSize: 1 });
    const alice = (await services.get("alice"))!;
    expect((await alice.service.create("tune", alice.jid, { itemExpire: 60 })).ok).toBe(true);
    expect((await alice.service.publish("tune", alice.jid, "t1", item("Yesterday"))).ok).toBe(true);
    await services.get("bob"); // alice evicted
    expect(services.peek("alice")).toBeUndefined();
    expect(services.expiringAccounts()).toEqual(["alice"]);
    const archive = storage.archive(HOST, `${PEP_STORES.itemsPrefix}tune`);
    expect(await archive.count("alice")).toBe(1);
    vi.setSystemTime(Date.now() + 120_000);
    await services.sweep((u, err) => {
      throw new Error(`${u}: ${String(err)}`);
    });
    expect(await archive.count("alice")).toBe(0);
    // The node still expires what is published to it: the account stays on the list.
    expect(services.expiringAccounts()).toEqual(["alice"]);
    expect((await alice.service.delete("tune", alice.jid)).ok).toBe(true);
    await services.sweep(() => undefined);
    expect(services.expiringAccounts()).toEqual([]);
  });

  it("after a restart, a scan of storage finds the accounts with expiring items and leases", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const first = setup({ cacheSize: 10 });
    const alice = (await first.services.get("alice"))!;
    expect((await alice.service.create("tune", alice.jid, { itemExpire: 60 })).ok).toBe(true);
    expect((await alice.service.publish("tune", alice.jid, "t1", item("Help!"))).ok).toBe(true);
    const carol = (await first.services.get("carol"))!;
    expect((await carol.service.create("mood", carol.jid, { accessModel: "open" })).ok).toBe(true);
    const lease = await carol.service.subscribe("mood", "dave@localhost/r", "dave@localhost/r", { expire: Date.now() + 60_000 });
    expect(lease.ok).toBe(true);
    const bob = (await first.services.get("bob"))!;
    expect((await bob.service.create("tune", bob.jid)).ok).toBe(true);

    // A new process on the same storage: nothing in memory.
    const { services } = setup({ cacheSize: 1, storage: first.storage });
    expect(await services.scanStorage()).toBe(2);
    expect(services.expiringAccounts().sort()).toEqual(["alice", "carol"]);
    vi.setSystemTime(Date.now() + 120_000);
    await services.sweep((u, err) => {
      throw new Error(`${u}: ${String(err)}`);
    });
    expect(await first.storage.archive(HOST, `${PEP_STORES.itemsPrefix}tune`).count("alice")).toBe(0);
    expect([...(await first.storage.map(HOST, PEP_STORES.subscriptions).getAll("carol")).keys()]).toEqual([]);
    // Carol's lease is over; Alice's node keeps expiring items.
    expect(services.expiringAccounts()).toEqual(["alice"]);
  });
});
