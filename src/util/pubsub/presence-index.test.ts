// The core's subscriber index (bare JID -> nodes with its subscriptions), which onAvailable and
// onUnavailable use instead of scanning every subscription of every node for each presence.

import { describe, expect, it } from "vitest";
import type { ServiceCore } from "./core.js";
import { PubsubService } from "./service.js";
import { MemoryPubsubStore, type PubsubStore } from "./store.js";
import { createTestService, expectOk } from "./testing.js";

const OWNER = "hamlet@denmark.lit";
const SUB = "francisco@denmark.lit/barracks";
const SUB_BARE = "francisco@denmark.lit";
const OTHER = "bernardo@denmark.lit/watch";

describe("subscriber index", () => {
  it("follows subscribe, unsubscribe, a second resource and owner-made subscriptions", async () => {
    const t = createTestService();
    for (const n of ["a", "b", "c"]) expectOk(await t.service.create(n, OWNER));
    expect(await t.service.subscribedNodes(SUB)).toEqual([]);
    expectOk(await t.service.subscribe("a", SUB, SUB));
    expectOk(await t.service.subscribe("b", SUB, SUB_BARE));
    expectOk(await t.service.subscribe("b", SUB, `${SUB_BARE}/other`));
    expectOk(await t.service.subscribe("c", OTHER, OTHER));
    expect(await t.service.subscribedNodes(SUB_BARE)).toEqual(["a", "b"]);
    expect(await t.service.subscribedNodes(`${SUB_BARE}/anything`)).toEqual(["a", "b"]);
    expect(await t.service.subscribedNodes(OTHER)).toEqual(["c"]);
    // One of two subscriptions on b ends: b stays; the last one ends: b goes.
    expectOk(await t.service.unsubscribe("b", SUB, SUB_BARE));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["a", "b"]);
    expectOk(await t.service.unsubscribe("b", SUB, `${SUB_BARE}/other`));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["a"]);
    // §8.8.2: the owner subscribes and unsubscribes someone.
    expectOk(await t.service.setSubscriptions("c", OWNER, [{ jid: SUB, subscription: "subscribed" }]));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["a", "c"]);
    expectOk(await t.service.setSubscriptions("c", OWNER, [{ jid: SUB, subscription: "none" }]));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["a"]);
  });

  it("follows pending requests, approval and denial (§8.6)", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "authorize" }));
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["n"]);
    expectOk(await t.service.answerPending("n", OWNER, SUB, true));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["n"]);
    expectOk(await t.service.subscribe("n", OTHER, OTHER));
    expectOk(await t.service.answerPending("n", OWNER, OTHER, false));
    expect(await t.service.subscribedNodes(OTHER)).toEqual([]);
  });

  it("forgets deleted nodes (a node re-created under the same name starts empty)", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.delete("n", OWNER));
    expect(await t.service.subscribedNodes(SUB)).toEqual([]);
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.subscribedNodes(SUB)).toEqual([]);
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["n"]);
  });

  it("follows ended leases and presence-bound subscriptions", async () => {
    const t = createTestService();
    expectOk(await t.service.create("lease", OWNER));
    expectOk(await t.service.create("temp", OWNER));
    expectOk(await t.service.subscribe("lease", SUB, SUB, { expire: t.clock.now + 1000 }));
    expectOk(await t.service.subscribe("temp", SUB, SUB, { expire: "presence" }));
    expect(await t.service.subscribedNodes(SUB)).toEqual(["lease", "temp"]);
    t.clock.advance(2000);
    await t.service.sweep();
    expect(await t.service.subscribedNodes(SUB)).toEqual(["temp"]);
    await t.service.onUnavailable(SUB);
    expect(await t.service.subscribedNodes(SUB)).toEqual([]);
  });

  it("is built from storage when a service starts on existing data", async () => {
    const store: PubsubStore = new MemoryPubsubStore();
    const first = createTestService({}, { store });
    for (const n of ["a", "b", "c"]) expectOk(await first.service.create(n, OWNER));
    expectOk(await first.service.subscribe("b", SUB, SUB));
    expectOk(await first.service.subscribe("c", SUB, SUB_BARE));
    const second = createTestService({}, { store });
    expect(await second.service.subscribedNodes(SUB)).toEqual(["b", "c"]);
    expect(await second.service.subscribedNodes(OTHER)).toEqual([]);
  });

  it("onAvailable reads only the nodes the subscriber is on, not every node", async () => {
    const store = new MemoryPubsubStore();
    const events: string[] = [];
    const service = new PubsubService({
      store,
      broadcaster: { notify: (e) => void events.push(`${e.kind}:${e.node}`) },
      access: { isSubscribedToPresence: async () => false, rosterGroups: async () => null },
    });
    const config = { sendLastPublishedItem: "on_sub_and_presence" as const };
    for (let i = 0; i < 200; i++) {
      const n = `node-${String(i).padStart(3, "0")}`;
      expectOk(await service.create(n, OWNER, config));
      expectOk(await service.publish(n, OWNER, "x", { payload: "<x/>", size: 4 }));
      expectOk(await service.subscribe(n, OTHER, OTHER));
    }
    expectOk(await service.subscribe("node-042", SUB, SUB));
    // Record which nodes' subscription lists are read (walked, or looked up by JID).
    const READS = new Set<string | symbol>(["values", "entries", "forEach", Symbol.iterator, "ofJid", "ofBare", "jidsOf"]);
    const seen: string[] = [];
    const core = (service as unknown as { core: ServiceCore }).core;
    for (const state of await core.loadAll()) {
      const real = state.subscriptions;
      state.subscriptions = new Proxy(real, {
        get(target, prop) {
          if (READS.has(prop)) seen.push(state.name);
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    }
    events.length = 0;
    await service.onAvailable(SUB);
    await service.onUnavailable(SUB);
    expect(events).toEqual(["last-item:node-042"]);
    expect([...new Set(seen)]).toEqual(["node-042"]);
  });
});
