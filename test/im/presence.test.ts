// Presence and subscriptions (RFC 6121 §3–§4) against a real server, stanza by stanza. The
// sequences follow what Prosody sends in its scansion scripts (issue1121, presence_preapproval,
// keep_full_sub_req, pep_publish_subscribe), since Herald runs those too.

import "../../modules/lib/im/presence.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { waitUntil } from "../helpers/wait.js";
import type { Element } from "../../src/xml/stanza.js";

const NS = "jabber:iq:roster";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const CONFIG = `
modules_enabled = { "roster"; "ping" }
c2s_require_encryption = true
storage = "memory"
VirtualHost "localhost"
`;

let ts: TestServer;
let n = 0;

async function account(prefix: string): Promise<string> {
  const u = `${prefix}${++n}`;
  await ts.addUser(u, "pw");
  return u;
}

function login(user: string, resource?: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

const bare = (c: RawClient) => c.jid.split("/")[0];

function sync(c: RawClient): Promise<void> {
  return c.sync();
}


/** Read everything until the line is quiet. */
function drain(c: RawClient, quietMs = 250): Promise<Element[]> {
  return c.drain(quietMs);
}

/** The next stanza is a presence with these attributes (`type: undefined`: available). */
async function presence(c: RawClient, attrs: Record<string, string | undefined>): Promise<Element> {
  const el = await c.next();
  expect(el.name, el.toString()).toBe("presence");
  for (const [k, v] of Object.entries(attrs)) expect(el.attrs[k], `${k} of ${el}`).toBe(v);
  return el;
}

/** The next stanza is a roster push; returns [ver, item attributes]. */
async function push(c: RawClient): Promise<[string, Record<string, string>]> {
  const el = await c.next();
  expect(el.name, el.toString()).toBe("iq");
  expect(el.attrs.type).toBe("set");
  const q = el.getChild("query", NS)!;
  c.send(`<iq type='result' id='${el.attrs.id}'/>`);
  return [q.attrs.ver, q.childElements("item")[0].attrs];
}

function delayOf(el: Element): Element | undefined {
  return el.getChild("delay", "urn:xmpp:delay");
}

async function online(c: RawClient, inner = ""): Promise<void> {
  c.send(`<presence>${inner}</presence>`);
  await presence(c, { from: c.jid, type: undefined });
}

async function rosterItems(c: RawClient): Promise<Array<Record<string, string>>> {
  const r = await c.iq(`<iq type='get' id='r${++n}'><query xmlns='${NS}'/></iq>`);
  return r.getChild("query", NS)!.childElements("item").map((i) => i.attrs);
}

/** Make a and b subscribed both ways (and read everything that produced). */
async function befriend(a: RawClient, b: RawClient): Promise<void> {
  a.send(`<presence type='subscribe' to='${bare(b)}'/>`);
  await sync(a);
  b.send(`<presence type='subscribed' to='${bare(a)}'/>`);
  b.send(`<presence type='subscribe' to='${bare(a)}'/>`);
  await sync(b);
  a.send(`<presence type='subscribed' to='${bare(b)}'/>`);
  await sync(a);
  await Promise.all([drain(a), drain(b)]);
}

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
});
afterAll(() => ts?.stop());

