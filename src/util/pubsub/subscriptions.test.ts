import { describe, expect, it } from "vitest";
import { createTestService, expectOk } from "./testing.js";

const OWNER = "hamlet@denmark.lit";
const SUB = "francisco@denmark.lit/barracks";
const SUB_BARE = "francisco@denmark.lit";

async function nodeWith(config = {}, serviceConfig = {}) {
  const t = createTestService(serviceConfig);
  expectOk(await t.service.create("n", OWNER, config));
  return t;
}

describe("subscribe (§6.1)", () => {
  it("subscribes the given JID exactly, with a subid", async () => {
    const t = await nodeWith();
    const { subscription } = expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(subscription).toEqual({
      node: "n",
      jid: SUB,
      subid: "id-1",
      state: "subscribed",
      options: { deliver: true, includeBody: false },
      created: t.clock.now,
    });
    const { node: _node, ...record } = subscription;
    expect(await t.store.loadSubscriptions("n")).toEqual([record]);
  });

  it("another bare JID -> invalid-jid (§6.1.3.1); a missing JID -> jid-required; a malformed one -> invalid-jid", async () => {
    const t = await nodeWith();
    expect(await t.service.subscribe("n", SUB, "romeo@montague.lit")).toEqual({ ok: false, error: "invalid-jid" });
    expect(await t.service.subscribe("n", SUB, "")).toEqual({ ok: false, error: "jid-required" });
    expect(await t.service.subscribe("n", SUB, "@denmark.lit")).toEqual({ ok: false, error: "invalid-jid" });
  });

  it("a bare JID may subscribe from a full JID and vice versa", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB_BARE));
    expectOk(await t.service.subscribe("n", SUB_BARE, `${SUB_BARE}/other`));
  });

  it("the owner may subscribe others (subscribe-other)", async () => {
    const t = await nodeWith({ accessModel: "whitelist" });
    expectOk(await t.service.subscribe("n", OWNER, SUB));
  });

  it("outcasts are forbidden (§6.1.3.8)", async () => {
    const t = await nodeWith();
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: SUB_BARE, affiliation: "outcast" }]));
    expect(await t.service.subscribe("n", SUB, SUB)).toEqual({ ok: false, error: "forbidden" });
  });

  it("a missing node is item-not-found, unless autocreate_on_subscribe", async () => {
    const plain = createTestService();
    expect(await plain.service.subscribe("x", SUB, SUB)).toEqual({ ok: false, error: "item-not-found" });
    const auto = createTestService({ autocreateOnSubscribe: true });
    expectOk(await auto.service.subscribe("x", SUB, SUB));
    expect(expectOk(await auto.service.getNodeAffiliations("x", SUB))).toEqual([
      { jid: SUB_BARE, affiliation: "owner" },
    ]);
  });

  it("too many subscriptions -> too-many-subscriptions (§6.1.3.9)", async () => {
    const t = await nodeWith({}, { maxSubscriptionsPerJid: 1 });
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(await t.service.subscribe("n", SUB, SUB, { includeBody: true })).toEqual({
      ok: false,
      error: "too-many-subscriptions",
    });
  });

  it("pubsub#notify_sub tells the owners", async () => {
    const t = await nodeWith({ notifySub: true });
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(t.eventsOf("subscription")).toEqual([
      expect.objectContaining({ audience: "owners", state: "subscribed", recipients: [{ jid: OWNER, subids: [] }] }),
    ]);
    expectOk(await t.service.unsubscribe("n", SUB, SUB));
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ audience: "owners", state: "none" });
  });

  it("without notify_sub nothing is broadcast, but the bus hears of it", async () => {
    const t = await nodeWith();
    const heard: string[] = [];
    t.service.events.on("subscription-changed", (e) => heard.push(`${e.jid}:${e.state}`));
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expect(t.eventsOf("subscription")).toEqual([]);
    expect(heard).toEqual([`${SUB}:subscribed`]);
  });
});

