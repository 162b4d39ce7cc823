import { describe, expect, it } from "vitest";
import { COMPONENT_NODE_DEFAULTS, PEP_NODE_DEFAULTS } from "./config.js";
import { MemoryPubsubStore } from "./store.js";
import { createTestService, expectOk } from "./testing.js";

const OWNER = "hamlet@denmark.lit/elsinore";
const OWNER_BARE = "hamlet@denmark.lit";
const OTHER = "horatio@denmark.lit";

describe("create (§8.1)", () => {
  it("creates with defaults; the creator is the owner; the record is durable", async () => {
    const t = createTestService();
    expect(await t.service.create("princely_musings", OWNER)).toEqual({ ok: true, value: { node: "princely_musings" } });
    const record = await t.store.loadNode("princely_musings");
    expect(record).toMatchObject({
      name: "princely_musings",
      creator: OWNER_BARE,
      affiliations: { [OWNER_BARE]: "owner" },
      config: COMPONENT_NODE_DEFAULTS,
    });
  });

  it("an existing node -> conflict (pubsub_createdelete.scs)", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.create("n", OWNER)).toEqual({ ok: false, error: "conflict" });
  });

  it("instant nodes get a generated name (§8.1.2)", async () => {
    const t = createTestService();
    expect(expectOk(await t.service.create(undefined, OWNER))).toEqual({ node: "id-1" });
    expect(expectOk(await t.service.create("", OWNER))).toEqual({ node: "id-2" });
    const none = createTestService({ instantNodes: false });
    expect(await none.service.create(undefined, OWNER)).toEqual({ ok: false, error: "instant-nodes-unsupported" });
  });

  it("create-and-configure (§8.1.3) validates the configuration", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { title: "Princely Musings", maxItems: 5 }));
    expect(expectOk(await t.service.getConfig("n", OWNER))).toMatchObject({ title: "Princely Musings", maxItems: 5 });
    expect(await t.service.create("m", OWNER, { maxItems: 0 })).toMatchObject({ ok: false, error: "not-acceptable" });
    expect(await t.service.create("m", OWNER, { bogus: 1 } as never)).toMatchObject({ error: "not-acceptable" });
  });

  it("the node limit -> max-nodes-exceeded", async () => {
    const t = createTestService({ maxNodes: 1 });
    expectOk(await t.service.create("a", OWNER));
    expect(await t.service.create("b", OWNER)).toEqual({ ok: false, error: "max-nodes-exceeded" });
  });

  it("the bus announces new nodes", async () => {
    const t = createTestService();
    const seen: string[] = [];
    t.service.events.on("node-created", (e) => seen.push(`${e.node} by ${e.creator}`));
    expectOk(await t.service.create("n", OWNER));
    expect(seen).toEqual([`n by ${OWNER_BARE}`]);
  });
});

describe("delete (§8.4)", () => {
  it("removes items, subscriptions and node; notifies every subscriber incl. pending, with redirect", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { accessModel: "authorize" }));
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "member" }]));
    expectOk(await t.service.subscribe("n", OTHER, OTHER));
    expectOk(await t.service.subscribe("n", "bernardo@denmark.lit", "bernardo@denmark.lit")); // pending
    expectOk(await t.service.publish("n", OWNER, "1", { payload: 1 }));
    expectOk(await t.service.delete("n", OWNER, "xmpp:hamlet@denmark.lit?;node=blog"));
    expect(await t.store.loadNode("n")).toBeUndefined();
    expect(await t.store.countItems("n")).toBe(0);
    expect(await t.store.loadSubscriptions("n")).toEqual([]);
    expect(t.eventsOf("delete")).toEqual([
      expect.objectContaining({
        node: "n",
        redirect: "xmpp:hamlet@denmark.lit?;node=blog",
        recipients: [
          { jid: OTHER, subids: [expect.any(String)] },
          { jid: "bernardo@denmark.lit", subids: [expect.any(String)] },
        ],
      }),
    ]);
    expect(await t.service.getItems("n", OWNER)).toMatchObject({ error: "item-not-found" });
    expectOk(await t.service.create("n", OWNER));
  });

  it("notify_delete off: no broadcast", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { notifyDelete: false }));
    expectOk(await t.service.delete("n", OWNER));
    expect(t.eventsOf("delete")).toEqual([]);
  });

  it("missing node -> item-not-found; non-owner -> forbidden", async () => {
    const t = createTestService();
    expect(await t.service.delete("n", OWNER)).toEqual({ ok: false, error: "item-not-found" });
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.delete("n", OTHER)).toEqual({ ok: false, error: "forbidden" });
  });
});

