import { describe, expect, it } from "vitest";
import { createTestService, expectOk } from "./testing.js";

const OWNER = "juliet@capulet.lit";
const ROMEO = "romeo@montague.lit/orchard";
const ROMEO_BARE = "romeo@montague.lit";

describe("access model open", () => {
  it("anyone may subscribe and retrieve items without subscribing", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER));
    expectOk(await service.publish("n", OWNER, "1", { payload: "p" }));
    expect(expectOk(await service.getItems("n", ROMEO)).items.map((i) => i.id)).toEqual(["1"]);
    expect(expectOk(await service.subscribe("n", ROMEO, ROMEO)).subscription.state).toBe("subscribed");
  });
});

describe("access model presence (§6.1.3.2, §6.5.9.6)", () => {
  it("refuses entities without a presence subscription to the owner", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { accessModel: "presence" }));
    expect(await service.subscribe("n", ROMEO, ROMEO)).toEqual({ ok: false, error: "presence-subscription-required" });
    expect(await service.getItems("n", ROMEO)).toEqual({ ok: false, error: "presence-subscription-required" });
  });

  it("admits a presence subscriber, asked about the owner's bare JID", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", `${OWNER}/balcony`, { accessModel: "presence" }));
    t.oracle.allowPresence(OWNER, ROMEO_BARE);
    expect(expectOk(await t.service.subscribe("n", ROMEO, ROMEO)).subscription.state).toBe("subscribed");
    expectOk(await t.service.getItems("n", ROMEO));
  });

  it("the owner passes without asking", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { accessModel: "presence" }));
    expectOk(await service.subscribe("n", `${OWNER}/phone`, `${OWNER}/phone`));
  });

  it("explicit affiliations outrank the model", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { accessModel: "presence" }));
    expectOk(await service.setAffiliations("n", OWNER, [{ jid: ROMEO, affiliation: "member" }]));
    expectOk(await service.getItems("n", ROMEO));
  });
});

describe("access model roster (§6.1.3.3)", () => {
  it("admits only contacts in an allowed group", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "roster", rosterGroupsAllowed: ["Friends"] }));
    expect(await t.service.subscribe("n", ROMEO, ROMEO)).toEqual({ ok: false, error: "not-in-roster-group" });
    t.oracle.putInRoster(OWNER, ROMEO, ["Family"]);
    expect(await t.service.getItems("n", ROMEO)).toEqual({ ok: false, error: "not-in-roster-group" });
    t.oracle.putInRoster(OWNER, ROMEO, ["Family", "Friends"]);
    expectOk(await t.service.subscribe("n", ROMEO, ROMEO));
    expectOk(await t.service.getItems("n", ROMEO));
  });

  it("narrowing the allowed groups ends subscriptions it no longer allows", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "roster", rosterGroupsAllowed: ["Friends"] }));
    t.oracle.putInRoster(OWNER, ROMEO, ["Friends"]);
    expectOk(await t.service.subscribe("n", ROMEO, ROMEO));
    expectOk(await t.service.setConfig("n", OWNER, { rosterGroupsAllowed: ["Family"] }));
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER))).toEqual([]);
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ jid: ROMEO, state: "none", audience: "subscriber" });
  });
});

describe("access model whitelist (§6.1.3.4)", () => {
  it("refuses the unaffiliated with closed-node and admits members", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { accessModel: "whitelist" }));
    expect(await service.subscribe("n", ROMEO, ROMEO)).toEqual({ ok: false, error: "closed-node" });
    expect(await service.getItems("n", ROMEO)).toEqual({ ok: false, error: "closed-node" });
    expectOk(await service.setAffiliations("n", OWNER, [{ jid: ROMEO_BARE, affiliation: "member" }]));
    expectOk(await service.subscribe("n", ROMEO, ROMEO));
    expectOk(await service.getItems("n", ROMEO));
  });

  it("hides the node from outsiders' listings", async () => {
    const { service } = createTestService();
    expectOk(await service.create("secret", OWNER, { accessModel: "whitelist" }));
    expectOk(await service.create("public", OWNER));
    expect(expectOk(await service.listNodes(ROMEO)).nodes.map((n) => n.node)).toEqual(["public"]);
    expect(expectOk(await service.listNodes(OWNER)).nodes.map((n) => n.node)).toEqual(["public", "secret"]);
  });

  it("switching to whitelist drops unaffiliated subscribers", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expectOk(await t.service.subscribe("n", ROMEO, ROMEO));
    expectOk(await t.service.subscribe("n", "nurse@capulet.lit", "nurse@capulet.lit"));
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: "nurse@capulet.lit", affiliation: "member" }]));
    expectOk(await t.service.setConfig("n", OWNER, { accessModel: "whitelist" }));
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER)).map((s) => s.jid)).toEqual([
      "nurse@capulet.lit",
    ]);
    expect(await t.store.loadSubscriptions("n")).toHaveLength(1);
  });
});