describe("available presence (RFC 6121 §4.2, §4.4)", () => {
  it("keeps each session's presence across a reload of mod_presence (it lives on the session), and messages still reach it", async () => {
    const u = await account("reload");
    const c = await login(u, "desk");
    await online(c, "<priority>3</priority>");
    const host = ts.server.hosts.get("localhost")!;
    await ts.server.modules.unload(host, "presence");
    expect(ts.server.modules.service("localhost", "presence")).toBeUndefined();
    await ts.server.modules.load(host, "presence");
    const service = ts.server.modules.service("localhost", "presence")!;
    expect(service.priority(host.session(u, "desk")!)).toBe(3);
    // Delivery to the bare JID asks the presence service: the session is still the available one.
    const other = await login(await account("sender"));
    other.send(`<message type='chat' to='${u}@localhost' id='m1'><body>still there?</body></message>`);
    const got = await c.next();
    expect(got.name, got.toString()).toBe("message");
    expect(got.getChildText("body")).toBe("still there?");
    c.close();
    other.close();
  });

  it("echoes presence to the sender, keeps it and its priority on the session", async () => {
    const u = await account("echo");
    const c = await login(u, "desk");
    const service = ts.server.modules.service("localhost", "presence")!;
    expect(service.available(u)).toEqual([]);
    c.send("<presence><show>away</show><priority>5</priority></presence>");
    const echo = await presence(c, { from: c.jid, type: undefined });
    expect(echo.getChildText("show")).toBe("away");
    expect(service.available(u).map((r) => [r.jid, r.priority, r.presence.getChildText("show")])).toEqual([[c.jid, 5, "away"]]);
    c.send("<presence><priority>-1</priority></presence>");
    await presence(c, { from: c.jid });
    const session = ts.server.hosts.get("localhost")!.session(u, "desk")!;
    expect(service.priority(session)).toBe(-1);
    expect(service.current(session)?.attrs.from).toBe(c.jid);
    expect(service.availableSessions(u)).toEqual([session]);
    c.send("<presence type='unavailable'/>");
    await presence(c, { from: c.jid, type: "unavailable" });
    expect(service.current(session)).toBeUndefined();
    expect(service.priority(session)).toBeUndefined();
    expect(service.availableSessions(u)).toEqual([]);
    expect(service.available(u)).toEqual([]);
    c.close();
  });

  it("fires presence-available (initial, then not) and presence-unavailable", async () => {
    const u = await account("events");
    const bus = ts.server.hosts.get("localhost")!.bus;
    const seen: string[] = [];
    const offA = bus.on("presence-available", (ev) => {
      const e = ev as { session: { username: string }; initial: boolean; stanza: Element };
      if (e.session.username === u) seen.push(`available initial=${e.initial} ${e.stanza.getChildText("status") ?? ""}`);
      return undefined;
    });
    const offU = bus.on("presence-unavailable", (ev) => {
      const e = ev as { session: { username: string } };
      if (e.session.username === u) seen.push("unavailable");
      return undefined;
    });
    const c = await login(u);
    await online(c, "<status>one</status>");
    await online(c, "<status>two</status>");
    await sync(c);
    c.socket.destroy();
    await waitUntil(() => seen.length === 3);
    expect(seen).toEqual(["available initial=true one", "available initial=false two", "unavailable"]);
    offA();
    offU();
  });

  it("shows each resource the others (§4.2.2)", async () => {
    const u = await account("multi");
    const a = await login(u, "a");
    await online(a, "<status>A</status>");
    const b = await login(u, "b");
    b.send("<presence><status>B</status></presence>");
    await presence(b, { from: b.jid });
    const fromA = await presence(b, { from: a.jid, to: b.jid });
    expect(fromA.getChildText("status")).toBe("A");
    expect(delayOf(fromA)?.attrs.from).toBe("localhost");
    const fromB = await presence(a, { from: b.jid, to: a.jid });
    expect(fromB.getChildText("status")).toBe("B");
    b.send("<presence type='unavailable'/>");
    await presence(b, { from: b.jid, type: "unavailable" });
    await presence(a, { from: b.jid, type: "unavailable" });
    a.close();
    b.close();
  });
});

