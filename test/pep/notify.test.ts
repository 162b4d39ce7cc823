// Presence-based delivery (XEP-0163 §4.3): Entity Capabilities tell the account's service which
// nodes an entity wants ("+notify"); the service asks an unknown hash once (id 'disco', before the
// presence echo, as Prosody and its scripts do), verifies the answer, and sends notifications and
// last items to own resources and to contacts the access model lets in.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import {
  CAPS_NODE,
  answerQuery,
  MOOD,
  NS,
  NS_DISCO_INFO,
  NS_EVENT,
  NS_OWNER,
  TUNE,
  capsPresence,
  drain,
  errorOf,
  expectResult,
  itemsOf,
  login,
  nextId,
  notifications,
  online,
  publish,
  publishBody,
  pubsub,
  settle,
  startPepServer,
  subscribe,
  sync,
  tune,
  verOf,
} from "./helpers.js";

let ts: TestServer;
const clients: RawClient[] = [];

async function client(user: string, resource: string): Promise<RawClient> {
  const c = await login(ts, user, resource);
  clients.push(c);
  return c;
}

const USERS = ["ann", "bea", "cid", "dan", "eve", "fay", "gus", "hal", "ida", "jon", "kim", "lea", "max", "nia", "oz"];

beforeAll(async () => {
  ts = await startPepServer(USERS);
  await subscribe(ts, "bea", "cid");
  await subscribe(ts, "dan", "eve");
  await subscribe(ts, "fay", "gus", true); // fay -> gus only: fay sees gus
  await subscribe(ts, "hal", "ida");
  await subscribe(ts, "jon", "kim");
  await subscribe(ts, "nia", "oz");
});
afterAll(() => ts?.stop());

describe("caps query (XEP-0115 §6.3, XEP-0163 §4.3.2)", () => {
  it("asks an unknown hash with id 'disco' from the bare JID, before the presence echo", async () => {
    const c = await client("ann", "one");
    const ver = verOf(["urn:test:ann+notify"]);
    c.send(capsPresence(ver));
    const first = await c.next();
    expect(first.name).toBe("iq");
    expect(first.attrs).toMatchObject({ type: "get", id: "disco", from: "ann@localhost", to: c.jid });
    expect(first.getChild("query", NS_DISCO_INFO)!.attrs).toEqual({ xmlns: NS_DISCO_INFO, node: `${CAPS_NODE}#${ver}` });
    const second = await c.next();
    expect(second.name).toBe("presence");
    expect(second.attrs.from).toBe(c.jid);
    answerQuery(c, first, ["urn:test:ann+notify"]);
    await sync(c);
  });

  it("a presence without caps, or with caps already known, is not asked about", async () => {
    const c = await client("ann", "two");
    c.send("<presence/>");
    const echo = await c.next();
    expect(echo.attrs.from).toBe(c.jid);
    // Then only the presence of the account's other resource (RFC 6121 §4.2.2).
    expect((await drain(c)).map((e) => `${e.name} ${e.attrs.from}`)).toEqual(["presence ann@localhost/one"]);
    const again = await client("ann", "five");
    await online(again, ["urn:test:ann+notify"], { expectQuery: false });
    again.close();
  });
});

describe("own resources", () => {
  it("get the last item once their caps say +notify (on_sub_and_presence)", async () => {
    const c = await client("ann", "three");
    expectResult(await publish(c, TUNE, "current", tune("Before")));
    const { query } = await online(c, [`${TUNE}+notify`], { expectQuery: true });
    expect(query).toBeDefined();
    const msg = (await drain(c)).find((e) => e.name === "message")!;
    expect(msg.attrs).toMatchObject({ type: "headline", from: "ann@localhost", to: c.jid });
    expect(itemsOf(msg).attrs.node).toBe(TUNE);
    expect(itemsOf(msg).getChild("item")!.attrs).toEqual({ id: "current" });
  });

  it("get their own notification before the publish result", async () => {
    const c = clients.find((x) => x.jid === "ann@localhost/three")!;
    const id = nextId();
    c.send(`<iq type='set' id='${id}'><pubsub xmlns='${NS}'>${publishBody(TUNE, "now", tune("Now"))}</pubsub></iq>`);
    const first = await c.next();
    expect(first.name).toBe("message");
    expect(itemsOf(first).getChild("item")!.getChild("tune", TUNE)!.getChildText("title")).toBe("Now");
    const second = await c.next();
    expect(second.attrs).toMatchObject({ type: "result", id });
  });

  it("a second resource with the same caps is not asked again and gets the last item at once", async () => {
    const c = await client("ann", "four");
    const { query, before } = await online(c, [`${TUNE}+notify`], { expectQuery: false });
    expect(query).toBeUndefined();
    expect(notifications(before)).toEqual([`ann@localhost ${TUNE}/now`]);
  });

  it("a resource without +notify for the node gets nothing", async () => {
    const c = clients.find((x) => x.jid === "ann@localhost/two")!;
    await drain(c);
    expectResult(await publish(clients.find((x) => x.jid === "ann@localhost/four")!, TUNE, "later", tune("Later")));
    expect(notifications(await drain(c))).toEqual([]);
  });
});