describe("access model authorize (§6.1.2, §8.6, §8.7)", () => {
  async function pendingNode() {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "authorize" }));
    expectOk(await t.service.publish("n", OWNER, "last", { payload: "p" }));
    const outcome = expectOk(await t.service.subscribe("n", ROMEO, ROMEO));
    return { ...t, subid: outcome.subscription.subid, outcome };
  }

  it("a request is pending and the owners are asked", async () => {
    const t = await pendingNode();
    expect(t.outcome.subscription.state).toBe("pending");
    expect(t.outcome.lastItem).toBeUndefined();
    expect(t.eventsOf("authorization-request")).toEqual([
      expect.objectContaining({ node: "n", jid: ROMEO, subid: t.subid, recipients: [{ jid: OWNER, subids: [] }] }),
    ]);
  });

  it("a second request while pending -> pending-subscription (§6.1.3.7)", async () => {
    const t = await pendingNode();
    expect(await t.service.subscribe("n", ROMEO, ROMEO)).toEqual({ ok: false, error: "pending-subscription" });
  });

  it("pending subscribers may not retrieve items and get no notifications", async () => {
    const t = await pendingNode();
    expect(await t.service.getItems("n", ROMEO)).toEqual({ ok: false, error: "retrieve-not-subscribed" });
    expectOk(await t.service.publish("n", OWNER, "next", { payload: "p" }));
    expect(t.eventsOf("items").at(-1)?.recipients).toEqual([]);
  });

  it("owners list pending requests and the nodes that have some", async () => {
    const t = await pendingNode();
    expect(expectOk(await t.service.getPending("n", OWNER)).map((s) => s.jid)).toEqual([ROMEO]);
    expect(expectOk(await t.service.getPendingNodes(OWNER))).toEqual(["n"]);
    expect(expectOk(await t.service.getPendingNodes(ROMEO))).toEqual([]);
    expect(await t.service.getPending("n", ROMEO)).toMatchObject({ error: "forbidden" });
    // §8.8.1: pending requests are not listed with the subscriptions unless asked for.
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER))).toEqual([]);
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER, { includePending: true }))).toHaveLength(1);
  });

  it("approval subscribes, tells the subscriber, and opens retrieval", async () => {
    const t = await pendingNode();
    expectOk(await t.service.answerPending("n", OWNER, ROMEO, true));
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({
      jid: ROMEO,
      subid: t.subid,
      state: "subscribed",
      audience: "subscriber",
      recipients: [{ jid: ROMEO, subids: [t.subid] }],
    });
    expectOk(await t.service.getItems("n", ROMEO));
    expect(expectOk(await t.service.getPending("n", OWNER))).toEqual([]);
    expect((await t.store.loadSubscriptions("n"))[0]).toMatchObject({ state: "subscribed" });
  });

  it("approval via setSubscriptions works the same way (§8.8.2)", async () => {
    const t = await pendingNode();
    expectOk(await t.service.setSubscriptions("n", OWNER, [{ jid: ROMEO, subscription: "subscribed" }]));
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ state: "subscribed", audience: "subscriber" });
  });

  it("denial ends the request and tells the subscriber", async () => {
    const t = await pendingNode();
    expectOk(await t.service.answerPending("n", OWNER, ROMEO, false));
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ jid: ROMEO, state: "none" });
    expect(await t.store.loadSubscriptions("n")).toEqual([]);
    expect(await t.service.answerPending("n", OWNER, ROMEO, true)).toMatchObject({ error: "item-not-found" });
  });

  it("approval sends the last item when the node says so", async () => {
    const t = await pendingNode();
    expectOk(await t.service.setConfig("n", OWNER, { sendLastPublishedItem: "on_sub" }));
    expectOk(await t.service.answerPending("n", OWNER, ROMEO, true));
    expect(t.eventsOf("last-item")).toEqual([
      expect.objectContaining({ item: expect.objectContaining({ id: "last", payload: "p" }) }),
    ]);
  });

  it("only owners may answer", async () => {
    const t = await pendingNode();
    expect(await t.service.answerPending("n", ROMEO, ROMEO, true)).toMatchObject({ error: "forbidden" });
  });

  it("a pending request is approved when the entity becomes member, publisher or owner (§8.7 note)", async () => {
    const t = await pendingNode();
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: ROMEO_BARE, affiliation: "member" }]));
    expect(expectOk(await t.service.getSubscriptions("n", ROMEO))).toEqual([
      expect.objectContaining({ jid: ROMEO, state: "subscribed", subid: t.subid }),
    ]);
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ jid: ROMEO, state: "subscribed", audience: "subscriber" });
    expect((await t.store.loadSubscriptions("n"))[0]).toMatchObject({ state: "subscribed" });
  });

  it("a pending request is rejected when the entity becomes outcast", async () => {
    const t = await pendingNode();
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: ROMEO_BARE, affiliation: "outcast" }]));
    expect(expectOk(await t.service.getSubscriptions("n", ROMEO))).toEqual([]);
    expect(t.eventsOf("subscription").at(-1)).toMatchObject({ jid: ROMEO, state: "none" });
  });
});

describe("service policy", () => {
  it("offers only the configured access models (§8.1.3: unsupported-access-model)", async () => {
    const { service } = createTestService({ accessModels: ["open", "whitelist"] });
    expect(await service.create("n", OWNER, { accessModel: "presence" })).toMatchObject({
      ok: false,
      error: "unsupported-access-model",
    });
    expectOk(await service.create("n", OWNER, { accessModel: "whitelist" }));
    expect(await service.setConfig("n", OWNER, { accessModel: "authorize" })).toMatchObject({
      error: "unsupported-access-model",
    });
  });

  it("canCreate decides who creates nodes", async () => {
    const { service } = createTestService({ canCreate: (actor) => actor.startsWith("admin@") });
    expect(await service.create("n", ROMEO)).toEqual({ ok: false, error: "forbidden" });
    expectOk(await service.create("n", "admin@example.com/x"));
  });

  it("may() answers capability questions for other layers", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "presence" }));
    expect(await t.service.may("n", ROMEO, "retrieve-items")).toMatchObject({ error: "presence-subscription-required" });
    t.oracle.allowPresence(OWNER, ROMEO);
    expect(await t.service.may("n", ROMEO, "retrieve-items")).toEqual({ ok: true, value: "none" });
    expect(await t.service.may("missing", ROMEO, "retrieve-items")).toMatchObject({ error: "item-not-found" });
  });
});