describe("subscriptions (RFC 6121 §3)", () => {
  it("goes from none to both, with the pushes, versions and presence Prosody sends", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r);
    const juliet = await login(j);
    await online(romeo);
    await online(juliet);
    expect(await rosterItems(romeo)).toEqual([]);
    expect(await rosterItems(juliet)).toEqual([]);

    romeo.send(`<presence type='subscribe' to='${j}@localhost'><status>It is I, Romeo</status></presence>`);
    expect(await push(romeo)).toEqual(["1", { jid: `${j}@localhost`, subscription: "none", ask: "subscribe" }]);
    await presence(romeo, { from: `${j}@localhost`, to: `${r}@localhost`, type: "unavailable" }); // Prosody's acknowledgement
    const req = await presence(juliet, { from: `${r}@localhost`, to: `${j}@localhost`, type: "subscribe" });
    expect(req.getChildText("status")).toBe("It is I, Romeo");

    juliet.send(`<presence type='subscribed' to='${r}@localhost'/>`);
    expect(await push(juliet)).toEqual(["2", { jid: `${r}@localhost`, subscription: "from" }]);
    await presence(romeo, { from: `${j}@localhost`, to: `${r}@localhost`, type: "subscribed" });
    expect(await push(romeo)).toEqual(["2", { jid: `${j}@localhost`, subscription: "to" }]);
    const jp = await presence(romeo, { from: juliet.jid, to: `${r}@localhost`, type: undefined });
    expect(delayOf(jp)?.attrs).toMatchObject({ from: "localhost" });

    juliet.send(`<presence type='subscribe' to='${r}@localhost'/>`);
    expect(await push(juliet)).toEqual(["3", { jid: `${r}@localhost`, subscription: "from", ask: "subscribe" }]);
    await presence(juliet, { from: `${r}@localhost`, to: `${j}@localhost`, type: "unavailable" });
    await presence(romeo, { from: `${j}@localhost`, to: `${r}@localhost`, type: "subscribe" });

    romeo.send(`<presence type='subscribed' to='${j}@localhost'/>`);
    expect(await push(romeo)).toEqual(["4", { jid: `${j}@localhost`, subscription: "both" }]);
    await presence(juliet, { from: `${r}@localhost`, to: `${j}@localhost`, type: "subscribed" });
    expect(await push(juliet)).toEqual(["4", { jid: `${r}@localhost`, subscription: "both" }]);
    const rp = await presence(juliet, { from: romeo.jid, to: `${j}@localhost`, type: undefined });
    expect(delayOf(rp)).toBeDefined();
    // Romeo's server probes Juliet once the subscription is mutual.
    await presence(romeo, { from: juliet.jid, to: `${r}@localhost`, type: undefined });

    // Presence now flows both ways.
    romeo.send("<presence><show>dnd</show></presence>");
    await presence(romeo, { from: romeo.jid });
    const update = await presence(juliet, { from: romeo.jid, to: `${j}@localhost`, type: undefined });
    expect(update.getChildText("show")).toBe("dnd");
    expect(delayOf(update)).toBeUndefined();
    romeo.send("<presence type='unavailable'><status>bye</status></presence>");
    await presence(romeo, { from: romeo.jid, type: "unavailable" });
    const gone = await presence(juliet, { from: romeo.jid, type: "unavailable" });
    expect(gone.getChildText("status")).toBe("bye");
    await romeo.nothing(200);
    await juliet.nothing(200);
    romeo.close();
    juliet.close();
  });

  it("pre-approval (§3.4): the request is approved without asking, the flag goes away", async () => {
    const [a, b] = [await account("alice"), await account("bob")];
    const alice = await login(a);
    await online(alice);
    expect(await rosterItems(alice)).toEqual([]);
    alice.send(`<presence type='subscribed' to='${b}@localhost'/>`);
    expect(await push(alice)).toEqual(["1", { jid: `${b}@localhost`, subscription: "none", approved: "true" }]);

    const bob = await login(b);
    expect(await rosterItems(bob)).toEqual([]);
    await online(bob);
    bob.send(`<presence type='subscribe' to='${a}@localhost'/>`);
    expect(await push(bob)).toEqual(["1", { jid: `${a}@localhost`, subscription: "none", ask: "subscribe" }]);
    await presence(bob, { from: `${a}@localhost`, type: "subscribed" });
    expect(await push(bob)).toEqual(["2", { jid: `${a}@localhost`, subscription: "to" }]);
    await presence(bob, { from: alice.jid, type: undefined });
    // Alice was never asked: her roster just shows the subscription.
    expect(await push(alice)).toEqual(["2", { jid: `${b}@localhost`, subscription: "from" }]);
    await alice.nothing(200);
    expect(await rosterItems(alice)).toEqual([{ jid: `${b}@localhost`, subscription: "from" }]);
    alice.close();
    bob.close();
  });

  it("a withdrawn pre-approval is not routed, and the next request waits for an answer", async () => {
    const [c, d] = [await account("carol"), await account("dave")];
    const carol = await login(c);
    const dave = await login(d);
    await online(carol);
    await online(dave);
    await rosterItems(carol);
    carol.send(`<presence type='subscribed' to='${d}@localhost'/>`);
    await push(carol);
    carol.send(`<presence type='unsubscribed' to='${d}@localhost'/>`);
    expect(await push(carol)).toEqual(["2", { jid: `${d}@localhost`, subscription: "none" }]);
    await dave.nothing(200); // neither stanza reached Dave
    dave.send(`<presence type='subscribe' to='${c}@localhost'/>`);
    await presence(carol, { from: `${d}@localhost`, type: "subscribe" });
    carol.close();
    dave.close();
  });

  it("keeps a request for an offline user, whole, until it is answered (§3.1.3)", async () => {
    const [a, b] = [await account("pars-a"), await account("pars-b")];
    const alice = await login(a);
    alice.send(
      `<presence to='${b}@localhost' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='1tMFqYDdKhfe2pwp'/><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></presence>`,
    );
    await sync(alice);
    alice.close();

    for (const resource of ["laptop", "phone"]) {
      const bob = await login(b, resource);
      await bob.nothing(200); // nothing before the initial presence
      bob.send("<presence/>");
      await presence(bob, { from: bob.jid });
      const req = await presence(bob, { from: `${a}@localhost`, type: "subscribe" });
      expect(req.getChild("preauth", "urn:xmpp:pars:0")?.attrs.token).toBe("1tMFqYDdKhfe2pwp");
      expect(req.getChildText("nick", "http://jabber.org/protocol/nick")).toBe("Alice");
      await bob.nothing(200);
      bob.close();
      await waitUntil(() => ts.server.hosts.get("localhost")!.sessionsOf(b).length === 0);
    }
    // Answered: no longer redelivered.
    const bob = await login(b, "desk");
    await online(bob);
    await presence(bob, { from: `${a}@localhost`, type: "subscribe" });
    bob.send(`<presence type='subscribed' to='${a}@localhost'/>`);
    await sync(bob);
    bob.close();
    await waitUntil(() => ts.server.hosts.get("localhost")!.sessionsOf(b).length === 0);
    const bob2 = await login(b, "tablet");
    await online(bob2);
    await bob2.nothing(300);
    expect(await rosterItems(bob2)).toEqual([{ jid: `${a}@localhost`, subscription: "from" }]);
    bob2.close();
  });

  it("answers a request to an account that does not exist with unsubscribed", async () => {
    const u = await account("lonely");
    const c = await login(u);
    await online(c);
    await rosterItems(c);
    c.send("<presence type='subscribe' to='nobody-here@localhost'/>");
    expect(await push(c)).toEqual(["1", { jid: "nobody-here@localhost", subscription: "none", ask: "subscribe" }]);
    await presence(c, { from: "nobody-here@localhost", type: "unsubscribed" });
    expect(await push(c)).toEqual(["2", { jid: "nobody-here@localhost", subscription: "none" }]);
    c.close();
  });

  it("removing a contact cancels both subscriptions (§2.5.2), with directed unavailable (Prosody issue 1121)", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r);
    const juliet = await login(j);
    await online(romeo);
    await online(juliet);
    await rosterItems(romeo);
    await rosterItems(juliet);
    await befriend(romeo, juliet);
    const res = await juliet.iq(`<iq type='set' id='rm1'><query xmlns='${NS}'><item jid='${r}@localhost' subscription='remove'/></query></iq>`);
    expect(res.attrs.type).toBe("result");
    expect((await push(juliet))[1]).toEqual({ jid: `${r}@localhost`, subscription: "remove" });
    await presence(juliet, { from: romeo.jid, type: "unavailable" }); // Romeo's server: Juliet no longer sees him
    await presence(romeo, { from: juliet.jid, to: `${r}@localhost`, type: "unavailable" });
    await presence(romeo, { from: `${j}@localhost`, type: "unsubscribed" });
    expect((await push(romeo))[1]).toEqual({ jid: `${j}@localhost`, subscription: "from" });
    await presence(romeo, { from: `${j}@localhost`, type: "unsubscribe" });
    expect((await push(romeo))[1]).toEqual({ jid: `${j}@localhost`, subscription: "none" });
    await romeo.nothing(200);
    await juliet.nothing(200);
    expect(await rosterItems(juliet)).toEqual([]);
    // Presence no longer flows.
    romeo.send("<presence><show>xa</show></presence>");
    await presence(romeo, { from: romeo.jid });
    await juliet.nothing(200);
    romeo.close();
    juliet.close();
  });

  it("unsubscribe and unsubscribed from a client update both rosters", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r);
    const juliet = await login(j);
    await online(romeo);
    await online(juliet);
    await befriend(romeo, juliet);
    const roster = ts.server.modules.service("localhost", "roster")!;
    const sub = async (user: string, contact: string) => (await roster.contact(user, `${contact}@localhost`))?.subscription;
    romeo.send(`<presence type='unsubscribe' to='${j}@localhost'/>`);
    // Juliet's server (§3.3.3): Romeo no longer sees her.
    await presence(romeo, { from: juliet.jid, type: "unavailable" });
    await sync(romeo);
    expect([await sub(r, j), await sub(j, r)]).toEqual(["from", "to"]);
    // Juliet cancels a subscription Romeo already dropped: nothing changes, nothing is routed.
    juliet.send(`<presence type='unsubscribed' to='${r}@localhost'/>`);
    await sync(juliet);
    await romeo.nothing(200);
    juliet.send(`<presence type='unsubscribe' to='${r}@localhost'/>`);
    await presence(juliet, { from: romeo.jid, type: "unavailable" });
    await sync(juliet);
    expect([await sub(r, j), await sub(j, r)]).toEqual(["none", "none"]);
    await romeo.nothing(200);
    await juliet.nothing(200);
    romeo.close();
    juliet.close();
  });
});