describe("contacts", () => {
  it("a contact subscribed to the owner's presence gets the last item and then notifications", async () => {
    const bea = await client("bea", "home");
    expectResult(await publish(bea, TUNE, "t1", tune("One")));
    expectResult(await publish(bea, MOOD, "m1", `<mood xmlns='${MOOD}'><happy/></mood>`, { "pubsub#access_model": "whitelist" }));
    await online(bea, []);
    const cid = await client("cid", "phone");
    const features = [`${TUNE}+notify`, `${MOOD}+notify`, "urn:test:cid"];
    await online(cid, features, { expectQuery: true });
    // bea's service asked cid (cid's presence reached bea) and sent the tune, not the whitelisted mood.
    const got = notifications(await settle(cid, features));
    expect(got.filter((n) => n.startsWith("bea@localhost"))).toContain(`bea@localhost ${TUNE}/t1`);
    expect(got.some((n) => n.includes(MOOD))).toBe(false);
    await drain(bea);
    bea.send(`<iq type='set' id='p-t2'><pubsub xmlns='${NS}'>${publishBody(TUNE, "t2", tune("Two"))}</pubsub></iq>`);
    expectResult(await bea.iq(`<iq type='get' id='${nextId()}'><ping xmlns='urn:xmpp:ping'/></iq>`));
    const later = notifications(await drain(cid));
    expect(later).toContain(`bea@localhost ${TUNE}/t2`);
    expect(new Set(later).size).toBe(later.length);
    // The whitelisted node stays with its owner.
    expectResult(await publish(bea, MOOD, "m2", `<mood xmlns='${MOOD}'><sad/></mood>`));
    expect(notifications(await drain(cid))).toEqual([]);
  });

  it("the notification carries the item and no publisher (pubsub#itemreply none)", async () => {
    const bea = clients.find((x) => x.jid === "bea@localhost/home")!;
    const cid = clients.find((x) => x.jid === "cid@localhost/phone")!;
    expectResult(await publish(bea, TUNE, "t3", tune("Three")));
    const msg = (await drain(cid)).find((e) => e.name === "message")!;
    expect(msg.attrs.type).toBe("headline");
    const item = msg.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!;
    expect(item.attrs).toEqual({ id: "t3" });
    expect(item.getChild("tune", TUNE)!.getChildText("title")).toBe("Three");
  });

  it("a contact without +notify gets nothing; retractions reach those with it", async () => {
    const dan = await client("dan", "desk");
    expectResult(await publish(dan, TUNE, "d1", tune("Dan")));
    const eve = await client("eve", "laptop");
    await online(eve, ["urn:test:eve-no-notify"]);
    expect(notifications(await settle(eve, ["urn:test:eve-no-notify"]))).toEqual([]);
    expectResult(await publish(dan, TUNE, "d2", tune("Dan 2")));
    expect(notifications(await drain(eve))).toEqual([]);
    // With +notify now (a new caps hash), the last item comes, then the retraction.
    await online(eve, [`${TUNE}+notify`, "urn:test:eve"]);
    expect(notifications(await settle(eve, [`${TUNE}+notify`, "urn:test:eve"]))).toContain(`dan@localhost ${TUNE}/d2`);
    expectResult(await pubsub(dan, "set", `<retract node='${TUNE}' notify='1'><item id='d2'/></retract>`));
    expect(notifications(await drain(eve))).toEqual([`dan@localhost ${TUNE}/retract:d2`]);
  });

  it("only a contact subscribed to the owner's presence (from/both) gets the owner's items", async () => {
    // fay is subscribed to gus (gus has fay as "from"), not gus to fay.
    const fay = await client("fay", "a");
    const gus = await client("gus", "a");
    expectResult(await publish(fay, TUNE, "f1", tune("Fay")));
    expectResult(await publish(gus, TUNE, "g1", tune("Gus")));
    const features = [`${TUNE}+notify`, "urn:test:fay-gus"];
    await online(gus, features);
    // gus's caps are cached now: fay is not asked, and gets gus's item on its own presence.
    const { before } = await online(fay, features, { expectQuery: false });
    const toFay = notifications([...before, ...(await settle(fay, features))]);
    const toGus = notifications(await settle(gus, features));
    expect(toFay).toContain(`gus@localhost ${TUNE}/g1`);
    expect(toGus.filter((n) => n.startsWith("fay@"))).toEqual([]);
    expectResult(await publish(fay, TUNE, "f2", tune("Fay 2")));
    expect(notifications(await drain(gus)).filter((n) => n.startsWith("fay@"))).toEqual([]);
  });

  it("a stranger advertising +notify gets nothing, even with directed presence", async () => {
    const hal = await client("hal", "a");
    expectResult(await publish(hal, TUNE, "h1", tune("Hal")));
    const max = await client("max", "a");
    const features = [`${TUNE}+notify`, "urn:test:max"];
    await online(max, features);
    await settle(max, features);
    max.send(capsPresence(verOf(features)).replace("<presence>", "<presence to='hal@localhost'>"));
    await sync(max);
    expectResult(await publish(hal, TUNE, "h2", tune("Hal 2")));
    expect(notifications(await drain(max))).toEqual([]);
    const items = await pubsub(max, "get", `<items node='${TUNE}'/>`, { to: "hal@localhost" });
    expect(errorOf(items).app).toBe("presence-subscription-required");
  });

  it("an unavailable resource is forgotten; it gets the last item again when it comes back", async () => {
    const ida = await client("ida", "a");
    const hal = clients.find((x) => x.jid === "hal@localhost/a")!;
    const features = [`${TUNE}+notify`, "urn:test:ida"];
    await online(ida, features);
    expect(notifications(await settle(ida, features))).toContain(`hal@localhost ${TUNE}/h2`);
    ida.send("<presence type='unavailable'/>");
    await sync(ida);
    await drain(ida);
    expectResult(await publish(hal, TUNE, "h3", tune("Hal 3")));
    expect(notifications(await drain(ida))).toEqual([]);
    // Once, before or after the presence echo (by the account's or the resource's registration).
    const { before } = await online(ida, features, { expectQuery: false });
    expect(notifications([...before, ...(await settle(ida, features))]).filter((n) => n.startsWith("hal@"))).toEqual([`hal@localhost ${TUNE}/h3`]);
  });

  it("when the account's last resource leaves, a later resource without caps inherits nothing", async () => {
    const oz = await client("oz", "a");
    expectResult(await publish(oz, TUNE, "o1", tune("Oz")));
    const nia = await client("nia", "a");
    const features = [`${TUNE}+notify`, "urn:test:nia"];
    await online(nia, features);
    expect(notifications(await settle(nia, features))).toContain(`oz@localhost ${TUNE}/o1`);
    nia.send("<presence type='unavailable'/>");
    await sync(nia);
    nia.close();
    await nia.waitClosed();
    const plain = await client("nia", "b");
    plain.send("<presence/>");
    await drain(plain);
    expectResult(await publish(oz, TUNE, "o2", tune("Oz 2")));
    expect(notifications(await drain(plain))).toEqual([]);
  });

  it("an explicit XEP-0060 subscription works on PEP nodes too", async () => {
    const jon = await client("jon", "a");
    const kim = await client("kim", "a");
    expectResult(await publish(jon, "urn:test:status", "s1", "<status xmlns='urn:test:status'>hi</status>"));
    const sub = expectResult(await pubsub(kim, "set", `<subscribe node='urn:test:status' jid='${kim.jid}'/>`, { to: "jon@localhost" }));
    expect(sub.getChild("pubsub", NS)!.getChild("subscription")!.attrs).toMatchObject({ subscription: "subscribed", jid: kim.jid });
    expect(notifications(await drain(kim))).toEqual([`jon@localhost urn:test:status/s1`]);
    expectResult(await publish(jon, "urn:test:status", "s2", "<status xmlns='urn:test:status'>there</status>"));
    expect(notifications(await drain(kim))).toEqual([`jon@localhost urn:test:status/s2`]);
  });

  it("the account sets a subscriber's state (XEP-0060 §8.8.2): pending and unconfigured get nothing, subscribed does", async () => {
    const lea = await client("lea", "a");
    const max = await client("max", "a");
    const node = "urn:test:owned";
    const states = (stanzas: Element[]) =>
      stanzas.flatMap((el) => {
        const s = el.getChild("event", NS_EVENT)?.getChild("subscription");
        return s ? [`${el.attrs.from} ${s.attrs.node} ${s.attrs.subscription}`] : [];
      });
    const setState = async (state: string) =>
      expectResult(await pubsub(lea, "set", `<subscriptions node='${node}'><subscription jid='${max.jid}' subscription='${state}'/></subscriptions>`, { ns: NS_OWNER }));
    expectResult(await publish(lea, node, "o1", "<o xmlns='urn:test:owned'/>"));
    await setState("pending");
    let got = await drain(max);
    expect([states(got), notifications(got)]).toEqual([[`lea@localhost ${node} pending`], []]);
    expectResult(await publish(lea, node, "o2", "<o xmlns='urn:test:owned'/>"));
    expect(notifications(await drain(max))).toEqual([]);
    await setState("subscribed");
    got = await drain(max);
    expect([states(got), notifications(got)]).toEqual([[`lea@localhost ${node} subscribed`], [`lea@localhost ${node}/o2`]]);
    await setState("unconfigured");
    got = await drain(max);
    expect([states(got), notifications(got)]).toEqual([[`lea@localhost ${node} unconfigured`], []]);
    expectResult(await publish(lea, node, "o3", "<o xmlns='urn:test:owned'/>"));
    expect(notifications(await drain(max))).toEqual([]);
    await setState("subscribed");
    expectResult(await publish(lea, node, "o4", "<o xmlns='urn:test:owned'/>"));
    expect(notifications(await drain(max))).toEqual([`lea@localhost ${node}/o3`, `lea@localhost ${node}/o4`]);
  });

  it("send_last_published_item never: no last item on presence", async () => {
    const jon = clients.find((x) => x.jid === "jon@localhost/a")!;
    expectResult(await publish(jon, "urn:test:quiet", "q1", "<q xmlns='urn:test:quiet'/>", { "pubsub#send_last_published_item": "never" }));
    const kim2 = await client("kim", "b");
    const features = ["urn:test:quiet+notify", "urn:test:kim"];
    await online(kim2, features);
    expect(notifications(await settle(kim2, features))).toEqual([]);
    expectResult(await publish(jon, "urn:test:quiet", "q2", "<q xmlns='urn:test:quiet'/>"));
    expect(notifications(await drain(kim2))).toEqual([`jon@localhost urn:test:quiet/q2`]);
  });
});