describe("configure (§8.2, §8.3)", () => {
  it("merges a partial configuration and persists it", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    const config = expectOk(await t.service.setConfig("n", OWNER, { title: "T", sendLastPublishedItem: "on_sub" }));
    expect(config).toMatchObject({ title: "T", sendLastPublishedItem: "on_sub", maxItems: 20 });
    expect((await t.store.loadNode("n"))?.config.title).toBe("T");
    expectOk(await t.service.setConfig("n", OWNER, { title: undefined }));
    expect(expectOk(await t.service.getConfig("n", OWNER))).not.toHaveProperty("title");
  });

  it("refuses bad values without changing anything", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.setConfig("n", OWNER, { maxItems: 257 })).toMatchObject({ error: "not-acceptable" });
    expect(await t.service.setConfig("n", OWNER, { accessModel: "everyone" as never })).toMatchObject({
      error: "not-acceptable",
    });
    expect(expectOk(await t.service.getConfig("n", OWNER)).maxItems).toBe(20);
  });

  it("non-owners may neither read nor change the configuration", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.getConfig("n", OTHER)).toEqual({ ok: false, error: "forbidden" });
    expect(await t.service.setConfig("n", OTHER, { title: "x" })).toEqual({ ok: false, error: "forbidden" });
  });

  it("notify_config sends the change to subscribers, with the form when payloads are delivered", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { notifyConfig: true }));
    expectOk(await t.service.subscribe("n", OTHER, OTHER));
    expectOk(await t.service.setConfig("n", OWNER, { title: "New" }));
    expect(t.eventsOf("configuration")).toEqual([
      expect.objectContaining({ includeConfig: true, recipients: [expect.objectContaining({ jid: OTHER })] }),
    ]);
    expect(t.eventsOf("configuration")[0].config.title).toBe("New");
  });

  it("defaults: component as Prosody, PEP defaults available, overridable per service", async () => {
    expect(createTestService().service.getDefaultConfig()).toEqual(COMPONENT_NODE_DEFAULTS);
    const pep = createTestService({ nodeDefaults: PEP_NODE_DEFAULTS, autocreateOnPublish: true });
    expect(pep.service.getDefaultConfig()).toMatchObject({
      maxItems: 1,
      accessModel: "presence",
      sendLastPublishedItem: "on_sub_and_presence",
    });
    expect(() => createTestService({ nodeDefaults: { maxItems: -1 } })).toThrow(/invalid node defaults/);
  });
});