describe("probes (RFC 6121 §4.3)", () => {
  it("gives a user logging in the presence of contacts already online, and them its own", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r);
    let juliet = await login(j, "first");
    await befriend(romeo, juliet);
    juliet.close();
    await waitUntil(() => ts.server.hosts.get("localhost")!.sessionsOf(j).length === 0);
    await online(romeo, "<status>under the balcony</status>");
    // Juliet is offline: the probe is answered with a plain unavailable from her bare JID.
    const offline = await presence(romeo, { from: `${j}@localhost`, to: romeo.jid, type: "unavailable" });
    expect(offline.childElements()).toHaveLength(0);
    await romeo.nothing(200);

    juliet = await login(j, "balcony");
    juliet.send("<presence/>");
    await presence(juliet, { from: juliet.jid });
    const rp = await presence(juliet, { from: romeo.jid, to: juliet.jid, type: undefined });
    expect(rp.getChildText("status")).toBe("under the balcony");
    expect(delayOf(rp)?.attrs.from).toBe("localhost");
    await presence(romeo, { from: juliet.jid, to: `${r}@localhost`, type: undefined });

    // A contact that is offline: the probe gets the last unavailable presence, with its status.
    juliet.send("<presence type='unavailable'><status>asleep</status></presence>");
    await presence(juliet, { type: "unavailable" });
    await presence(romeo, { from: juliet.jid, type: "unavailable" });
    juliet.close();
    const romeo2 = await login(r, "second");
    romeo2.send("<presence/>");
    await presence(romeo2, { from: romeo2.jid });
    const last = await presence(romeo2, { from: `${j}@localhost`, to: romeo2.jid, type: "unavailable" });
    expect(last.getChildText("status")).toBe("asleep");
    expect(delayOf(last)).toBeDefined();
    await presence(romeo2, { from: romeo.jid, to: romeo2.jid }); // and his other resource
    romeo.close();
    romeo2.close();
  });

  it("does not reveal presence to those who are not subscribed", async () => {
    const [r, s] = [await account("romeo"), await account("stranger")];
    const romeo = await login(r);
    await online(romeo);
    const stranger = await login(s);
    await online(stranger);
    stranger.send(`<presence type='probe' to='${r}@localhost'/>`);
    await sync(stranger);
    await stranger.nothing(300);
    romeo.close();
    stranger.close();
  });
});