describe("multiple subscriptions and subids (§6.1.6)", () => {
  it("different options make another subscription; the same options return the existing one", async () => {
    const t = await nodeWith();
    const a = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    const again = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expect(again.subid).toBe(a.subid);
    const b = expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true })).subscription;
    expect(b.subid).not.toBe(a.subid);
    expect(expectOk(await t.service.getSubscriptions("n", SUB)).map((s) => s.subid)).toEqual([a.subid, b.subid]);
  });

  it("one notification per JID, listing every subid", async () => {
    const t = await nodeWith();
    const a = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    const b = expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true })).subscription;
    expectOk(await t.service.subscribe("n", SUB_BARE, SUB_BARE));
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")[0].recipients).toEqual([
      { jid: SUB, subids: [a.subid, b.subid], includeBody: true },
      { jid: SUB_BARE, subids: ["id-3"], includeBody: false },
    ]);
  });

  it("without multi-subscribe the current subscription is returned (§6.1.6)", async () => {
    const t = await nodeWith({}, { multiSubscribe: false });
    const a = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    const b = expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true })).subscription;
    expect(b.subid).toBe(a.subid);
  });
});

describe("unsubscribe (§6.2)", () => {
  it("ends the subscription and returns it", async () => {
    const t = await nodeWith();
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expect(expectOk(await t.service.unsubscribe("n", SUB, SUB))).toMatchObject({ subid: sub.subid, jid: SUB });
    expect(await t.store.loadSubscriptions("n")).toEqual([]);
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")[0].recipients).toEqual([]);
  });

  it("error cases: subid-required, invalid-subid, not-subscribed, forbidden, item-not-found", async () => {
    const t = await nodeWith();
    const a = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true }));
    expect(await t.service.unsubscribe("n", SUB, SUB)).toEqual({ ok: false, error: "subid-required" });
    expect(await t.service.unsubscribe("n", SUB, SUB, "bogus")).toEqual({ ok: false, error: "invalid-subid" });
    expect(await t.service.unsubscribe("n", SUB, `${SUB_BARE}/else`)).toEqual({ ok: false, error: "not-subscribed" });
    expect(await t.service.unsubscribe("n", "romeo@montague.lit", SUB, a.subid)).toEqual({
      ok: false,
      error: "forbidden",
    });
    expect(await t.service.unsubscribe("x", SUB, SUB)).toEqual({ ok: false, error: "item-not-found" });
    expectOk(await t.service.unsubscribe("n", SUB, SUB, a.subid));
    expectOk(await t.service.unsubscribe("n", SUB, SUB));
  });

  it("the owner may unsubscribe others", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.unsubscribe("n", OWNER, SUB));
  });
});

describe("subscription options (§6.3)", () => {
  it("get and set, with the same identity rules as unsubscribe", async () => {
    const t = await nodeWith();
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expect(expectOk(await t.service.getSubscriptionOptions("n", SUB, SUB)).options).toEqual({
      deliver: true,
      includeBody: false,
    });
    const set = expectOk(await t.service.setSubscriptionOptions("n", SUB, SUB, { deliver: false }, sub.subid));
    expect(set.options.deliver).toBe(false);
    expect((await t.store.loadSubscriptions("n"))[0].options.deliver).toBe(false);
    expect(await t.service.getSubscriptionOptions("n", "romeo@montague.lit", SUB)).toMatchObject({ error: "forbidden" });
    expect(await t.service.getSubscriptionOptions("n", SUB, `${SUB_BARE}/x`)).toMatchObject({ error: "not-subscribed" });
    expect(await t.service.setSubscriptionOptions("n", SUB, SUB, { bogus: 1 } as never)).toMatchObject({
      error: "invalid-options",
    });
    expect(t.service.getDefaultSubscriptionOptions()).toEqual({ deliver: true, includeBody: false });
  });

  it("pubsub#deliver false stops notifications", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB, { deliver: false }));
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")[0].recipients).toEqual([]);
  });

  it("pubsub#show-values filters on the subscriber's show", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB, { showValues: ["chat", "online"] }));
    t.oracle.shows.set(SUB, "dnd");
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    t.oracle.shows.set(SUB, "chat");
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(t.eventsOf("items").map((e) => e.recipients.length)).toEqual([0, 1]);
  });
});

