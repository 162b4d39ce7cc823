import { describe, expect, it } from "vitest";
import { CAPABILITIES, publishModelAllows, type Capability } from "./acl.js";
import { createTestService, expectOk, type TestService } from "./testing.js";
import type { Affiliation, Result } from "./types.js";

const OWNER = "owner@example.com";
const ACTOR = "actor@example.com/desk";
const ACTOR_BARE = "actor@example.com";

type Action =
  | "subscribe"
  | "retrieve items"
  | "publish"
  | "delete own item"
  | "delete any item"
  | "purge"
  | "configure"
  | "delete node"
  | "manage subscriptions"
  | "manage affiliations"
  | "get pending";

const ACTIONS: Action[] = [
  "subscribe",
  "retrieve items",
  "publish",
  "delete own item",
  "delete any item",
  "purge",
  "configure",
  "delete node",
  "manage subscriptions",
  "manage affiliations",
  "get pending",
];

// XEP-0060 §4.1 "Affiliations and their Privileges", plus the owner-only use cases of §8.
// Publisher deletes/purges any item (the starred MAY); publish-only deletes only its own items.
const Y = true;
const N = false;
const TABLE: Record<Affiliation, boolean[]> = {
  //              sub ret pub own any purge conf del subs affs pend
  owner: /*    */ [Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y],
  publisher: /**/ [Y, Y, Y, Y, Y, Y, N, N, N, N, N],
  "publish-only": [N, N, Y, Y, N, N, N, N, N, N, N],
  member: /*   */ [Y, Y, N, N, N, N, N, N, N, N, N],
  none: /*     */ [Y, N, N, N, N, N, N, N, N, N, N],
  outcast: /*  */ [N, N, N, N, N, N, N, N, N, N, N],
};

/** A node with the authorize access model (so "none" gets exactly the table's rights), one owner item. */
async function setup(affiliation: Affiliation): Promise<TestService> {
  const t = createTestService();
  const { service, store } = t;
  expectOk(await service.create("n", OWNER, { accessModel: "authorize" }));
  expectOk(await service.publish("n", OWNER, "owner-item", { payload: "o" }));
  await store.appendItem("n", { id: "actor-item", publisher: ACTOR_BARE, published: 1, payload: "a" });
  if (affiliation !== "none") {
    expectOk(await service.setAffiliations("n", OWNER, [{ jid: ACTOR_BARE, affiliation }]));
  }
  return t;
}

async function attempt(t: TestService, action: Action): Promise<Result<unknown>> {
  const s = t.service;
  switch (action) {
    case "subscribe":
      return s.subscribe("n", ACTOR, ACTOR);
    case "retrieve items":
      return s.getItems("n", ACTOR);
    case "publish":
      return s.publish("n", ACTOR, "new", { payload: "x" });
    case "delete own item":
      return s.retract("n", ACTOR, "actor-item");
    case "delete any item":
      return s.retract("n", ACTOR, "owner-item");
    case "purge":
      return s.purge("n", ACTOR);
    case "configure":
      return s.setConfig("n", ACTOR, { title: "changed" });
    case "delete node":
      return s.delete("n", ACTOR);
    case "manage subscriptions":
      return s.getNodeSubscriptions("n", ACTOR);
    case "manage affiliations":
      return s.getNodeAffiliations("n", ACTOR);
    case "get pending":
      return s.getPending("n", ACTOR);
  }
}

describe("XEP-0060 §4.1 permission table, row by row", () => {
  for (const [affiliation, row] of Object.entries(TABLE) as Array<[Affiliation, boolean[]]>) {
    describe(affiliation, () => {
      ACTIONS.forEach((action, i) => {
        const allowed = row[i];
        it(`${allowed ? "may" : "may not"} ${action}`, async () => {
          const t = await setup(affiliation);
          const result = await attempt(t, action);
          if (allowed) {
            expect(result).toMatchObject({ ok: true });
          } else {
            expect(result.ok).toBe(false);
            // "none" on an authorize node: retrieval needs a subscription (§6.5.9.3); everything else forbidden.
            const expected = affiliation === "none" && action === "retrieve items" ? "retrieve-not-subscribed" : "forbidden";
            expect(result).toMatchObject({ ok: false, error: expected });
          }
        });
      });
    });
  }

  it("a denied action changes nothing", async () => {
    const t = await setup("member");
    expect(await t.service.retract("n", ACTOR, "owner-item")).toMatchObject({ error: "forbidden" });
    expect(await t.store.getItem("n", "owner-item")).toBeDefined();
  });

  it("subscribe by none on an authorize node is pending, by member subscribed", async () => {
    const none = await setup("none");
    expect(expectOk(await none.service.subscribe("n", ACTOR, ACTOR)).subscription.state).toBe("pending");
    const member = await setup("member");
    expect(expectOk(await member.service.subscribe("n", ACTOR, ACTOR)).subscription.state).toBe("subscribed");
  });
});

describe("capability data", () => {
  it("owner may do everything, outcast nothing", () => {
    for (const grant of Object.values(CAPABILITIES.owner)) expect(grant).toBe(true);
    for (const grant of Object.values(CAPABILITIES.outcast)) expect(grant).toBe(false);
  });

  it("only 'none' defers to the access model", () => {
    for (const [affiliation, grants] of Object.entries(CAPABILITIES)) {
      const deferred = (Object.entries(grants) as Array<[Capability, unknown]>).filter(([, g]) => g === "access-model");
      if (affiliation === "none") {
        expect(deferred.map(([c]) => c).sort()).toEqual(["discover", "retrieve-items", "subscribe"]);
      } else {
        expect(deferred).toEqual([]);
      }
    }
  });

  it("publish models", () => {
    expect(publishModelAllows("member", "publishers", true)).toBe(false);
    expect(publishModelAllows("member", "subscribers", true)).toBe(true);
    expect(publishModelAllows("none", "subscribers", false)).toBe(false);
    expect(publishModelAllows("none", "open", false)).toBe(true);
    expect(publishModelAllows("outcast", "open", true)).toBe(false);
    expect(publishModelAllows("publish-only", "publishers", false)).toBe(true);
  });
});

describe("publish_model through the service", () => {
  it("subscribers: a subscribed entity may publish, an unsubscribed one may not", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { publishModel: "subscribers" }));
    expect(await service.publish("n", ACTOR, "a", { payload: 1 })).toMatchObject({ error: "forbidden" });
    expectOk(await service.subscribe("n", ACTOR, ACTOR));
    expectOk(await service.publish("n", ACTOR, "a", { payload: 1 }));
  });

  it("open: anyone but an outcast may publish", async () => {
    const { service } = createTestService();
    expectOk(await service.create("n", OWNER, { publishModel: "open" }));
    expectOk(await service.publish("n", ACTOR, "a", { payload: 1 }));
    expectOk(await service.setAffiliations("n", OWNER, [{ jid: ACTOR_BARE, affiliation: "outcast" }]));
    expect(await service.publish("n", ACTOR, "b", { payload: 1 })).toMatchObject({ error: "forbidden" });
  });
});

describe("service administrators", () => {
  it("act as owner of every node", async () => {
    const { service } = createTestService({ isAdmin: (jid) => jid === "admin@example.com" });
    expectOk(await service.create("n", OWNER));
    expectOk(await service.setConfig("n", "admin@example.com/x", { title: "by admin" }));
    expectOk(await service.delete("n", "admin@example.com"));
  });
});