describe("directed presence (RFC 6121 §4.6)", () => {
  it("is delivered, and followed by unavailable when the sender goes offline", async () => {
    const [r, m] = [await account("romeo"), await account("mercutio")];
    const mercutio = await login(m, "x");
    await online(mercutio);
    const romeo = await login(r);
    romeo.send(`<presence to='${m}@localhost/x'><status>psst</status></presence>`);
    const d = await presence(mercutio, { from: romeo.jid, to: `${m}@localhost/x`, type: undefined });
    expect(d.getChildText("status")).toBe("psst");
    romeo.send(`<presence to='${m}@localhost'/>`); // to the bare JID: every available resource
    await presence(mercutio, { from: romeo.jid, to: `${m}@localhost` });
    // Romeo never broadcast presence, but his unavailable reaches Mercutio (both addresses).
    romeo.send("<presence type='unavailable'/>");
    const u1 = await presence(mercutio, { from: romeo.jid, type: "unavailable" });
    const u2 = await presence(mercutio, { from: romeo.jid, type: "unavailable" });
    expect([u1.attrs.to, u2.attrs.to].sort()).toEqual([`${m}@localhost`, `${m}@localhost/x`]);
    await romeo.nothing(200);
    await mercutio.nothing(200);
    romeo.close();
    mercutio.close();
  });

  it("reaches its target with unavailable when the connection drops, unless already withdrawn", async () => {
    const [r, m, b] = [await account("romeo"), await account("mercutio"), await account("benvolio")];
    const mercutio = await login(m);
    await online(mercutio);
    const benvolio = await login(b);
    await online(benvolio);
    const romeo = await login(r);
    await online(romeo);
    romeo.send(`<presence to='${m}@localhost'/>`);
    romeo.send(`<presence to='${b}@localhost'/>`);
    romeo.send(`<presence to='${b}@localhost' type='unavailable'/>`);
    await presence(mercutio, { from: romeo.jid, type: undefined });
    await presence(benvolio, { from: romeo.jid, type: undefined });
    await presence(benvolio, { from: romeo.jid, type: "unavailable" });
    romeo.socket.destroy();
    await presence(mercutio, { from: romeo.jid, type: "unavailable" });
    await benvolio.nothing(300);
    mercutio.close();
    benvolio.close();
  });
});