describe("leases (§12.18) and temporary subscriptions (§12.17)", () => {
  it("a lease ends at its time: no more notifications, the subscriber is told", async () => {
    const t = await nodeWith();
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB, { expire: t.clock.now + 60_000 })).subscription;
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    t.clock.advance(61_000);
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(t.eventsOf("items").map((e) => e.recipients.length)).toEqual([1, 0]);
    expect(t.eventsOf("subscription")).toEqual([
      expect.objectContaining({ subid: sub.subid, state: "none", audience: "subscriber" }),
    ]);
    expect(await t.store.loadSubscriptions("n")).toEqual([]);
  });

  it("leases are capped at the service's longest", async () => {
    const t = await nodeWith({}, { maxLeaseSeconds: 3600 });
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB, { expire: t.clock.now + 86_400_000 })).subscription;
    expect(sub.options.expire).toBe(t.clock.now + 3_600_000);
  });

  it("sweep ends leases without waiting for a publish", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB, { expire: t.clock.now + 1000 }));
    t.clock.advance(2000);
    await t.service.sweep();
    expect(await t.store.loadSubscriptions("n")).toEqual([]);
  });

  it("expire=presence ends with the subscriber's unavailable presence", async () => {
    const t = await nodeWith({ notifySub: true });
    expectOk(await t.service.subscribe("n", SUB, SUB, { expire: "presence" }));
    expectOk(await t.service.subscribe("n", `${SUB_BARE}/other`, `${SUB_BARE}/other`));
    await t.service.onUnavailable(SUB);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER)).map((s) => s.jid)).toEqual([`${SUB_BARE}/other`]);
    // The subscriber is gone, so only the owners hear of it.
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ audience: "owners", state: "none", jid: SUB });
  });
});

describe("send_last_published_item", () => {
  it("never: nothing on subscribe", async () => {
    const t = await nodeWith();
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(expectOk(await t.service.subscribe("n", SUB, SUB)).lastItem).toBeUndefined();
  });

  it("on_sub: the last item comes with the subscription, for the caller to send after the reply", async () => {
    const t = await nodeWith({ sendLastPublishedItem: "on_sub" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(expectOk(await t.service.subscribe("n", SUB, SUB)).lastItem).toMatchObject({ id: "2", payload: 2 });
    await t.service.onAvailable(SUB);
    expect(t.eventsOf("last-item")).toEqual([]);
  });

  it("the outcome carries the last item as a ready event: payload per deliver_payloads, include_body", async () => {
    const t = await nodeWith({ sendLastPublishedItem: "on_sub" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    const outcome = expectOk(await t.service.subscribe("n", SUB, SUB, { includeBody: true }));
    expect(outcome.lastItemEvent).toMatchObject({
      kind: "last-item",
      node: "n",
      item: { id: "1", payload: 1 },
      recipients: [{ jid: SUB, subids: [outcome.subscription.subid], includeBody: true }],
    });
    expectOk(await t.service.setConfig("n", OWNER, { deliverPayloads: false }));
    const again = expectOk(await t.service.subscribe("n", `${SUB_BARE}/two`, `${SUB_BARE}/two`));
    expect(again.lastItemEvent?.item).toEqual({ id: "1", publisher: OWNER, published: t.clock.now });
  });

  it("on_sub_and_presence: also when a subscriber comes online, addressed to that resource", async () => {
    const t = await nodeWith({ sendLastPublishedItem: "on_sub_and_presence" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    const sub = expectOk(await t.service.subscribe("n", SUB_BARE, SUB_BARE)).subscription;
    await t.service.onAvailable(`${SUB_BARE}/phone`);
    expect(t.eventsOf("last-item")).toEqual([
      expect.objectContaining({
        node: "n",
        item: expect.objectContaining({ id: "1", payload: 1 }),
        recipients: [{ jid: `${SUB_BARE}/phone`, subids: [sub.subid], includeBody: false }],
      }),
    ]);
    await t.service.onAvailable("romeo@montague.lit/x");
    expect(t.eventsOf("last-item")).toHaveLength(1);
  });
});

describe("presence_based_delivery", () => {
  it("only available subscribers are notified", async () => {
    const t = await nodeWith({ presenceBasedDelivery: true });
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.subscribe("n", "bernardo@denmark.lit", "bernardo@denmark.lit"));
    t.oracle.available = new Set(["bernardo@denmark.lit/post"]);
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(t.eventsOf("items")[0].recipients.map((r) => r.jid)).toEqual(["bernardo@denmark.lit"]);
  });
});

describe("own subscriptions (§5.6)", () => {
  it("lists every subscription of the actor's bare JID, across nodes", async () => {
    const t = await nodeWith();
    expectOk(await t.service.create("m", OWNER));
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(await t.service.subscribe("m", SUB_BARE, SUB_BARE));
    expectOk(await t.service.subscribe("m", "bernardo@denmark.lit", "bernardo@denmark.lit"));
    const mine = expectOk(await t.service.getSubscriptions(undefined, `${SUB_BARE}/any`));
    expect(mine.map((s) => [s.node, s.jid])).toEqual([
      ["m", SUB_BARE],
      ["n", SUB],
    ]);
    expect(expectOk(await t.service.getSubscriptions("n", SUB_BARE))).toHaveLength(1);
    expect(expectOk(await t.service.getSubscriptions("n", "nobody@x.lit"))).toEqual([]);
  });
});

describe("owner-managed subscriptions (§8.8)", () => {
  it("lists, adds, removes; the subscriber is told of each change", async () => {
    const t = await nodeWith();
    expectOk(await t.service.subscribe("n", SUB, SUB));
    expectOk(
      await t.service.setSubscriptions("n", OWNER, [
        { jid: "bernardo@denmark.lit", subscription: "subscribed" },
        { jid: SUB, subscription: "none" },
      ]),
    );
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER)).map((s) => s.jid)).toEqual([
      "bernardo@denmark.lit",
    ]);
    expect(t.eventsOf("subscription").map((e) => [e.jid, e.state])).toEqual([
      ["bernardo@denmark.lit", "subscribed"],
      [SUB, "none"],
    ]);
  });

  it("invalid entries come back unaltered; the others are applied (§8.8.2.4)", async () => {
    const t = await nodeWith();
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: "bad@denmark.lit", affiliation: "outcast" }]));
    const result = await t.service.setSubscriptions("n", OWNER, [
      { jid: "bad@denmark.lit", subscription: "subscribed" },
      { jid: "good@denmark.lit", subscription: "subscribed" },
      { jid: "good@denmark.lit", subid: "nope", subscription: "none" },
    ]);
    expect(result).toEqual({
      ok: false,
      error: "not-acceptable",
      failed: [
        { jid: "bad@denmark.lit", subscription: "none" },
        { jid: "good@denmark.lit", subscription: "none", subid: "nope" },
      ],
    });
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER)).map((s) => s.jid)).toEqual(["good@denmark.lit"]);
  });

  it("only owners may manage subscriptions", async () => {
    const t = await nodeWith();
    expect(await t.service.setSubscriptions("n", SUB, [{ jid: SUB, subscription: "subscribed" }])).toMatchObject({
      error: "forbidden",
    });
  });
});

