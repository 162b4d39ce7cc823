// XEP-0313 message archive through real client streams (in memory): what is archived (and with which XEP-0359 stanza id),
// queries with the form, RSM paging and flip-page, the extended filters, preferences, offline
// messages and carbons, metadata, errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { goOnline, nextNonPresence, noMessage } from "../im/message-helpers.js";
import { forwardedOf, mamQuery, NS_MAM, NS_SID, queryIq, rsmOf, stanzaIds } from "./helpers.js";

const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "carbons"; "ping"; "mam" }
max_archive_query_results = 30
VirtualHost "localhost"
`;

let ts: TestServer;
const USERS = ["romeo", "juliet", "nurse", "friar", "pager", "prefs", "tybalt", "offline", "carbon", "meta", "filter"];

function login(user: string, resource = "r"): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

function archiveCount(user: string): Promise<number> {
  return ts.server.storage.archive("localhost", "archive").count(user);
}

/** The archive's size once it reaches `want` (writes finish after delivery), or after 3 s. */
async function countReaching(user: string, want: number): Promise<number> {
  const deadline = Date.now() + 3000;
  let n = await archiveCount(user);
  while (n < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    n = await archiveCount(user);
  }
  return n;
}

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
  for (const u of USERS) await ts.addUser(u, "pw");
});
afterAll(() => ts?.stop());

describe("disco", () => {
  it("the account's disco#info lists urn:xmpp:mam:2, its extended features and stanza ids", async () => {
    const c = await login("romeo");
    const info = await c.iq("<iq type='get' id='d1' to='romeo@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(["urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"]));
    c.close();
  });
});

describe("archiving", () => {
  it("archives a chat in both accounts; the recipient's copy carries its stanza id, forged ones are removed", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "balcony");
    await goOnline(juliet);
    romeo.send(
      "<message to='juliet@localhost' type='chat' id='m1'><body>But soft!</body>" +
        "<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost' id='forged'/>" +
        "<stanza-id xmlns='urn:xmpp:sid:0' by='other.example' id='kept'/>" +
        "<origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>",
    );
    const got = await nextNonPresence(juliet);
    expect(got.getChildText("body")).toBe("But soft!");
    const ids = stanzaIds(got, "juliet@localhost");
    expect(ids).toHaveLength(1);
    expect(ids[0]).not.toBe("forged");
    expect(stanzaIds(got, "other.example")).toEqual(["kept"]);
    // The sender's archive id stays on the server.
    expect(stanzaIds(got, "romeo@localhost")).toEqual([]);

    const jq = await mamQuery(juliet, queryIq({ queryid: "j1" }));
    expect(jq.ids).toEqual(ids);
    expect(jq.bodies).toEqual(["But soft!"]);
    const archived = forwardedOf(jq.results[0])!;
    expect(archived.attrs).toMatchObject({ from: "romeo@localhost/orchard", to: "juliet@localhost", type: "chat", id: "m1" });
    // The forged id was not archived either; the origin id was.
    expect(archived.childElements("stanza-id", NS_SID).map((s) => s.attrs.id)).toEqual(["kept"]);
    expect(archived.getChild("origin-id", NS_SID)?.attrs.id).toBe("origin-1");
    const result = jq.results[0].getChild("result", NS_MAM)!;
    expect(result.attrs.queryid).toBe("j1");
    expect(jq.results[0].attrs.to).toBe("juliet@localhost/balcony");
    expect(result.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("delay", "urn:xmpp:delay")!.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const rq = await mamQuery(romeo, queryIq({}));
    expect(rq.bodies).toEqual(["But soft!"]);
    expect(forwardedOf(rq.results[0])!.attrs.to).toBe("juliet@localhost");
    romeo.close();
    juliet.close();
  });

  it("does not archive headlines, groupchat, no-store hints or bare chat states; chat states are removed from what is kept", async () => {
    const nurse = await login("nurse");
    const friar = await login("friar");
    await goOnline(friar);
    nurse.send("<message to='friar@localhost' type='headline'><body>news</body></message>");
    nurse.send("<message to='friar@localhost' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>");
    nurse.send("<message to='friar@localhost' type='chat'><body>secret2</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>");
    nurse.send("<message to='friar@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    nurse.send("<message to='friar@localhost' type='chat'><body>kept</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    nurse.send("<message to='friar@localhost' type='chat'><store xmlns='urn:xmpp:hints'/><x xmlns='urn:example:x'/></message>");
    const delivered: string[] = [];
    for (let i = 0; i < 6; i++) {
      const m = await nextNonPresence(friar);
      delivered.push(m.getChildText("body") ?? m.childElements()[0]?.name ?? "");
      const archivedId = stanzaIds(m, "friar@localhost");
      const kept = m.getChildText("body") === "kept" || m.getChild("store", "urn:xmpp:hints") !== undefined;
      expect(archivedId.length, m.toString()).toBe(kept ? 1 : 0);
    }
    expect(delivered).toEqual(["news", "secret", "secret2", "composing", "kept", "store"]);
    const q = await mamQuery(friar, queryIq({}));
    expect(q.results).toHaveLength(2);
    const first = forwardedOf(q.results[0])!;
    expect(first.getChildText("body")).toBe("kept");
    expect(first.getChild("active", "http://jabber.org/protocol/chatstates")).toBeUndefined();
    expect(forwardedOf(q.results[1])!.getChild("x", "urn:example:x")).toBeDefined();
    expect(await countReaching("nurse", 2)).toBe(2);
    nurse.close();
    friar.close();
  });

  it("archives offline messages once; they are delivered later with their stanza id", async () => {
    const romeo = await login("romeo", "o");
    romeo.send("<message to='offline@localhost' type='chat' id='off1'><body>while you were out</body></message>");
    await noMessage(romeo);
    expect(await countReaching("offline", 1)).toBe(1);
    const off = await login("offline");
    await goOnline(off);
    const m = await nextNonPresence(off);
    expect(m.getChildText("body")).toBe("while you were out");
    const q = await mamQuery(off, queryIq({}));
    expect(stanzaIds(m, "offline@localhost")).toEqual(q.ids);
    expect(q.ids).toHaveLength(1);
    romeo.close();
    off.close();
  });

  it("carbon copies carry the stanza id and are not archived again", async () => {
    const a = await login("carbon", "a");
    const b = await login("carbon", "b");
    const romeo = await login("romeo", "c");
    for (const c of [a, b]) {
      expect((await c.iq("<iq type='set' id='cb'><enable xmlns='urn:xmpp:carbons:2'/></iq>")).attrs.type).toBe("result");
      await goOnline(c, c === a ? 5 : 1);
    }
    // In: a (higher priority) gets it, b a received carbon.
    romeo.send("<message to='carbon@localhost' type='chat'><body>to you</body></message>");
    const direct = await nextNonPresence(a);
    const copy = await nextNonPresence(b);
    const inner = copy.getChild("received", "urn:xmpp:carbons:2")!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message", "jabber:client")!;
    expect(stanzaIds(inner, "carbon@localhost")).toEqual(stanzaIds(direct, "carbon@localhost"));
    // Out: b gets a sent carbon with the sender's archive id.
    a.send("<message to='romeo@localhost' type='chat'><body>from me</body></message>");
    const sent = await nextNonPresence(b);
    const sentInner = sent.getChild("sent", "urn:xmpp:carbons:2")!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message", "jabber:client")!;
    const q = await mamQuery(a, queryIq({}));
    expect(q.bodies).toEqual(["to you", "from me"]);
    expect(stanzaIds(sentInner, "carbon@localhost")).toEqual([q.ids[1]]);
    expect(await archiveCount("carbon")).toBe(2);
    for (const c of [a, b, romeo]) c.close();
  });
});

describe("queries", () => {
  let pager: RawClient;
  let all: string[];
  let bodies: string[];
  beforeAll(async () => {
    pager = await login("pager");
    const romeo = await login("romeo", "p");
    const juliet = await login("juliet", "p");
    for (let i = 0; i < 25; i++) {
      const from = i % 5 === 0 ? juliet : romeo;
      from.send(`<message to='pager@localhost' type='chat'><body>m${i}</body></message>`);
    }
    // Wait until all 25 are archived.
    const deadline = Date.now() + 5000;
    while ((await archiveCount("pager")) < 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    romeo.close();
    juliet.close();
    // Two senders: their messages interleave in the archive in arrival order.
    const everything = await mamQuery(pager, queryIq({ rsm: { max: 30 } }));
    all = everything.ids;
    bodies = everything.bodies;
    expect([...bodies].sort()).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`).sort());
  });
  afterAll(() => pager?.close());

  it("pages forwards with RSM after until complete, with first, last and count", async () => {
    const p1 = await mamQuery(pager, queryIq({ rsm: { max: 10 } }));
    expect(p1.ids).toEqual(all.slice(0, 10));
    expect(rsmOf(p1)).toEqual({ first: all[0], last: all[9], count: 25, complete: false });
    const p2 = await mamQuery(pager, queryIq({ rsm: { max: 10, after: all[9] } }));
    expect(p2.ids).toEqual(all.slice(10, 20));
    expect(rsmOf(p2).complete).toBe(false);
    const p3 = await mamQuery(pager, queryIq({ rsm: { max: 10, after: all[19] } }));
    expect(p3.ids).toEqual(all.slice(20));
    expect(rsmOf(p3)).toEqual({ first: all[20], last: all[24], count: 25, complete: true });
  });

  it("pages backwards from the last page with RSM before", async () => {
    const last = await mamQuery(pager, queryIq({ rsm: { max: 10, before: "" } }));
    expect(last.ids).toEqual(all.slice(15));
    expect(rsmOf(last)).toMatchObject({ first: all[15], last: all[24], complete: false });
    const prev = await mamQuery(pager, queryIq({ rsm: { max: 10, before: all[5] } }));
    expect(prev.ids).toEqual(all.slice(0, 5));
    expect(rsmOf(prev).complete).toBe(true);
  });

  it("flip-page sends the page newest first", async () => {
    const q = await mamQuery(pager, queryIq({ rsm: { max: 10, before: "" }, flip: true }));
    expect(q.ids).toEqual(all.slice(15).reverse());
    expect(rsmOf(q)).toMatchObject({ first: all[15], last: all[24] });
  });

  it("the default page is 20 and max is bounded by max_archive_query_results", async () => {
    expect((await mamQuery(pager, queryIq({}))).ids).toEqual(all.slice(0, 20));
    const capped = await mamQuery(pager, queryIq({ rsm: { max: 1000 } }));
    expect(capped.ids).toEqual(all);
    expect(rsmOf(capped).complete).toBe(true);
    const none = await mamQuery(pager, queryIq({ rsm: { max: 0 } }));
    expect(none.results).toEqual([]);
    expect(rsmOf(none).count).toBe(25);
  });

  it("RSM index skips into the result set", async () => {
    const q = await mamQuery(pager, queryIq({ rsm: { max: 3, index: 7 } }));
    expect(q.ids).toEqual(all.slice(7, 10));
  });

  it("filters by with", async () => {
    const q = await mamQuery(pager, queryIq({ fields: { with: "JULIET@localhost" } }));
    expect(q.bodies).toEqual(bodies.filter((b) => Number(b.slice(1)) % 5 === 0));
    expect(q.bodies).toHaveLength(5);
    expect(rsmOf(q).count).toBe(5);
  });

  it("filters by before-id, after-id and ids (urn:xmpp:mam:2#extended)", async () => {
    const before = await mamQuery(pager, queryIq({ fields: { "before-id": all[3] } }));
    expect(before.ids).toEqual(all.slice(0, 3));
    expect(rsmOf(before).complete).toBe(true);
    const beforeSmall = await mamQuery(pager, queryIq({ fields: { "before-id": all[12] }, rsm: { max: 5 } }));
    expect(beforeSmall.ids).toEqual(all.slice(0, 5));
    expect(rsmOf(beforeSmall).complete).toBe(false);
    const after = await mamQuery(pager, queryIq({ fields: { "after-id": all[20] } }));
    expect(after.ids).toEqual(all.slice(21));
    const between = await mamQuery(pager, queryIq({ fields: { "after-id": all[2], "before-id": all[6] } }));
    expect(between.ids).toEqual(all.slice(3, 6));
    const ids = await mamQuery(pager, queryIq({ fields: { ids: [all[7], all[1], "nope"] } }));
    expect(ids.ids).toEqual([all[1], all[7]]);
  });

  it("filters by start and end", async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await mamQuery(pager, queryIq({ fields: { start: future } }))).results).toEqual([]);
    const past = new Date(Date.now() - 3600_000).toISOString();
    expect((await mamQuery(pager, queryIq({ fields: { start: past, end: future }, rsm: { max: 30 } }))).ids).toEqual(all);
    expect((await mamQuery(pager, queryIq({ fields: { end: past } }))).results).toEqual([]);
  });

  it("answers errors: unknown ids item-not-found, bad timestamps and unknown fields bad-request", async () => {
    const unknown = await mamQuery(pager, queryIq({ rsm: { after: "no-such-id" } }));
    expect(unknown.iq.attrs.type).toBe("error");
    expect(unknown.iq.getChild("error")!.getChild("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const badTime = await mamQuery(pager, queryIq({ fields: { start: "yesterday" } }));
    expect(badTime.iq.getChild("error")!.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const field = await mamQuery(pager, queryIq({ fields: { "{urn:xmpp:fulltext:0}fulltext": "x" } }));
    expect(field.iq.getChild("error")!.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const other = await pager.iq(`<iq type='set' id='other' to='romeo@localhost'><query xmlns='${NS_MAM}'/></iq>`);
    expect(other.attrs.type).toBe("error");
  });

  it("serves the query form", async () => {
    const r = await pager.iq(`<iq type='get' id='form'><query xmlns='${NS_MAM}'/></iq>`);
    const vars = r.getChild("query", NS_MAM)!.getChild("x", "jabber:x:data")!.childElements("field").map((f) => f.attrs.var);
    expect(vars).toEqual(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"]);
  });
});

describe("metadata", () => {
  it("gives the first and last archived message, nothing for an empty archive", async () => {
    const meta = await login("meta");
    const empty = await meta.iq(`<iq type='get' id='md0'><metadata xmlns='${NS_MAM}'/></iq>`);
    expect(empty.getChild("metadata", NS_MAM)!.childElements()).toEqual([]);
    const romeo = await login("romeo", "meta");
    romeo.send("<message to='meta@localhost' type='chat'><body>1</body></message>");
    romeo.send("<message to='meta@localhost' type='chat'><body>2</body></message>");
    romeo.send("<message to='meta@localhost' type='chat'><body>3</body></message>");
    const deadline = Date.now() + 5000;
    while ((await archiveCount("meta")) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const ids = (await mamQuery(meta, queryIq({}))).ids;
    const md = (await meta.iq(`<iq type='get' id='md1'><metadata xmlns='${NS_MAM}'/></iq>`)).getChild("metadata", NS_MAM)!;
    expect(md.getChild("start")!.attrs.id).toBe(ids[0]);
    expect(md.getChild("end")!.attrs.id).toBe(ids[2]);
    expect(md.getChild("start")!.attrs.timestamp).toMatch(/Z$/);
    meta.close();
    romeo.close();
  });
});

describe("preferences", () => {
  it("default never, roster and always, with always and never lists", async () => {
    const prefs = await login("prefs");
    const tybalt = await login("tybalt");
    const romeo = await login("romeo", "prefs");
    const set = async (xml: string) => {
      const r = await prefs.iq(`<iq type='set' id='p${Math.random()}'>${xml}</iq>`);
      expect(r.attrs.type, r.toString()).toBe("result");
      return r.getChild("prefs", NS_MAM)!;
    };
    const sendBoth = async (tag: string) => {
      tybalt.send(`<message to='prefs@localhost' type='chat'><body>${tag}-tybalt</body></message>`);
      romeo.send(`<message to='prefs@localhost' type='chat'><body>${tag}-romeo</body></message>`);
      // Round trips through the server so both messages have been handled.
      await tybalt.iq("<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>");
      await romeo.iq("<iq type='get' id='ping2'><ping xmlns='urn:xmpp:ping'/></iq>");
    };
    // Default answer: always, empty lists.
    const current = await prefs.iq(`<iq type='get' id='pg'><prefs xmlns='${NS_MAM}'/></iq>`);
    expect(current.getChild("prefs", NS_MAM)!.toString()).toBe(`<prefs xmlns='${NS_MAM}' default='always'><always/><never/></prefs>`);

    const r = await set(`<prefs xmlns='${NS_MAM}' default='never'><always><jid>Romeo@LOCALHOST</jid></always><never/></prefs>`);
    expect(r.getChild("always")!.getChildText("jid")).toBe("romeo@localhost");
    await sendBoth("never");
    let q = await mamQuery(prefs, queryIq({}));
    expect(q.bodies).toEqual(["never-romeo"]);

    // roster: only contacts in the roster (tybalt is added), romeo listed under never.
    await set(`<prefs xmlns='${NS_MAM}' default='roster'><always/><never><jid>romeo@localhost</jid></never></prefs>`);
    const push = await prefs.iq("<iq type='set' id='ros'><query xmlns='jabber:iq:roster'><item jid='tybalt@localhost'/></query></iq>");
    expect(push.attrs.type).toBe("result");
    await sendBoth("roster");
    q = await mamQuery(prefs, queryIq({}));
    expect(q.bodies).toEqual(["never-romeo", "roster-tybalt"]);

    await set(`<prefs xmlns='${NS_MAM}' default='always'/>`);
    await sendBoth("always");
    q = await mamQuery(prefs, queryIq({}));
    expect(q.bodies).toEqual(["never-romeo", "roster-tybalt", "always-tybalt", "always-romeo"]);

    const bad = await prefs.iq(`<iq type='set' id='pbad'><prefs xmlns='${NS_MAM}' default='sometimes'/></iq>`);
    expect(bad.attrs.type).toBe("error");
    const badJid = await prefs.iq(`<iq type='set' id='pbad2'><prefs xmlns='${NS_MAM}' default='always'><always><jid>a@b@c</jid></always></prefs></iq>`);
    expect(badJid.getChild("error")!.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    for (const c of [prefs, tybalt, romeo]) c.close();
  });
});
