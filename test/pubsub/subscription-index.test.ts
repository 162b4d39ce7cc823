// The per-node subscription index (by JID, by bare JID, pending count) and the service's subscriber
// index stay equal to a walk over the subscriptions through every operation that changes them:
// subscribe (several subids per JID), pending requests and their answers, options, unsubscribe,
// the owner's changes, affiliation changes, access model changes, leases, presence-bound
// subscriptions, purge, node deletion; and after a restart over LevelDB (component and PEP layouts).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LevelStorage, type StorageDriver } from "../../src/storage/index.js";
import { MemoryPubsubStore, type PubsubService, type PubsubStore, type Subscription } from "../../src/util/pubsub/index.js";
import type { ServiceCore } from "../../src/util/pubsub/core.js";
import { createTestService, expectOk, indexMismatches, type TestClock, type TestService } from "../../src/util/pubsub/testing.js";
import { jidBare } from "../../src/util/jid.js";
import { HeraldPubsubStore } from "../../modules/lib/pubsub/store.js";
import { pepStore } from "../../modules/lib/pubsub/pep-store.js";

const dir = mkdtempSync(join(tmpdir(), "herald-pubsub-index-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OWNER = "owner@example.org";
const USERS = ["ann", "bob", "cy", "dee"].map((u) => `${u}@example.org`);
const JIDS = [...USERS, ...USERS.flatMap((u) => [`${u}/a`, `${u}/b`]), "example.org", "example.org/bot"];

const coreOf = (service: PubsubService) => (service as unknown as { core: ServiceCore }).core;

/** Every node's index and the service's subscriber index against walks over the subscriptions. */
async function expectIndexed(t: TestService, step: string): Promise<void> {
  const states = await coreOf(t.service).loadAll();
  for (const state of states) expect(indexMismatches(state.subscriptions, JIDS), `${step}: node ${state.name}`).toEqual([]);
  for (const jid of JIDS) {
    const walked = states.filter((s) => [...s.subscriptions.values()].some((sub) => jidBare(sub.jid) === jidBare(jid))).map((s) => s.name).sort();
    expect(await t.service.subscribedNodes(jid), `${step}: nodes of ${jid}`).toEqual(walked);
  }
}

/** Every node's subscriptions, as the owner lists them (pending ones included). */
async function snapshot(service: PubsubService): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const state of await coreOf(service).loadAll()) {
    const subs: Subscription[] = expectOk(await service.getNodeSubscriptions(state.name, OWNER, { includePending: true }));
    // As a set: a store gives them back in its key order, not creation order.
    out[state.name] = subs.map((s) => `${s.subid} ${s.jid} ${s.state} ${s.options.deliver}`).sort();
  }
  return out;
}