describe("the owner sets each subscription state (§8.8.2), delivery follows the state (§4.2)", () => {
  const BERNARDO = "bernardo@denmark.lit";
  const recipientsOfLastPublish = (t: Awaited<ReturnType<typeof nodeWith>>) =>
    t.eventsOf("items").at(-1)!.recipients.map((r) => r.jid);

  it("pending: no items, out of the owner's list (§8.8.1), awaiting approval (§8.7); approval restores delivery", async () => {
    const t = await nodeWith();
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: SUB, subscription: "pending" }]));
    // §8.8.4: the subscriber is told, with its subid.
    expect(t.eventsOf("subscription").map((e) => [e.audience, e.jid, e.subid, e.state])).toEqual([
      ["subscriber", SUB, sub.subid, "pending"],
    ]);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER))).toEqual([]);
    expect(expectOk(await t.service.getPending("n", OWNER)).map((s) => [s.jid, s.subid, s.state])).toEqual([
      [SUB, sub.subid, "pending"],
    ]);
    expect(expectOk(await t.service.getPendingNodes(OWNER))).toEqual(["n"]);
    expect(expectOk(await t.service.getSubscriptions("n", SUB)).map((s) => s.state)).toEqual(["pending"]);
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(recipientsOfLastPublish(t)).toEqual([]);
    // §6.1.3.7: while pending, subscribing again is refused.
    expect(await t.service.subscribe("n", SUB, SUB)).toMatchObject({ ok: false, error: "pending-subscription" });
    // The store holds the new state: a service restarted on it sees a pending request.
    const restarted = createTestService({}, { store: t.store });
    expect(expectOk(await restarted.service.getPending("n", OWNER)).map((s) => s.jid)).toEqual([SUB]);

    expectOk(await t.service.answerPending("n", OWNER, SUB, true));
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ jid: SUB, state: "subscribed" });
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(recipientsOfLastPublish(t)).toEqual([SUB]);
  });

  it("pending for an entity without a subscription makes a request an owner may deny; outcasts cannot hold one", async () => {
    const t = await nodeWith();
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: "bad@denmark.lit", affiliation: "outcast" }]));
    const result = await t.service.setSubscriptions("n", OWNER, [
      { jid: BERNARDO, subscription: "pending" },
      { jid: "bad@denmark.lit", subscription: "pending" },
    ]);
    expect(result).toEqual({ ok: false, error: "not-acceptable", failed: [{ jid: "bad@denmark.lit", subscription: "none" }] });
    expect(expectOk(await t.service.getPending("n", OWNER)).map((s) => [s.jid, s.state])).toEqual([[BERNARDO, "pending"]]);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER, { includePending: true })).map((s) => s.jid)).toEqual([
      BERNARDO,
    ]);
    expectOk(await t.service.answerPending("n", OWNER, BERNARDO, false));
    expect(t.eventsOf("subscription").map((e) => [e.jid, e.state])).toEqual([
      [BERNARDO, "pending"],
      [BERNARDO, "none"],
    ]);
    expect(expectOk(await t.service.getPending("n", OWNER))).toEqual([]);
  });

  it("unconfigured: listed, no items until the subscriber configures it (§6.1.6), then the last item", async () => {
    const t = await nodeWith({ sendLastPublishedItem: "on_sub" });
    const sub = expectOk(await t.service.subscribe("n", SUB, SUB)).subscription;
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: SUB, subscription: "unconfigured" }]));
    expect(t.eventsOf("subscription").map((e) => [e.jid, e.state])).toEqual([[SUB, "unconfigured"]]);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER)).map((s) => [s.jid, s.state])).toEqual([
      [SUB, "unconfigured"],
    ]);
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expect(recipientsOfLastPublish(t)).toEqual([]);
    // Subscribing again answers with the unconfigured subscription, and sends nothing.
    const again = expectOk(await t.service.subscribe("n", SUB, SUB));
    expect([again.subscription.subid, again.subscription.state, again.lastItem]).toEqual([sub.subid, "unconfigured", undefined]);
    const configured = expectOk(await t.service.setSubscriptionOptions("n", SUB, SUB, { includeBody: true }));
    expect(configured.state).toBe("subscribed");
    expect(t.eventsOf("last-item").map((e) => [e.item.id, e.recipients])).toEqual([
      ["1", [{ jid: SUB, subids: [sub.subid], includeBody: true }]],
    ]);
    expectOk(await t.service.publish("n", OWNER, "2", { payload: 2 }));
    expect(recipientsOfLastPublish(t)).toEqual([SUB]);
  });

  it("an unconfigured subscriber holds a subscription for the access model (§6.5.3), a pending one does not", async () => {
    const t = await nodeWith({ accessModel: "authorize", publishModel: "subscribers" });
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: SUB, subscription: "unconfigured" }]));
    expect(expectOk(await t.service.getItems("n", SUB)).items).toEqual([]);
    expectOk(await t.service.publish("n", SUB, "by-sub", { payload: 1 }));
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: SUB, subscription: "pending" }]));
    expect(await t.service.getItems("n", SUB)).toMatchObject({ ok: false, error: "retrieve-not-subscribed" });
    expect(await t.service.publish("n", SUB, "by-sub-2", { payload: 2 })).toMatchObject({ ok: false, error: "forbidden" });
  });

  it("subscribed from any state, none from any state; the subscriber is told each time", async () => {
    const t = await nodeWith({ sendLastPublishedItem: "on_sub" });
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    for (const state of ["unconfigured", "pending", "subscribed", "pending", "none", "unconfigured", "subscribed", "none"] as const) {
      expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: BERNARDO, subscription: state }]));
    }
    expect(t.eventsOf("subscription").map((e) => e.state)).toEqual([
      "unconfigured",
      "pending",
      "subscribed",
      "pending",
      "none",
      "unconfigured",
      "subscribed",
      "none",
    ]);
    // The last item went out each time the subscription became subscribed, and only then.
    expect(t.eventsOf("last-item")).toHaveLength(2);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER, { includePending: true }))).toEqual([]);
  });
});