describe("caps verification (XEP-0115 §5.4)", () => {
  it("an answer that does not hash to the claimed ver does not poison the cache", async () => {
    const lea = await client("lea", "liar");
    const claimed = verOf(["urn:test:honest", `${TUNE}+notify`]);
    // Claims a ver, answers with other features (no +notify).
    await online(lea, ["urn:test:something-else"], { ver: claimed, answer: ["urn:test:something-else"], expectQuery: true });
    await settle(lea, ["urn:test:something-else"]);
    expectResult(await publish(lea, TUNE, "l1", tune("Lea")));
    expect(notifications(await drain(lea))).toEqual([]);
    // An honest client with that ver is asked again, and its answer counts.
    const honest = await client("lea", "honest");
    await online(honest, ["urn:test:honest", `${TUNE}+notify`], { expectQuery: true });
    expect(notifications(await settle(honest, ["urn:test:honest", `${TUNE}+notify`]))).toEqual([`lea@localhost ${TUNE}/l1`]);
    // Now cached: a third resource is not asked.
    const third = await client("lea", "third");
    const { before } = await online(third, ["urn:test:honest", `${TUNE}+notify`], { expectQuery: false });
    expect(notifications(before)).toEqual([`lea@localhost ${TUNE}/l1`]);
  });

  it("an answer nobody asked for changes nothing", async () => {
    const lea = clients.find((x) => x.jid === "lea@localhost/liar")!;
    lea.send(`<iq type='result' id='disco' to='lea@localhost'><query xmlns='${NS_DISCO_INFO}' node='${CAPS_NODE}#x'><feature var='${TUNE}+notify'/></query></iq>`);
    await sync(lea);
    expectResult(await publish(lea, TUNE, "l2", tune("Lea 2")));
    expect(notifications(await drain(lea))).toEqual([]);
  });
});