describe("directed presence limit (max_directed_presences, RFC 6121 §4.6.3)", () => {
  it("refuses directed presence to a new JID beyond the limit with policy-violation; updates and freed slots go through", async () => {
    const t = await startTestServer({ transport: "memory", config: CONFIG.replace('storage = "memory"', 'storage = "memory"\nmax_directed_presences = 2') });
    try {
      const accounts = t.server.accounts("localhost");
      for (const u of ["romeo", "m1", "m2", "m3"]) await accounts.create(u, "pw");
      const loginT = (u: string) => t.login(u, "pw", { resource: "r" });
      const [m1, m2, m3] = [await loginT("m1"), await loginT("m2"), await loginT("m3")];
      for (const c of [m1, m2, m3]) await online(c);
      const romeo = await loginT("romeo");
      romeo.send("<presence to='m1@localhost/r'/>");
      romeo.send("<presence to='m2@localhost/r'/>");
      await presence(m1, { from: romeo.jid, type: undefined });
      await presence(m2, { from: romeo.jid, type: undefined });

      // A third JID: refused, not delivered.
      romeo.send("<presence id='third' to='m3@localhost/r'/>");
      const err = await presence(romeo, { type: "error", id: "third", from: "m3@localhost/r" });
      const e = err.getChild("error")!;
      expect(e.attrs.type).toBe("modify");
      expect(e.getChild("policy-violation", STANZAS)).toBeDefined();
      await m3.nothing(200);

      // An update to a JID already tracked still goes out.
      romeo.send("<presence to='m1@localhost/r'><status>again</status></presence>");
      expect((await presence(m1, { from: romeo.jid, type: undefined })).getChildText("status")).toBe("again");
      await romeo.nothing(100);

      // Directed unavailable frees a slot.
      romeo.send("<presence type='unavailable' to='m1@localhost/r'/>");
      await presence(m1, { from: romeo.jid, type: "unavailable" });
      romeo.send("<presence to='m3@localhost/r'/>");
      await presence(m3, { from: romeo.jid, type: undefined });
      await romeo.nothing(100);

      // Going away: unavailable to the JIDs still tracked only.
      romeo.socket.destroy();
      await presence(m2, { from: romeo.jid, type: "unavailable" });
      await presence(m3, { from: romeo.jid, type: "unavailable" });
      await m1.nothing(200);
    } finally {
      await t.stop();
    }
  });
});