describe("affiliations (§5.7, §8.9)", () => {
  it("owners list and change them; none removes the entry", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: `${OTHER}/res`, affiliation: "publisher" }]));
    expect(expectOk(await t.service.getNodeAffiliations("n", OWNER))).toEqual([
      { jid: OWNER_BARE, affiliation: "owner" },
      { jid: OTHER, affiliation: "publisher" },
    ]);
    expect((await t.store.loadNode("n"))?.affiliations[OTHER]).toBe("publisher");
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "none" }]));
    expect(expectOk(await t.service.getNodeAffiliations("n", OWNER))).toHaveLength(1);
    expect(t.eventsOf("affiliation").map((e) => [e.jid, e.affiliation])).toEqual([
      [OTHER, "publisher"],
      [OTHER, "none"],
    ]);
  });

  it("the last owner cannot leave (§8.9.2.4); with another owner it can resign", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.setAffiliations("n", OWNER, [{ jid: OWNER_BARE, affiliation: "member" }])).toEqual({
      ok: false,
      error: "not-acceptable",
      failed: [{ jid: OWNER_BARE, affiliation: "owner" }],
    });
    expectOk(
      await t.service.setAffiliations("n", OWNER, [
        { jid: OTHER, affiliation: "owner" },
        { jid: OWNER_BARE, affiliation: "none" },
      ]),
    );
    expect(expectOk(await t.service.getNodeAffiliations("n", OTHER))).toEqual([{ jid: OTHER, affiliation: "owner" }]);
  });

  it("a JID twice -> bad-request; invalid entries fail while valid ones apply", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(
      await t.service.setAffiliations("n", OWNER, [
        { jid: OTHER, affiliation: "member" },
        { jid: `${OTHER}/x`, affiliation: "outcast" },
      ]),
    ).toMatchObject({ ok: false, error: "bad-request" });
    expect(
      await t.service.setAffiliations("n", OWNER, [
        { jid: OTHER, affiliation: "boss" as never },
        { jid: "bernardo@denmark.lit", affiliation: "member" },
      ]),
    ).toEqual({ ok: false, error: "not-acceptable", failed: [{ jid: OTHER, affiliation: "none" }] });
    expect(expectOk(await t.service.getNodeAffiliations("n", OWNER))).toContainEqual({
      jid: "bernardo@denmark.lit",
      affiliation: "member",
    });
  });

  it("outcast and publish-only end the entity's subscriptions (every resource)", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expectOk(await t.service.subscribe("n", `${OTHER}/a`, `${OTHER}/a`));
    expectOk(await t.service.subscribe("n", OTHER, OTHER));
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "outcast" }]));
    expect(expectOk(await t.service.getNodeSubscriptions("n", OWNER))).toEqual([]);
    expect(t.eventsOf("subscription").map((e) => e.state)).toEqual(["none", "none"]);
  });

  it("own affiliations across nodes (§5.7)", async () => {
    const t = createTestService();
    expectOk(await t.service.create("b", OWNER));
    expectOk(await t.service.create("a", OWNER));
    expectOk(await t.service.setAffiliations("a", OWNER, [{ jid: OTHER, affiliation: "publisher" }]));
    expect(expectOk(await t.service.getAffiliations(undefined, `${OTHER}/x`))).toEqual([
      { node: "a", affiliation: "publisher" },
    ]);
    expect(expectOk(await t.service.getAffiliations(undefined, OWNER)).map((a) => a.node)).toEqual(["a", "b"]);
    expect(expectOk(await t.service.getAffiliations("b", OTHER))).toEqual([]);
    expect(await t.service.getAffiliations("zz", OTHER)).toMatchObject({ error: "item-not-found" });
  });

  it("only owners manage affiliations", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER));
    expect(await t.service.setAffiliations("n", OTHER, [{ jid: OTHER, affiliation: "owner" }])).toEqual({
      ok: false,
      error: "forbidden",
    });
  });
});

