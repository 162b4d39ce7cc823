// XEP-0313 queries on PEP nodes: `<query node='…'/>` to an account's bare JID is the node's item
// history, under PEP's rules of items retrieval; a query without a node is still the account's own
// message archive.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { errorOf, expectResult, login, NS_DISCO_INFO, NS_EVENT, nextMessage, publish, pubsub, startPepServer, subscribe } from "../pep/helpers.js";
import { forwardedOf, mamQuery, NS_MAM, queryIq, rsmOf } from "./helpers.js";

const LOG = "urn:example:log";
const ROMEO = "romeo@localhost";
let ts: TestServer;
let romeo: RawClient;
let juliet: RawClient;
let tybalt: RawClient;
const all = Array.from({ length: 5 }, (_, i) => `e${i}`);

const entry = (n: number) => `<entry xmlns='${LOG}'><n>${n}</n></entry>`;

beforeAll(async () => {
  ts = await startPepServer(["romeo", "juliet", "tybalt"], { modules: ["roster", "presence", "message", "disco", "ping", "pep", "mam"] });
  // juliet receives romeo's presence: the PEP default access model (presence) lets her read.
  await subscribe(ts, "juliet", "romeo", true);
  romeo = await login(ts, "romeo", "orchard");
  juliet = await login(ts, "juliet", "balcony");
  tybalt = await login(ts, "tybalt", "street");
  for (const [i, id] of all.entries()) expectResult(await publish(romeo, LOG, id, entry(i), { "pubsub#max_items": "10" }));
  expectResult(await publish(romeo, "urn:example:open", "o1", entry(100), { "pubsub#access_model": "open" }));
});
afterAll(() => ts?.stop());

describe("MAM on a PEP node", () => {
  it("gives the owner the node's items oldest first, each forwarded as its event notification", async () => {
    const q = await mamQuery(romeo, queryIq({ node: LOG, queryid: "own" }));
    expect(q.ids).toEqual(all);
    expect(rsmOf(q)).toEqual({ first: "e0", last: "e4", count: 5, complete: true });
    expect(q.results[0].attrs.from).toBe(ROMEO);
    expect(q.results[0].getChild("result", NS_MAM)!.attrs.queryid).toBe("own");
    const items = forwardedOf(q.results[2])!.getChild("event", NS_EVENT)!.getChild("items")!;
    expect(items.attrs.node).toBe(LOG);
    expect(items.getChild("item")!.attrs.id).toBe("e2");
    expect(items.getChild("item")!.getChild("entry", LOG)!.getChildText("n")).toBe("2");
    // Addressed to the own bare JID, the same.
    expect((await mamQuery(romeo, queryIq({ to: ROMEO, node: LOG }))).ids).toEqual(all);
  });

  it("pages with RSM and flip-page", async () => {
    const p1 = await mamQuery(juliet, queryIq({ to: ROMEO, node: LOG, rsm: { max: 2 } }));
    expect(p1.ids).toEqual(["e0", "e1"]);
    expect(rsmOf(p1).complete).toBe(false);
    const p2 = await mamQuery(juliet, queryIq({ to: ROMEO, node: LOG, rsm: { max: 2, after: "e1" } }));
    expect(p2.ids).toEqual(["e2", "e3"]);
    const last = await mamQuery(juliet, queryIq({ to: ROMEO, node: LOG, rsm: { max: 2, before: "" }, flip: true }));
    expect(last.ids).toEqual(["e4", "e3"]);
    const some = await mamQuery(juliet, queryIq({ to: ROMEO, node: LOG, fields: { ids: ["e3", "e1"] } }));
    expect(some.ids).toEqual(["e1", "e3"]);
  });

  it("lets in exactly whom items retrieval lets in", async () => {
    // tybalt has no presence subscription: items retrieval and the archive refuse him alike.
    const items = await pubsub(tybalt, "get", `<items node='${LOG}'/>`, { to: ROMEO });
    const refused = await mamQuery(tybalt, queryIq({ to: ROMEO, node: LOG }));
    expect(refused.results).toEqual([]);
    expect(errorOf(refused.iq)).toEqual(errorOf(items));
    expect(errorOf(refused.iq).condition).toBe("not-authorized");
    // An open node is open to him.
    expect((await mamQuery(tybalt, queryIq({ to: ROMEO, node: "urn:example:open" }))).ids).toEqual(["o1"]);
    expect(errorOf((await mamQuery(juliet, queryIq({ to: ROMEO, node: "urn:example:none" }))).iq).condition).toBe("item-not-found");
    expect(errorOf((await mamQuery(juliet, queryIq({ to: ROMEO, node: LOG, rsm: { after: "gone" } }))).iq).condition).toBe("item-not-found");
    expect(errorOf((await mamQuery(juliet, queryIq({ to: "nobody@localhost", node: LOG }))).iq).condition).toBe("service-unavailable");
  });

  it("leaves the account's own message archive to queries without a node", async () => {
    juliet.send(`<message to='${romeo.jid}' type='chat' id='m1'><body>Wherefore art thou</body></message>`);
    expect((await nextMessage(romeo)).getChildText("body")).toBe("Wherefore art thou");
    const own = await mamQuery(romeo, queryIq({}));
    expect(own.bodies).toEqual(["Wherefore art thou"]);
  });

  it("is advertised on the node, and the query form names the node", async () => {
    const info = expectResult(await juliet.iq(`<iq type='get' id='dn' to='${ROMEO}'><query xmlns='${NS_DISCO_INFO}' node='${LOG}'/></iq>`));
    const features = info.getChild("query", NS_DISCO_INFO)!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain(NS_MAM);
    const form = expectResult(await juliet.iq(`<iq type='get' id='qf' to='${ROMEO}'><query xmlns='${NS_MAM}' node='${LOG}'/></iq>`));
    expect(form.getChild("query", NS_MAM)!.attrs.node).toBe(LOG);
    expect(form.getChild("query", NS_MAM)!.getChild("x", "jabber:x:data")).toBeDefined();
  });
});