describe("the presence service's available()", () => {
  it("gives each available resource's show, and its stored presence itself (not a copy)", async () => {
    const u = await account("show");
    const a = await login(u, "a");
    const b = await login(u, "b");
    await online(a, "<show>dnd</show><priority>3</priority>");
    await drain(a);
    await online(b);
    await drain(a);
    await drain(b);
    const host = ts.server.hosts.get("localhost")!;
    const service = ts.server.modules.service("localhost", "presence")!;
    const byJid = new Map(service.available(u).map((r) => [r.jid, r]));
    expect(byJid.get(a.jid)).toMatchObject({ priority: 3, show: "dnd" });
    expect(byJid.get(b.jid)).toMatchObject({ priority: 0, show: "online" });
    expect(byJid.get(a.jid)!.presence).toBe(service.current(host.session(u, "a")!));
    expect(byJid.get(b.jid)!.presence).toBe(service.current(host.session(u, "b")!));
    a.close();
    b.close();
  });
});

describe("unavailable when a session ends (RFC 6121 §4.5)", () => {
  it("broadcasts unavailable to contacts and other resources when the connection drops", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r, "phone");
    const juliet = await login(j);
    await befriend(romeo, juliet);
    await online(juliet);
    await online(romeo);
    await drain(juliet);
    const other = await login(r, "laptop");
    await online(other);
    await drain(other);
    await drain(romeo);
    await drain(juliet);
    romeo.socket.destroy(); // no closing tag: a dropped connection
    await presence(juliet, { from: `${r}@localhost/phone`, to: `${j}@localhost`, type: "unavailable" });
    const seenByOther = (await drain(other)).filter((e) => e.name === "presence" && e.attrs.from === `${r}@localhost/phone`);
    expect(seenByOther.map((e) => e.attrs.type)).toEqual(["unavailable"]);
    expect(
      ts.server.modules
        .service("localhost", "presence")!
        .available(r)
        .map((x) => x.jid),
    ).toEqual([`${r}@localhost/laptop`]);
    juliet.close();
    other.close();
  });
});

describe("presence errors (RFC 6121 §4.4.2)", () => {
  it("are delivered, and the session stops sending presence to whoever returned one", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r, "a");
    const juliet = await login(j);
    await befriend(romeo, juliet);
    await online(juliet);
    await online(romeo);
    await Promise.all([drain(romeo), drain(juliet)]);
    juliet.send(`<presence type='error' to='${romeo.jid}'><error type='cancel'><service-unavailable xmlns='${STANZAS}'/></error></presence>`);
    const err = await presence(romeo, { type: "error", from: juliet.jid });
    expect(err.getChild("error")!.getChild("service-unavailable", STANZAS)).toBeDefined();
    romeo.send("<presence><show>away</show></presence>");
    await presence(romeo, { from: romeo.jid });
    await juliet.nothing(300);
    // Another session of Romeo's still reaches her.
    const other = await login(r, "b");
    await online(other);
    await presence(juliet, { from: other.jid, type: undefined });
    for (const c of [romeo, juliet, other]) c.close();
  });
});

describe("account deletion", () => {
  it("tells the contacts: unavailable, then both subscriptions cancelled", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const romeo = await login(r);
    const juliet = await login(j);
    await befriend(romeo, juliet);
    await online(romeo);
    await online(juliet);
    await Promise.all([drain(romeo), drain(juliet)]);
    await ts.server.accounts("localhost").delete(j);
    await presence(romeo, { from: juliet.jid, type: "unavailable" });
    const roster = ts.server.modules.service("localhost", "roster")!;
    expect(await roster.contact(r, `${j}@localhost`)).toEqual({ jid: `${j}@localhost`, subscription: "none", groups: [] });
    expect(await roster.items(j)).toEqual([]);
    romeo.close();
  });
});

