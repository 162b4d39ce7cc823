// Per-account data services, end to end: XEP-0054 vcard-temp, XEP-0049 private XML storage and
// XEP-0012 last activity (lastactivity.scs and the access rules around it).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { errorCondition as condition } from "../helpers/errors.js";
import { Element } from "../../src/xml/stanza.js";
import type { SubscriptionEvent } from "../../modules/lib/roster/subscription.js";
import "../../modules/lib/roster/service.js";


const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "vcard"; "private"; "lastactivity"; "uptime" }
vcard_max_size = 1024
VirtualHost "localhost"
`;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
  for (const u of ["romeo", "juliet", "nurse", "tybalt", "lazy"]) await ts.addUser(u, "pw");
});
afterEach(() => ts?.closeClients());
afterAll(() => ts?.stop());

function login(user: string, resource?: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

const VCARD = "<vCard xmlns='vcard-temp'><FN>Romeo Montague</FN><NICKNAME>romeo</NICKNAME><EMAIL><USERID>romeo@example.com</USERID></EMAIL></vCard>";

describe("XEP-0054 vcard-temp", () => {
  it("has no vCard at first (item-not-found), stores one, and gives it back to the owner and to others", async () => {
    const romeo = await login("romeo");
    const none = await romeo.iq("<iq type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>");
    expect(none.getChild("error")!.attrs.type).toBe("cancel");
    expect(condition(none)).toBe("item-not-found");

    const set = await romeo.iq(`<iq type='set' id='v2'>${VCARD}</iq>`);
    expect(set.attrs).toMatchObject({ type: "result", id: "v2" });
    expect(set.children).toEqual([]);

    const own = await romeo.iq("<iq type='get' id='v3'><vCard xmlns='vcard-temp'/></iq>");
    expect(own.firstElement()!.toString()).toBe(VCARD);
    const ownByJid = await romeo.iq("<iq type='get' id='v3b' to='romeo@localhost'><vCard xmlns='vcard-temp'/></iq>");
    expect(ownByJid.firstElement()!.toString()).toBe(VCARD);

    const juliet = await login("juliet");
    const theirs = await juliet.iq("<iq type='get' id='v4' to='romeo@localhost'><vCard xmlns='vcard-temp'/></iq>");
    expect(theirs.attrs).toMatchObject({ type: "result", from: "romeo@localhost" });
    expect(theirs.firstElement()!.toString()).toBe(VCARD);
  });

  it("forbids setting another user's vCard and leaves it unchanged", async () => {
    const juliet = await login("juliet");
    const r = await juliet.iq("<iq type='set' id='v5' to='romeo@localhost'><vCard xmlns='vcard-temp'><FN>Hacked</FN></vCard></iq>");
    expect(r.getChild("error")!.attrs.type).toBe("auth");
    expect(condition(r)).toBe("forbidden");
    const check = await juliet.iq("<iq type='get' id='v6' to='romeo@localhost'><vCard xmlns='vcard-temp'/></iq>");
    expect(check.firstElement()!.toString()).toBe(VCARD);
  });

  it("refuses a vCard larger than vcard_max_size, keeping the previous one", async () => {
    const romeo = await login("romeo");
    const big = `<iq type='set' id='v7'><vCard xmlns='vcard-temp'><DESC>${"x".repeat(2000)}</DESC></vCard></iq>`;
    const r = await romeo.iq(big);
    expect(r.getChild("error")!.attrs.type).toBe("modify");
    expect(condition(r)).toBe("not-acceptable");
    const check = await romeo.iq("<iq type='get' id='v8'><vCard xmlns='vcard-temp'/></iq>");
    expect(check.firstElement()!.toString()).toBe(VCARD);
  });

  it("answers service-unavailable for an account that does not exist, and handles the server's own vCard", async () => {
    const romeo = await login("romeo");
    expect(condition(await romeo.iq("<iq type='get' id='v9' to='nobody@localhost'><vCard xmlns='vcard-temp'/></iq>"))).toBe("service-unavailable");
    expect(condition(await romeo.iq("<iq type='get' id='v10' to='localhost'><vCard xmlns='vcard-temp'/></iq>"))).toBe("item-not-found");
    expect(condition(await romeo.iq("<iq type='set' id='v11' to='localhost'><vCard xmlns='vcard-temp'><FN>Server</FN></vCard></iq>"))).toBe("forbidden");
  });

  it("advertises vcard-temp on the server and on accounts", async () => {
    const romeo = await login("romeo");
    const host = await romeo.iq("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    expect(host.firstElement()!.childElements("feature").map((f) => f.attrs.var)).toContain("vcard-temp");
    const account = await romeo.iq("<iq type='get' id='d2' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    expect(account.firstElement()!.childElements("feature").map((f) => f.attrs.var)).toContain("vcard-temp");
  });
});

describe("XEP-0049 private XML storage", () => {
  const PREFS = "<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>";

  it("stores a fragment and returns it; an unknown one comes back empty", async () => {
    const romeo = await login("romeo");
    const set = await romeo.iq(`<iq type='set' id='p1'><query xmlns='jabber:iq:private'>${PREFS}</query></iq>`);
    expect(set.attrs).toMatchObject({ type: "result", id: "p1" });
    const get = await romeo.iq("<iq type='get' id='p2'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    expect(get.firstElement()!.toString()).toBe(`<query xmlns='jabber:iq:private'>${PREFS}</query>`);
    const unknown = await romeo.iq("<iq type='get' id='p3'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
    expect(unknown.firstElement()!.toString()).toBe("<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>");
    // Keyed by element name and namespace: same namespace, other name is another fragment.
    const otherName = await romeo.iq("<iq type='get' id='p4'><query xmlns='jabber:iq:private'><other xmlns='exodus:prefs'/></query></iq>");
    expect(otherName.firstElement()!.toString()).toBe("<query xmlns='jabber:iq:private'><other xmlns='exodus:prefs'/></query>");
  });

  it("keeps each user's data to that user", async () => {
    const juliet = await login("juliet");
    const get = await juliet.iq("<iq type='get' id='p5'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    expect(get.firstElement()!.toString()).toBe("<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query>");
    for (const type of ["get", "set"]) {
      const r = await juliet.iq(`<iq type='${type}' id='p6${type}' to='romeo@localhost'><query xmlns='jabber:iq:private'>${PREFS}</query></iq>`);
      expect(condition(r)).toBe("forbidden");
    }
    const romeo = await login("romeo");
    const still = await romeo.iq("<iq type='get' id='p7'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>");
    expect(still.firstElement()!.toString()).toBe(`<query xmlns='jabber:iq:private'>${PREFS}</query>`);
  });

  it("refuses reserved jabber: namespaces and queries without a child (not-acceptable), several gets (bad-request)", async () => {
    const romeo = await login("romeo");
    const cases: Array<[string, string]> = [
      ["<iq type='set' id='r1'><query xmlns='jabber:iq:private'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></query></iq>", "not-acceptable"],
      ["<iq type='get' id='r2'><query xmlns='jabber:iq:private'><query xmlns='jabber:iq:roster'/></query></iq>", "not-acceptable"],
      ["<iq type='set' id='r3'><query xmlns='jabber:iq:private'><nons>data</nons></query></iq>", "not-acceptable"],
      ["<iq type='get' id='r4'><query xmlns='jabber:iq:private'/></iq>", "not-acceptable"],
      ["<iq type='set' id='r5'><query xmlns='jabber:iq:private'/></iq>", "not-acceptable"],
      ["<iq type='set' id='r6'><query xmlns='jabber:iq:private'><a xmlns='urn:ok'>1</a><b xmlns='jabber:x:oob'>2</b></query></iq>", "not-acceptable"],
      ["<iq type='get' id='r7'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/></query></iq>", "bad-request"],
    ];
    for (const [xml, want] of cases) expect(condition(await romeo.iq(xml)), xml).toBe(want);
    // Nothing of the refused set r6 was stored.
    const a = await romeo.iq("<iq type='get' id='r8'><query xmlns='jabber:iq:private'><a xmlns='urn:ok'/></query></iq>");
    expect(a.firstElement()!.toString()).toBe("<query xmlns='jabber:iq:private'><a xmlns='urn:ok'/></query>");
  });

  it("stores several fragments at once and deletes one by storing it empty", async () => {
    const romeo = await login("romeo");
    const set = await romeo.iq("<iq type='set' id='m1'><query xmlns='jabber:iq:private'><a xmlns='urn:a'>1</a><b xmlns='urn:b'><x/></b></query></iq>");
    expect(set.attrs.type).toBe("result");
    const get = async (name: string, ns: string) =>
      (await romeo.iq(`<iq type='get' id='g-${name}'><query xmlns='jabber:iq:private'><${name} xmlns='${ns}'/></query></iq>`)).firstElement()!.firstElement()!.toString();
    expect(await get("a", "urn:a")).toBe("<a xmlns='urn:a'>1</a>");
    expect(await get("b", "urn:b")).toBe("<b xmlns='urn:b'><x/></b>");
    await romeo.iq("<iq type='set' id='m2'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/></query></iq>");
    expect(await get("a", "urn:a")).toBe("<a xmlns='urn:a'/>");
    expect(await get("b", "urn:b")).toBe("<b xmlns='urn:b'><x/></b>");
  });
});

describe("XEP-0012 last activity", () => {
  /** Subscription changes in `user`'s roster (mod_roster runs here: mod_presence, loaded on every VirtualHost, depends on it). */
  const subscribe = async (user: string, contact: string, ...events: SubscriptionEvent[]) => {
    const roster = ts.server.modules.service("localhost", "roster")!;
    for (const e of events) {
      // An inbound request is pending (§3.1.3) with the stanza that made it.
      const request = e === "in-subscribe" ? new Element("presence", { type: "subscribe", from: contact, to: `${user}@localhost` }) : undefined;
      await roster.applySubscription(user, contact, e, { request });
    }
    return (await roster.contact(user, contact))?.subscription;
  };
  const last = (c: RawClient, id: string, to?: string) =>
    c.iq(`<iq type='get' id='${id}'${to ? ` to='${to}'` : ""}><query xmlns='jabber:iq:last'/></iq>`);

  it("remembers the status of the last unavailable presence (lastactivity.scs)", async () => {
    const romeo = await login("romeo");
    romeo.send("<presence><status>Hello</status></presence>");
    romeo.send("<presence type='unavailable'><status>Goodbye</status></presence>");
    const r = await last(romeo, "a");
    expect(r.attrs).toMatchObject({ type: "result", id: "a" });
    const q = r.getChild("query", "jabber:iq:last")!;
    expect(q.getText()).toBe("Goodbye");
    expect(Number(q.attrs.seconds)).toBeGreaterThanOrEqual(0);
    expect(Number(q.attrs.seconds)).toBeLessThan(5);
  });

  it("answers 0 seconds while the account has an available resource", async () => {
    const romeo = await login("romeo");
    romeo.send("<presence/>");
    const q = (await last(romeo, "b")).getChild("query", "jabber:iq:last")!;
    expect(q.toString()).toBe("<query xmlns='jabber:iq:last' seconds='0'/>");
  });

  it("counts the seconds since the stored logout", async () => {
    await ts.server.storage.keyval("localhost", "lastactivity").set("nurse", { t: Date.now() - 125_000, s: "At the market" });
    const nurse = await login("nurse");
    const q = (await last(nurse, "c")).getChild("query", "jabber:iq:last")!;
    expect(Number(q.attrs.seconds)).toBeGreaterThanOrEqual(125);
    expect(Number(q.attrs.seconds)).toBeLessThan(130);
    expect(q.getText()).toBe("At the market");
  });

  it("answers contacts with a from/both subscription and forbids everyone else", async () => {
    await ts.server.storage.keyval("localhost", "lastactivity").set("tybalt", { t: Date.now() - 60_000, s: "Fighting" });
    const juliet = await login("juliet");
    // No roster item is forbidden.
    const none = await last(juliet, "d1", "tybalt@localhost");
    expect(none.getChild("error")!.attrs.type).toBe("auth");
    expect(condition(none)).toBe("forbidden");
    expect(await subscribe("tybalt", "juliet@localhost", "out-subscribe", "in-subscribed")).toBe("to");
    expect(condition(await last(juliet, "d2", "tybalt@localhost"))).toBe("forbidden");
    expect(await subscribe("tybalt", "juliet@localhost", "in-unsubscribed")).toBe("none");
    expect(condition(await last(juliet, "d3", "tybalt@localhost"))).toBe("forbidden");
    const steps: Array<[string, SubscriptionEvent[]]> = [
      ["from", ["in-subscribe", "out-subscribed"]],
      ["both", ["out-subscribe", "in-subscribed"]],
    ];
    for (const [sub, events] of steps) {
      expect(await subscribe("tybalt", "juliet@localhost", ...events)).toBe(sub);
      const r = await last(juliet, `d4${sub}`, "tybalt@localhost");
      expect(r.attrs).toMatchObject({ type: "result", from: "tybalt@localhost" });
      expect(r.getChild("query", "jabber:iq:last")!.getText()).toBe("Fighting");
    }
    expect(condition(await last(juliet, "d5", "nobody@localhost"))).toBe("service-unavailable");
  });

  it("records a dropped connection of an available session", async () => {
    const lazy = await login("lazy");
    lazy.send("<presence><status>Here</status></presence>");
    const juliet = await login("juliet");
    expect(await subscribe("lazy", "juliet@localhost", "in-subscribe", "out-subscribed", "out-subscribe", "in-subscribed")).toBe("both");
    expect((await last(juliet, "e1", "lazy@localhost")).getChild("query", "jabber:iq:last")!.attrs.seconds).toBe("0");
    lazy.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const rec = (await ts.server.storage.keyval("localhost", "lastactivity").get("lazy")) as { t: number; s: string } | undefined;
    expect(rec?.s).toBe("");
    expect(Date.now() - rec!.t).toBeLessThan(5000);
    const q = (await last(juliet, "e2", "lazy@localhost")).getChild("query", "jabber:iq:last")!;
    expect(q.toString()).toMatch(/^<query xmlns='jabber:iq:last' seconds='\d'\/>$/);
  });

  it("leaves the server's uptime to mod_uptime", async () => {
    const juliet = await login("juliet");
    const q = (await last(juliet, "f", "localhost")).getChild("query", "jabber:iq:last")!;
    expect(Number(q.attrs.seconds)).toBeGreaterThanOrEqual(0);
    expect(q.getText()).toBe("");
  });
});
