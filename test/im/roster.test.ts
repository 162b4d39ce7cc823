// Rosters (RFC 6121 §2, XEP-0237) against a real server: get, set, remove, pushes, versions,
// errors, the query API for other modules, and persistence across a restart.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { errorCondition } from "../helpers/errors.js";
import type { Element } from "../../src/xml/stanza.js";

const NS = "jabber:iq:roster";
const CONFIG = `
modules_enabled = { "roster"; "ping" }
c2s_require_encryption = true
storage = "memory"
VirtualHost "localhost"
`;

let ts: TestServer;
let n = 0;

/** A fresh account; returns its username. */
async function account(prefix: string): Promise<string> {
  const u = `${prefix}${++n}`;
  await ts.addUser(u, "pw");
  return u;
}

function login(user: string, resource?: string, t: TestServer = ts): Promise<RawClient> {
  return t.login(user, "pw", { resource });
}

async function rosterGet(c: RawClient, ver?: string): Promise<Element> {
  const verAttr = ver === undefined ? "" : ` ver='${ver}'`;
  return c.iq(`<iq type='get' id='g${++n}'><query xmlns='${NS}'${verAttr}/></iq>`);
}

async function rosterSet(c: RawClient, item: string): Promise<Element> {
  return c.iq(`<iq type='set' id='s${++n}'><query xmlns='${NS}'>${item}</query></iq>`);
}

function items(result: Element): Element[] {
  return result.getChild("query", NS)?.childElements("item") ?? [];
}

/** Everything the client sent so far has been handled (its stanzas are processed in order). */
function sync(c: RawClient): Promise<void> {
  return c.sync();
}

/** The next stanza must be a roster push; answer it and return its query. */
async function push(c: RawClient): Promise<Element> {
  const el = await c.next();
  expect(el.name).toBe("iq");
  expect(el.attrs.type).toBe("set");
  expect(el.attrs.from === undefined || el.attrs.from === c.jid.split("/")[0]).toBe(true);
  c.send(`<iq type='result' id='${el.attrs.id}'/>`);
  return el.getChild("query", NS)!;
}

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
});
afterAll(() => ts?.stop());