describe("bad input", () => {
  it("a subscription request to oneself changes nothing and is answered subscribed", async () => {
    const u = await account("narcissus");
    const c = await login(u);
    await online(c);
    await rosterItems(c);
    c.send(`<presence type='subscribe' to='${u}@localhost'/>`);
    await presence(c, { type: "subscribed", from: `${u}@localhost` });
    c.send(`<presence type='unsubscribe' to='${u}@localhost/other'/>`);
    c.send("<presence type='unsubscribed'/>");
    c.send(`<presence type='subscribed' to='${u}@localhost'/>`);
    await sync(c);
    await c.nothing(200); // no pushes, nothing else
    expect(await rosterItems(c)).toEqual([]);
    c.close();
  });

  it("a presence of an unknown type is a bad request and goes nowhere", async () => {
    const [r, j] = [await account("romeo"), await account("juliet")];
    const juliet = await login(j);
    await online(juliet);
    const romeo = await login(r);
    for (const p of [`<presence type='bogus' to='${j}@localhost'/>`, "<presence type='available'/>", `<presence type='' to='${j}@localhost'/>`]) {
      romeo.send(p);
      const err = await presence(romeo, { type: "error" });
      expect(err.getChild("error")!.getChild("bad-request", STANZAS)).toBeDefined();
    }
    await juliet.nothing(200);
    await online(romeo); // the session is fine
    romeo.close();
    juliet.close();
  });

  it("a subscription request to an unreachable domain bounces back to the sender", async () => {
    const u = await account("far");
    const c = await login(u);
    await online(c);
    c.send("<presence type='subscribe' to='someone@unreachable.example'/>");
    const err = await presence(c, { type: "error", from: "someone@unreachable.example" });
    expect(err.getChild("error")!.getChild("remote-server-not-found", STANZAS)).toBeDefined();
    expect(await rosterItems(c)).toEqual([{ jid: "someone@unreachable.example", subscription: "none", ask: "subscribe" }]);
    c.close();
  });

  it("a flood of presence from one session: contacts get the latest, nobody else is disturbed", async () => {
    const [r, j, m] = [await account("romeo"), await account("juliet"), await account("mercutio")];
    const romeo = await login(r, "flood");
    const juliet = await login(j);
    await befriend(romeo, juliet);
    await online(juliet);
    const calm = await login(r, "calm");
    await online(calm, "<status>calm</status>");
    const mercutio = await login(m);
    await online(mercutio);
    await online(romeo, "<status>start</status>");
    await Promise.all([drain(juliet), drain(calm), drain(romeo)]);

    const COUNT = 500;
    let burst = "";
    for (let i = 0; i < COUNT; i++) burst += `<presence><status>${i}</status></presence>`;
    romeo.write(burst);

    // Another user's session answers promptly meanwhile.
    const t0 = Date.now();
    await sync(mercutio);
    expect(Date.now() - t0).toBeLessThan(2000);

    // The sender sees every echo, in order.
    for (let i = 0; i < COUNT; i++) {
      const e = await romeo.next();
      expect(e.getChildText("status")).toBe(String(i));
    }
    // The contact and the other resource get far fewer, ending with the latest.
    const collect = async (c: RawClient) => {
      const got: string[] = [];
      while (got[got.length - 1] !== String(COUNT - 1)) {
        const e = await c.next(5000);
        if (e.name === "presence" && e.attrs.from === romeo.jid) got.push(e.getChildText("status") ?? "");
      }
      return got;
    };
    const [toJuliet, toCalm] = await Promise.all([collect(juliet), collect(calm)]);
    expect(toJuliet.length).toBeLessThan(60);
    expect(toCalm.length).toBeLessThan(60);
    // State intact: the server holds the latest presence, and the calm resource is untouched.
    const available = ts.server.modules.service("localhost", "presence")!.available(r);
    const byJid = new Map(available.map((x) => [x.jid, x.presence.getChildText("status")]));
    expect(byJid.get(romeo.jid)).toBe(String(COUNT - 1));
    expect(byJid.get(calm.jid)).toBe("calm");
    await mercutio.nothing(100);
    expect(await rosterItems(juliet)).toEqual([{ jid: `${r}@localhost`, subscription: "both" }]);
    for (const c of [romeo, juliet, calm, mercutio]) c.close();
  });
});