/** Every kind of change, the indexes checked after each. */
async function exercise(t: TestService): Promise<void> {
  const s = t.service;
  for (const n of ["open", "auth", "leases"]) expectOk(await s.create(n, OWNER, n === "auth" ? { accessModel: "authorize" } : {}));
  await expectIndexed(t, "created");
  // Several subids per JID (different options), bare and full JIDs under one bare JID, a domain JID.
  for (const jid of JIDS) {
    expectOk(await s.subscribe("open", jid, jid));
    expectOk(await s.subscribe("open", jid, jid, { includeBody: true }));
  }
  expectOk(await s.subscribe("open", "ann@example.org/a", "ann@example.org/a", { deliver: false }));
  await expectIndexed(t, "subscribed");
  // Pending requests, approval, denial, a second request while one waits.
  for (const u of USERS) expectOk(await s.subscribe("auth", `${u}/a`, `${u}/a`));
  expect((await s.subscribe("auth", "ann@example.org/a", "ann@example.org/a", { includeBody: true })).ok).toBe(false);
  expectOk(await s.answerPending("auth", OWNER, "ann@example.org/a", true));
  expectOk(await s.answerPending("auth", OWNER, "bob@example.org/a", false));
  await expectIndexed(t, "pending answered");
  // Options: unconfigured by the owner, then configured by the subscriber.
  const [first] = expectOk(await s.getSubscriptions("open", "cy@example.org/b")).filter((x) => x.jid === "cy@example.org/b");
  expectOk(await s.setSubscriptions("open", OWNER, [{ jid: "cy@example.org/b", subid: first.subid, subscription: "unconfigured" }]));
  expectOk(await s.setSubscriptionOptions("open", "cy@example.org/b", "cy@example.org/b", { deliver: false }, first.subid));
  await expectIndexed(t, "options");
  // Unsubscribe one subid of several, then the last one.
  const anns = expectOk(await s.getSubscriptions("open", "ann@example.org/a")).filter((x) => x.jid === "ann@example.org/a");
  expect(anns).toHaveLength(3);
  expectOk(await s.unsubscribe("open", "ann@example.org/a", "ann@example.org/a", anns[1].subid));
  expectOk(await s.unsubscribe("open", "ann@example.org/a", "ann@example.org/a", anns[0].subid));
  expectOk(await s.unsubscribe("open", "ann@example.org/a", "ann@example.org/a"));
  await expectIndexed(t, "unsubscribed");
  // The owner: a new subscription, a state change, every subid of a JID ended.
  expectOk(await s.setSubscriptions("open", OWNER, [
    { jid: "ann@example.org/a", subscription: "subscribed" },
    { jid: "bob@example.org", subscription: "pending" },
    { jid: "dee@example.org/b", subscription: "none" },
  ]));
  await expectIndexed(t, "owner changes");
  // Affiliations: outcast ends every subscription under the bare JID; member approves the pending one.
  expectOk(await s.subscribe("auth", "cy@example.org/b", "cy@example.org/b"));
  expectOk(await s.setAffiliations("open", OWNER, [{ jid: "dee@example.org", affiliation: "outcast" }]));
  expectOk(await s.setAffiliations("auth", OWNER, [{ jid: "cy@example.org", affiliation: "member" }]));
  await expectIndexed(t, "affiliations");
  // A stricter access model ends the subscriptions it no longer allows.
  expectOk(await s.setAffiliations("open", OWNER, [{ jid: "bob@example.org", affiliation: "member" }]));
  expectOk(await s.setConfig("open", OWNER, { accessModel: "whitelist" }));
  await expectIndexed(t, "access model");
  // Leases that run out (sweep) and subscriptions that end with presence.
  const clock = t.clock as TestClock;
  expectOk(await s.subscribe("leases", "ann@example.org/a", "ann@example.org/a", { expire: clock.now + 1000 }));
  expectOk(await s.subscribe("leases", "ann@example.org/b", "ann@example.org/b"));
  expectOk(await s.subscribe("leases", "bob@example.org/a", "bob@example.org/a", { expire: "presence" }));
  expectOk(await s.subscribe("leases", "bob@example.org/b", "bob@example.org/b", { expire: "presence" }));
  await expectIndexed(t, "leases made");
  clock.advance(2000);
  await s.sweep();
  await s.onUnavailable("bob@example.org");
  await expectIndexed(t, "leases ended");
  // Purge leaves subscriptions alone; deletion takes them, and a node made again starts empty.
  expectOk(await s.purge("auth", OWNER));
  await expectIndexed(t, "purged");
  expectOk(await s.delete("auth", OWNER));
  await expectIndexed(t, "deleted");
  expectOk(await s.create("auth", OWNER));
  expectOk(await s.subscribe("auth", "dee@example.org/a", "dee@example.org/a"));
  await expectIndexed(t, "made again");
}

function levelStores(path: string, layout: "component" | "pep"): { open: () => Promise<PubsubStore>; close: () => Promise<void> } {
  let driver: StorageDriver | undefined;
  return {
    async open() {
      driver = new LevelStorage(path);
      await driver.open();
      const d = driver;
      return layout === "pep"
        ? pepStore({ openMap: (n) => d.map("localhost", n), openArchive: (n) => d.archive("localhost", n) }, "owner")
        : new HeraldPubsubStore({ nodes: d.keyval("pubsub.localhost", "n"), subscriptions: d.map("pubsub.localhost", "s"), items: d.archive("pubsub.localhost", "i") });
    },
    async close() {
      await driver?.close();
    },
  };
}

describe("subscription indexes", () => {
  it("follow every change (memory store)", async () => {
    await exercise(createTestService({}, { store: new MemoryPubsubStore() }));
  });

  for (const layout of ["component", "pep"] as const) {
    it(`follow every change and are rebuilt after a restart (LevelDB, ${layout} layout)`, async () => {
      const stores = levelStores(join(dir, layout), layout);
      const before = createTestService({}, { store: await stores.open() });
      await exercise(before);
      const kept = await snapshot(before.service);
      expect(Object.keys(kept).sort()).toEqual(["auth", "leases", "open"]);
      await stores.close();
      // A new service over the reopened database: nodes load from the store on first use.
      const after = createTestService({}, { store: await stores.open(), clock: before.clock });
      expect((await after.service.getSubscriptions("open", "ann@example.org/b")).ok).toBe(true);
      expect(await snapshot(after.service)).toEqual(kept);
      await expectIndexed(after, "restarted");
      // Lookups by JID work on the loaded index: several subids need one named, one does not.
      expect(await after.service.unsubscribe("open", "bob@example.org", "bob@example.org")).toMatchObject({ ok: false, error: "subid-required" });
      const bobs = expectOk(await after.service.getSubscriptions("open", "bob@example.org")).filter((x) => x.jid === "bob@example.org");
      expectOk(await after.service.unsubscribe("open", "bob@example.org", "bob@example.org", bobs[0].subid));
      expectOk(await after.service.unsubscribe("open", "bob@example.org", "bob@example.org"));
      await expectIndexed(after, "after restart, unsubscribed");
      await stores.close();
    });
  }
});