describe("roster get, set, remove (RFC 6121 §2)", () => {
  it("offers roster versioning and pre-approval once authenticated", async () => {
    const u = await account("feat");
    const c = await ts.connect();
    const before = await c.stream();
    expect(before.getChild("ver", "urn:xmpp:features:rosterver")).toBeUndefined();
    expect((await c.auth("SCRAM-SHA-1", u, "pw")).name).toBe("success");
    const f = await c.stream();
    expect(f.getChild("ver", "urn:xmpp:features:rosterver")).toBeDefined();
    expect(f.getChild("sub", "urn:xmpp:features:pre-approval")).toBeDefined();
    expect(f.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")).toBeDefined();
    c.close();
  });

  it("returns an empty roster with a version", async () => {
    const c = await login(await account("empty"));
    const r = await rosterGet(c);
    expect(r.attrs.type).toBe("result");
    const q = r.getChild("query", NS)!;
    expect(q.attrs.ver).toBe("1");
    expect(q.childElements()).toHaveLength(0);
    c.close();
  });

  it("adds an item with name and groups: result, then a push to every interested resource", async () => {
    const u = await account("add");
    const a = await login(u, "a");
    const b = await login(u, "b");
    const quiet = await login(u, "quiet"); // never asks for the roster: not interested (§2.1.6)
    await rosterGet(a);
    await rosterGet(b);
    const r = await rosterSet(a, "<item jid='Nurse@Localhost' name='Nurse'><group>Servants</group><group>Family</group></item>");
    expect(r.attrs).toMatchObject({ type: "result" });
    for (const c of [a, b]) {
      const q = await push(c);
      expect(q.attrs.ver).toBe("1");
      const [item] = q.childElements("item");
      expect(item.attrs).toEqual({ jid: "nurse@localhost", name: "Nurse", subscription: "none" });
      expect(item.childElements("group").map((g) => g.getText())).toEqual(["Servants", "Family"]);
    }
    await quiet.nothing(300);
    const got = items(await rosterGet(a));
    expect(got).toHaveLength(1);
    expect(got[0].attrs).toEqual({ jid: "nurse@localhost", name: "Nurse", subscription: "none" });
    for (const c of [a, b, quiet]) c.close();
  });

  it("updates an item: new name and groups replace the old ones", async () => {
    const c = await login(await account("upd"));
    await rosterGet(c);
    await rosterSet(c, "<item jid='nurse@localhost' name='Nurse'><group>A</group></item>");
    await push(c);
    await rosterSet(c, "<item jid='nurse@localhost' name='Angelica'><group>B</group></item>");
    const q = await push(c);
    expect(q.attrs.ver).toBe("2");
    const [item] = q.childElements("item");
    expect(item.attrs.name).toBe("Angelica");
    expect(item.childElements("group").map((g) => g.getText())).toEqual(["B"]);
    // Dropping the name and all groups.
    await rosterSet(c, "<item jid='nurse@localhost'/>");
    const q2 = await push(c);
    expect(q2.childElements("item")[0].attrs).toEqual({ jid: "nurse@localhost", subscription: "none" });
    expect(q2.childElements("item")[0].childElements()).toHaveLength(0);
    c.close();
  });

  it("removes an item: result, a push with subscription='remove', item-not-found the second time", async () => {
    const c = await login(await account("rm"));
    await rosterGet(c);
    await rosterSet(c, "<item jid='nurse@localhost'/>");
    await push(c);
    const r = await rosterSet(c, "<item jid='nurse@localhost' subscription='remove'/>");
    expect(r.attrs.type).toBe("result");
    const q = await push(c);
    expect(q.childElements("item")[0].attrs).toEqual({ jid: "nurse@localhost", subscription: "remove" });
    expect(items(await rosterGet(c))).toHaveLength(0);
    const again = await rosterSet(c, "<item jid='nurse@localhost' subscription='remove'/>");
    expect(again.attrs.type).toBe("error");
    expect(errorCondition(again)).toBe("item-not-found");
    c.close();
  });
});

describe("roster versioning (XEP-0237, RFC 6121 §2.6)", () => {
  it("answers an empty result while the version is current, the full roster otherwise", async () => {
    const c = await login(await account("ver"));
    await rosterGet(c);
    await rosterSet(c, "<item jid='a@localhost'/>");
    await push(c);
    await rosterSet(c, "<item jid='b@localhost'/>");
    const q = await push(c);
    expect(q.attrs.ver).toBe("2");
    const current = await rosterGet(c, "2");
    expect(current.attrs.type).toBe("result");
    expect(current.childElements()).toHaveLength(0);
    const stale = await rosterGet(c, "1");
    expect(stale.getChild("query", NS)!.attrs.ver).toBe("2");
    expect(items(stale).map((i) => i.attrs.jid)).toEqual(["a@localhost", "b@localhost"]);
    const garbage = await rosterGet(c, "not-a-version");
    expect(items(garbage)).toHaveLength(2);
    // "1" is both a fresh roster and the first change: always answered in full.
    const c2 = await login(await account("ver"));
    await rosterGet(c2);
    await rosterSet(c2, "<item jid='x@localhost'/>");
    await push(c2);
    expect(items(await rosterGet(c2, "1"))).toHaveLength(1);
    c.close();
    c2.close();
  });
});

describe("bad roster requests (RFC 6121 §2.3.3)", () => {
  it("refuses bad sets with the right errors and leaves the roster untouched", async () => {
    const u = await account("bad");
    const other = await account("other");
    const c = await login(u);
    await rosterGet(c);
    await rosterSet(c, "<item jid='keep@localhost' name='Keep'/>");
    await push(c);
    const cases: Array<[string, string]> = [
      ["<item jid='a@localhost'/><item jid='b@localhost'/>", "bad-request"],
      ["", "bad-request"],
      ["<item jid='a@localhost'><group>G</group><group>G</group></item>", "bad-request"],
      ["<item jid='a@localhost'><group></group></item>", "not-acceptable"],
      [`<item jid='a@localhost' name='${"x".repeat(2000)}'/>`, "not-acceptable"],
      ["<item jid='a@b@localhost'/>", "jid-malformed"],
      ["<item jid='a@localhost/res'/>", "bad-request"],
      [`<item jid='${u}@localhost'/>`, "not-allowed"],
      ["<item name='no jid'/>", "bad-request"],
    ];
    for (const [item, condition] of cases) {
      const r = await rosterSet(c, item);
      expect(r.attrs.type, item).toBe("error");
      expect(errorCondition(r), item).toBe(condition);
    }
    // Someone else's roster: forbidden, to read as well as to write.
    const foreignSet = await c.iq(`<iq type='set' id='fs' to='${other}@localhost'><query xmlns='${NS}'><item jid='a@localhost'/></query></iq>`);
    expect(errorCondition(foreignSet)).toBe("forbidden");
    const foreignGet = await c.iq(`<iq type='get' id='fg' to='${other}@localhost'><query xmlns='${NS}'/></iq>`);
    expect(errorCondition(foreignGet)).toBe("forbidden");
    // An explicit `to` of one's own bare JID is fine.
    const own = await c.iq(`<iq type='get' id='og' to='${u}@localhost'><query xmlns='${NS}'/></iq>`);
    expect(own.attrs.type).toBe("result");
    await c.nothing(200); // no pushes for any of that
    const r = await rosterGet(c);
    expect(r.getChild("query", NS)!.attrs.ver).toBe("1");
    expect(items(r).map((i) => i.attrs)).toEqual([{ jid: "keep@localhost", name: "Keep", subscription: "none" }]);
    const o = await login(other);
    expect(items(await rosterGet(o))).toHaveLength(0);
    c.close();
    o.close();
  });

  it("limits the roster size (roster_max_items), for roster sets and for subscription stanzas", async () => {
    const t = await startTestServer({ transport: "memory", config: `modules_enabled = { "roster" }\nstorage = "memory"\nroster_max_items = 2\nVirtualHost "localhost"\n` });
    try {
      await t.addUser("hoarder", "pw");
      const c = await login("hoarder", undefined, t);
      expect((await rosterSet(c, "<item jid='a@localhost'/>")).attrs.type).toBe("result");
      c.send("<presence type='subscribed' to='b@localhost'/>"); // a pre-approval: an item too
      const full = await rosterSet(c, "<item jid='c@localhost'/>");
      expect(errorCondition(full)).toBe("not-allowed");
      c.send("<presence type='subscribe' to='d@localhost'/>");
      const err = await c.next();
      expect(err.attrs).toMatchObject({ type: "error", from: "d@localhost" });
      expect(errorCondition(err)).toBe("not-allowed");
      // Existing items can still change.
      expect((await rosterSet(c, "<item jid='a@localhost' name='A'/>")).attrs.type).toBe("result");
      expect(items(await rosterGet(c)).map((i) => i.attrs.jid)).toEqual(["a@localhost", "b@localhost"]);
      c.close();
    } finally {
      await t.stop();
    }
  });

  it("shares one roster store per server between mod_roster and mod_presence, across a module reload, and not between servers", async () => {
    // A second server in this process serving the same host name keeps its own rosters.
    const t = await startTestServer({ transport: "memory", config: CONFIG });
    try {
      const u = await account("twin");
      await t.addUser(u, "pw");
      const here = await login(u);
      const there = await login(u, undefined, t);
      await rosterGet(here);
      await rosterGet(there);
      expect((await rosterSet(here, "<item jid='a@localhost'/>")).attrs.type).toBe("result");
      await push(here);
      expect(items(await rosterGet(there))).toEqual([]);

      // mod_roster unloaded: mod_presence still stores subscriptions in the shared manager (and
      // pushes them through its own API); reloaded, mod_roster sees them.
      const host = t.server.hosts.get("localhost")!;
      await t.server.modules.unload(host, "roster");
      there.send("<presence type='subscribe' to='b@localhost'/>");
      const q = await push(there);
      expect(q.getChild("item")!.attrs).toMatchObject({ jid: "b@localhost", subscription: "none", ask: "subscribe" });
      await t.server.modules.load(host, "roster");
      expect(items(await rosterGet(there)).map((i) => i.attrs.jid)).toEqual(["b@localhost"]);
      there.close();

      // The first server is untouched by the second one's changes.
      expect(items(await rosterGet(here)).map((i) => i.attrs.jid)).toEqual(["a@localhost"]);
      here.close();
    } finally {
      await t.stop();
    }
  });

  it("ignores subscription, ask and approved values a client tries to set (§2.1.2)", async () => {
    const c = await login(await account("sneaky"));
    await rosterGet(c);
    await rosterSet(c, "<item jid='a@localhost' subscription='both' ask='subscribe' approved='true'/>");
    const q = await push(c);
    expect(q.childElements("item")[0].attrs).toEqual({ jid: "a@localhost", subscription: "none" });
    c.close();
  });
});

describe("query API for other modules", () => {
  it("the roster service answers contact() and items(), and roster-item-changed is fired", async () => {
    const u = await account("api");
    const bus = ts.server.hosts.get("localhost")!.bus;
    const seen: unknown[] = [];
    const off = bus.on("roster-item-changed", (ev) => {
      if ((ev as { username: string }).username === u) seen.push(ev);
      return undefined;
    });
    const c = await login(u);
    await rosterSet(c, "<item jid='friend@localhost' name='F'><group>G</group></item>");
    await rosterSet(c, "<item jid='friend@localhost' subscription='remove'/>");
    await rosterSet(c, "<item jid='friend@localhost' name='F2'/>");
    const roster = ts.server.modules.service("localhost", "roster")!;
    expect(await roster.contact(u, "Friend@localhost/phone")).toEqual({ jid: "friend@localhost", name: "F2", subscription: "none", groups: [] });
    expect(await roster.contact(u, "nobody@localhost")).toBeNull();
    expect(await roster.contact(u, "not a jid@@")).toBeNull();
    expect(await roster.items(u)).toEqual([{ jid: "friend@localhost", name: "F2", subscription: "none", groups: [] }]);
    expect(await roster.items("nosuchuser")).toEqual([]);
    expect(seen).toEqual([
      { username: u, jid: "friend@localhost", item: { jid: "friend@localhost", name: "F", subscription: "none", groups: ["G"] }, previous: null },
      { username: u, jid: "friend@localhost", item: null, previous: { jid: "friend@localhost", name: "F", subscription: "none", groups: ["G"] } },
      { username: u, jid: "friend@localhost", item: { jid: "friend@localhost", name: "F2", subscription: "none", groups: [] }, previous: null },
    ]);
    off();
    c.close();
  });
});

describe("persistence (LevelDB)", () => {
  it("keeps items, subscriptions, versions and pending requests across a restart", async () => {
    let t = await startTestServer({ transport: "memory", config: `modules_enabled = { "roster" }\nVirtualHost "localhost"\n` });
    try {
      const accounts = t.server.accounts("localhost");
      for (const u of ["romeo", "juliet", "nurse"]) await accounts.create(u, "pw");
      const romeo = await login("romeo", "r", t);
      const juliet = await login("juliet", "j", t);
      await rosterSet(romeo, "<item jid='juliet@localhost' name='Juliet'><group>Capulets</group></item>");
      // A mutual subscription...
      romeo.send("<presence to='juliet@localhost' type='subscribe'/>");
      await sync(romeo);
      juliet.send("<presence to='romeo@localhost' type='subscribed'/>");
      juliet.send("<presence to='romeo@localhost' type='subscribe'/>");
      await sync(juliet);
      romeo.send("<presence to='juliet@localhost' type='subscribed'/>");
      await sync(romeo);
      // ...and a request the nurse made that nobody answered.
      const nurse = await login("nurse", "n", t);
      nurse.send("<presence to='romeo@localhost' type='subscribe'><status>It is the nurse</status></presence>");
      await sync(nurse);
      const before = await rosterGet(romeo);
      const ver = before.getChild("query", NS)!.attrs.ver;
      for (const c of [romeo, juliet, nurse]) c.close();

      t = await t.restart();
      const r2 = await login("romeo", "r", t);
      const after = await rosterGet(r2);
      expect(after.getChild("query", NS)!.attrs.ver).toBe(ver);
      expect(items(after).map((i) => i.toString())).toEqual(items(before).map((i) => i.toString()));
      const [item] = items(after);
      expect(item.attrs).toEqual({ jid: "juliet@localhost", name: "Juliet", subscription: "both" });
      expect(item.getChildText("group")).toBe("Capulets");
      expect((await rosterGet(r2, ver)).childElements()).toHaveLength(0); // still current
      // The pending request comes at the next initial presence, whole (after the answer to the
      // probe sent to Juliet, who is offline).
      r2.send("<presence/>");
      const echo = await r2.next();
      expect(echo.attrs.from).toBe(r2.jid);
      const probeAnswer = await r2.next();
      expect(probeAnswer.attrs).toMatchObject({ type: "unavailable", from: "juliet@localhost" });
      const req = await r2.next();
      expect(req.attrs).toMatchObject({ type: "subscribe", from: "nurse@localhost" });
      expect(req.getChildText("status")).toBe("It is the nurse");
      const j2 = await login("juliet", "j", t);
      expect(items(await rosterGet(j2))[0].attrs).toEqual({ jid: "romeo@localhost", subscription: "both" });
      r2.close();
      j2.close();
    } finally {
      await t.stop();
    }
  });
});
