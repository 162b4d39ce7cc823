// Requests about one subscriber look up that subscriber's subscriptions in the node's index; they do
// not walk every subscription of the node (a node with 20,000 subscribers made each subscribe,
// unsubscribe, options request, owner change and items request cost 20,000 comparisons, so filling
// it was quadratic). Each request below runs on a node with many subscribers whose subscription
// list records every walk over it (values(), entries(), forEach, iteration).

import { describe, expect, it } from "vitest";
import type { NodeState, ServiceCore } from "./core.js";
import { createTestService, expectOk, type TestService } from "./testing.js";

const OWNER = "owner@example.org";
const CROWD = 300;
const crowd = (i: number) => `fan${i}@example.org/r${i % 3}`;
const ME = "me@example.org/phone";
const ME_BARE = "me@example.org";

const WALKS = new Set<string | symbol>(["values", "entries", "keys", "forEach", Symbol.iterator]);

/** A node with CROWD subscribers whose list counts the walks over it from now on. */
async function crowdedNode(t: TestService, name: string, config: Record<string, unknown> = {}): Promise<{ walks: () => number }> {
  expectOk(await t.service.create(name, OWNER, config));
  for (let i = 0; i < CROWD; i++) expectOk(await t.service.subscribe(name, crowd(i), crowd(i)));
  const core = (t.service as unknown as { core: ServiceCore }).core;
  const state = (await core.load(name)) as NodeState;
  let walks = 0;
  const real = state.subscriptions;
  state.subscriptions = new Proxy(real, {
    get(target, prop) {
      if (WALKS.has(prop)) walks++;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { walks: () => walks };
}

describe("per-subscriber requests on a crowded node", () => {
  it("subscribe, a second subscription, options get and set, own subscriptions, unsubscribe", async () => {
    const t = createTestService();
    const node = await crowdedNode(t, "n");
    const first = expectOk(await t.service.subscribe("n", ME, ME)).subscription;
    const second = expectOk(await t.service.subscribe("n", ME, ME, { includeBody: true })).subscription;
    expect(second.subid).not.toBe(first.subid);
    expect(expectOk(await t.service.getSubscriptionOptions("n", ME, ME, second.subid)).options.includeBody).toBe(true);
    expect((await t.service.getSubscriptionOptions("n", ME, ME)).ok).toBe(false); // subid-required
    expectOk(await t.service.setSubscriptionOptions("n", ME, ME, { deliver: false }, first.subid));
    expect(expectOk(await t.service.getSubscriptions("n", ME)).map((s) => s.subid)).toEqual([first.subid, second.subid]);
    expect(expectOk(await t.service.getSubscriptions(undefined, ME_BARE)).map((s) => s.subid)).toEqual([first.subid, second.subid]);
    expectOk(await t.service.unsubscribe("n", ME, ME, first.subid));
    expectOk(await t.service.unsubscribe("n", ME, ME));
    expect(expectOk(await t.service.getSubscriptions("n", ME))).toEqual([]);
    expect(node.walks()).toBe(0);
  });

  it("items retrieval and the publish model's subscriber check", async () => {
    const t = createTestService();
    const node = await crowdedNode(t, "n", { publishModel: "subscribers", deliverNotifications: false });
    expectOk(await t.service.subscribe("n", ME, ME_BARE));
    expectOk(await t.service.publish("n", ME, "i1", { payload: "<x/>", size: 4 }));
    expect(expectOk(await t.service.getItems("n", ME)).items.map((i) => i.id)).toEqual(["i1"]);
    expect((await t.service.publish("n", "stranger@example.org", "i2", { payload: "<x/>", size: 4 })).ok).toBe(false);
    expect(node.walks()).toBe(0);
  });

  it("the owner's changes to one subscriber: state, approval, affiliation", async () => {
    const t = createTestService();
    const node = await crowdedNode(t, "n", { accessModel: "authorize" });
    expectOk(await t.service.subscribe("n", ME, ME));
    expectOk(await t.service.answerPending("n", OWNER, ME, true));
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: ME, subscription: "unconfigured" }]));
    expect(expectOk(await t.service.getSubscriptions("n", ME)).map((s) => s.state)).toEqual(["unconfigured"]);
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: ME_BARE, affiliation: "outcast" }]));
    expect(expectOk(await t.service.getSubscriptions("n", ME))).toEqual([]);
    expect(node.walks()).toBe(0);
  });

  it("presence: the last item on coming online, temporary subscriptions ending", async () => {
    const t = createTestService();
    const node = await crowdedNode(t, "n", { sendLastPublishedItem: "on_sub_and_presence", deliverNotifications: false });
    expectOk(await t.service.subscribe("n", ME, ME, { expire: "presence" }));
    expectOk(await t.service.publish("n", OWNER, "i1", { payload: "<x/>", size: 4 }));
    t.events.length = 0;
    await t.service.onAvailable(ME);
    expect(t.eventsOf("last-item").map((e) => e.recipients)).toEqual([[{ jid: ME, subids: [expect.any(String)], includeBody: false }]]);
    await t.service.onUnavailable(ME);
    expect(expectOk(await t.service.getSubscriptions("n", ME))).toEqual([]);
    expect(node.walks()).toBe(0);
  });
});