describe("metadata and discovery (§5.2, §5.4)", () => {
  it("metadata: configuration, owners, publishers, subscriber count", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { title: "Musings", type: "http://www.w3.org/2005/Atom" }));
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "publisher" }]));
    expectOk(await t.service.subscribe("n", "bernardo@denmark.lit", "bernardo@denmark.lit"));
    const meta = expectOk(await t.service.getNodeMeta("n", "anyone@else.lit"));
    expect(meta).toMatchObject({
      node: "n",
      nodeType: "leaf",
      creator: OWNER_BARE,
      owners: [OWNER_BARE],
      publishers: [OTHER],
      numSubscribers: 1,
      config: { title: "Musings", type: "http://www.w3.org/2005/Atom" },
    });
    expectOk(await t.service.setAffiliations("n", OWNER, [{ jid: "anyone@else.lit", affiliation: "outcast" }]));
    expect(await t.service.getNodeMeta("n", "anyone@else.lit")).toMatchObject({ error: "forbidden" });
  });

  it("lists visible nodes by name with titles, paged with RSM", async () => {
    const t = createTestService();
    for (const name of ["c", "a", "b", "d"]) expectOk(await t.service.create(name, OWNER, { title: name.toUpperCase() }));
    expect(expectOk(await t.service.listNodes(OTHER)).nodes).toEqual([
      { node: "a", title: "A" },
      { node: "b", title: "B" },
      { node: "c", title: "C" },
      { node: "d", title: "D" },
    ]);
    const page = expectOk(await t.service.listNodes(OTHER, { max: 2, after: "a" }));
    expect(page).toEqual({
      nodes: [
        { node: "b", title: "B" },
        { node: "c", title: "C" },
      ],
      rsm: { count: 4, first: "b", last: "c" },
    });
    expect(expectOk(await t.service.listNodes(OTHER, { max: 1, before: "" })).nodes).toEqual([{ node: "d", title: "D" }]);
  });
});

describe("persistence", () => {
  it("a new service on the same store finds nodes, affiliations, subscriptions and items", async () => {
    const store = new MemoryPubsubStore();
    const first = createTestService({}, { store });
    expectOk(await first.service.create("n", OWNER, { title: "kept" }));
    expectOk(await first.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "publisher" }]));
    const sub = expectOk(await first.service.subscribe("n", "bernardo@denmark.lit", "bernardo@denmark.lit"));
    expectOk(await first.service.publish("n", OTHER, "1", { payload: "p" }));

    const second = createTestService({}, { store });
    expect(expectOk(await second.service.getConfig("n", OWNER)).title).toBe("kept");
    expect(expectOk(await second.service.getNodeAffiliations("n", OWNER))).toHaveLength(2);
    expect(expectOk(await second.service.getItems("n", OWNER)).items).toMatchObject([{ id: "1", payload: "p" }]);
    expectOk(await second.service.publish("n", OTHER, "2", { payload: "q" }));
    expect(second.eventsOf("items")[0].recipients).toEqual([
      { jid: "bernardo@denmark.lit", subids: [sub.subscription.subid], includeBody: false },
    ]);
    expect(expectOk(await second.service.warm())).toBe(1);
  });

  it("a failed store write rejects and leaves the service as the store has it", async () => {
    class FlakyStore extends MemoryPubsubStore {
      failNext = false;
      override async saveNode(record: Parameters<MemoryPubsubStore["saveNode"]>[0]): Promise<void> {
        if (this.failNext) {
          this.failNext = false;
          throw new Error("disk full");
        }
        return super.saveNode(record);
      }
    }
    const store = new FlakyStore();
    const t = createTestService({}, { store });
    expectOk(await t.service.create("n", OWNER));
    store.failNext = true;
    await expect(t.service.setConfig("n", OWNER, { title: "lost" })).rejects.toThrow("disk full");
    expect(expectOk(await t.service.getConfig("n", OWNER))).not.toHaveProperty("title");
    store.failNext = true;
    await expect(t.service.setAffiliations("n", OWNER, [{ jid: OTHER, affiliation: "member" }])).rejects.toThrow();
    expect(expectOk(await t.service.getNodeAffiliations("n", OWNER))).toHaveLength(1);
    // The node's lock was released: later changes go through.
    expectOk(await t.service.setConfig("n", OWNER, { title: "kept" }));
  });

  it("concurrent changes on one node are serialised", async () => {
    const t = createTestService();
    expectOk(await t.service.create("n", OWNER, { maxItems: 3, publishNodeFull: "reject" }));
    const results = await Promise.all(
      ["1", "2", "3", "4", "5"].map((id) => t.service.publish("n", OWNER, id, { payload: id })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok && r.error === "node-full")).toHaveLength(2);
    expect(await t.store.countItems("n")).toBe(3);
  });
});
