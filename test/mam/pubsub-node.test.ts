// XEP-0313 queries on a pubsub node (the item history) at the pubsub component, with the node's
// access rules, paging, filters and disco.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { createNode, errorOf, expectResult, login, publish, PUBSUB, startPubsubServer } from "../pubsub/helpers.js";
import { forwardedOf, mamQuery, NS_MAM, queryIq, rsmOf } from "./helpers.js";

const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
let ts: TestServer;
let admin: RawClient;
let romeo: RawClient;
let all: string[];

const payload = (n: number) => `<entry xmlns='urn:example:log'><n>${n}</n></entry>`;

beforeAll(async () => {
  ts = await startPubsubServer({ component: "expose_publisher = true" }, ["romeo"]);
  admin = await login(ts, "admin", "a");
  romeo = await login(ts, "romeo", "r");
  await createNode(admin, "history", { "pubsub#publish_model": "open", "pubsub#max_items": "100" });
  await createNode(admin, "secret", { "pubsub#access_model": "whitelist" });
  for (let i = 0; i < 7; i++) expectResult(await publish(i % 3 === 0 ? romeo : admin, "history", `item-${i}`, payload(i)));
  expectResult(await publish(admin, "secret", "s1", payload(99)));
  all = Array.from({ length: 7 }, (_, i) => `item-${i}`);
});
afterAll(() => ts?.stop());

describe("MAM on a pubsub node", () => {
  it("returns the node's items oldest first, each forwarded as its event notification", async () => {
    const q = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", queryid: "h1" }));
    expect(q.ids).toEqual(all);
    const first = forwardedOf(q.results[0])!;
    expect(first.attrs.from).toBe(PUBSUB);
    const item = first.getChild("event", NS_EVENT)!.getChild("items")!;
    expect(item.attrs.node).toBe("history");
    expect(item.getChild("item")!.attrs).toEqual({ id: "item-0", publisher: "romeo@localhost" });
    expect(item.getChild("item")!.getChild("entry", "urn:example:log")!.getChildText("n")).toBe("0");
    expect(q.results[0].attrs.from).toBe(PUBSUB);
    expect(q.results[0].getChild("result", NS_MAM)!.attrs.queryid).toBe("h1");
    expect(rsmOf(q)).toEqual({ first: "item-0", last: "item-6", count: 7, complete: true });
  });

  it("pages with RSM, flips pages and filters by publisher (with) and ids", async () => {
    const p1 = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", rsm: { max: 3 } }));
    expect(p1.ids).toEqual(all.slice(0, 3));
    expect(rsmOf(p1).complete).toBe(false);
    const p2 = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", rsm: { max: 3, after: "item-2" } }));
    expect(p2.ids).toEqual(all.slice(3, 6));
    const last = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", rsm: { max: 3, before: "" }, flip: true }));
    expect(last.ids).toEqual(["item-6", "item-5", "item-4"]);
    const mine = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", fields: { with: "romeo@localhost" } }));
    expect(mine.ids).toEqual(["item-0", "item-3", "item-6"]);
    const some = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", fields: { ids: ["item-5", "item-1"], "after-id": "item-0" } }));
    expect(some.ids).toEqual(["item-1", "item-5"]);
  });

  it("follows the node's access model and answers errors", async () => {
    const closed = await mamQuery(romeo, queryIq({ to: PUBSUB, node: "secret" }));
    expect(closed.results).toEqual([]);
    expect(errorOf(closed.iq).condition).toBe("not-allowed");
    const owner = await mamQuery(admin, queryIq({ to: PUBSUB, node: "secret" }));
    expect(owner.ids).toEqual(["s1"]);
    expect(errorOf((await mamQuery(romeo, queryIq({ to: PUBSUB, node: "nope" }))).iq).condition).toBe("item-not-found");
    expect(errorOf((await mamQuery(romeo, queryIq({ to: PUBSUB }))).iq).condition).toBe("bad-request");
    expect(errorOf((await mamQuery(romeo, queryIq({ to: PUBSUB, node: "history", rsm: { after: "gone" } }))).iq).condition).toBe("item-not-found");
  });

  it("is advertised on the service and on each node", async () => {
    const info = expectResult(await romeo.iq(`<iq type='get' id='di' to='${PUBSUB}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`));
    const features = (q: typeof info) => q.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features(info)).toContain(NS_MAM);
    const node = expectResult(await romeo.iq(`<iq type='get' id='dn' to='${PUBSUB}'><query xmlns='http://jabber.org/protocol/disco#info' node='history'/></iq>`));
    expect(features(node)).toContain(NS_MAM);
    const form = expectResult(await romeo.iq(`<iq type='get' id='qf' to='${PUBSUB}'><query xmlns='${NS_MAM}' node='history'/></iq>`));
    expect(form.getChild("query", NS_MAM)!.getChild("x", "jabber:x:data")).toBeDefined();
  });
});
