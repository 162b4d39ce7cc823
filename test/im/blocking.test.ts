// XEP-0191 Blocking Command, end to end: list, block, unblock, pushes, inbound and outbound
// blocking, persistence across a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition, goOnline, nextNonPresence, noMessage } from "./message-helpers.js";

const NS = "urn:xmpp:blocking";
const CONFIG = (bounce: boolean, storage = 'storage = "memory"') => `
modules_enabled = { "blocklist" }
${storage}
bounce_blocked_messages = ${bounce}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
`;

function login(ts: TestServer, user: string, resource: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

async function blocklist(c: RawClient, id = "bl"): Promise<string[]> {
  const r = await c.iq(`<iq type='get' id='${id}'><blocklist xmlns='${NS}'/></iq>`);
  expect(r.attrs.type).toBe("result");
  return r.getChild("blocklist", NS)!.childElements("item").map((i) => i.attrs.jid);
}

async function edit(c: RawClient, verb: "block" | "unblock", jids: string[], id = "ed"): Promise<Element> {
  const items = jids.map((j) => `<item jid='${j}'/>`).join("");
  return c.iq(`<iq type='set' id='${id}'><${verb} xmlns='${NS}'>${items}</${verb}></iq>`);
}

function expectBlockedError(err: Element, from: string): void {
  expect(err.attrs).toMatchObject({ type: "error", from });
  const e = err.getChild("error")!;
  expect(e.attrs.type).toBe("cancel");
  // Prosody's exact error (blocking.scs): condition, text, application condition, in this order.
  expect(e.childElements().map((c) => `${c.name}/${c.attrs.xmlns}`)).toEqual([
    "not-acceptable/urn:ietf:params:xml:ns:xmpp-stanzas",
    "text/urn:ietf:params:xml:ns:xmpp-stanzas",
    "blocked/urn:xmpp:blocking:errors",
  ]);
  expect(e.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBe("You have blocked this JID");
}

describe("blocking (bounce_blocked_messages = true, as in Prosody's scansion setup)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG(true) });
    for (const u of ["romeo", "juliet", "tybalt", "mercutio", "lonely"]) await ts.addUser(u, "pw");
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it("advertises urn:xmpp:blocking", async () => {
    const c = await login(ts, "romeo", "a");
    const info = await c.iq("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain(NS);
    ts.closeClients();
  });

  it("returns the list, blocks (prepped JIDs), unblocks, unblocks all, and pushes to the resources that asked for the list", async () => {
    const a = await login(ts, "romeo", "a");
    const b = await login(ts, "romeo", "b");
    const quiet = await login(ts, "romeo", "quiet");
    expect(await blocklist(a)).toEqual([]);
    expect(await blocklist(b)).toEqual([]);

    const r = await edit(a, "block", ["Tybalt@LocalHost", "capulet.lit"], "blk1");
    expect(r.attrs).toMatchObject({ type: "result", id: "blk1" });
    for (const c of [a, b]) {
      const push = await nextNonPresence(c);
      expect(push.attrs.type).toBe("set");
      expect(push.attrs.to).toBe(c.jid);
      expect(push.getChild("block", NS)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["tybalt@localhost", "capulet.lit"]);
      c.send(`<iq type='result' id='${push.attrs.id}'/>`);
    }
    await noMessage(quiet);
    expect(await blocklist(quiet)).toEqual(["tybalt@localhost", "capulet.lit"]);

    expect((await edit(b, "unblock", ["capulet.lit"], "ub1")).attrs.type).toBe("result");
    for (const c of [a, b, quiet]) {
      const push = await nextNonPresence(c);
      expect(push.getChild("unblock", NS)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["capulet.lit"]);
    }
    expect(await blocklist(a)).toEqual(["tybalt@localhost"]);

    expect((await edit(a, "unblock", [], "ub2")).attrs.type).toBe("result");
    for (const c of [a, b, quiet]) {
      const push = await nextNonPresence(c);
      const unblock = push.getChild("unblock", NS)!;
      expect(unblock.childElements()).toEqual([]);
    }
    expect(await blocklist(a)).toEqual([]);
    ts.closeClients();
  });

  it("rejects a block without items (bad-request) and a malformed JID (jid-malformed), changing nothing", async () => {
    const a = await login(ts, "romeo", "a");
    expect(errorCondition(await edit(a, "block", [], "e1"))).toBe("bad-request");
    expect(errorCondition(await edit(a, "block", ["juliet@localhost", "a@b@c"], "e2"))).toBe("jid-malformed");
    expect(errorCondition(await a.iq(`<iq type='set' id='e3'><block xmlns='${NS}'><item/></block></iq>`))).toBe("jid-malformed");
    expect(await blocklist(a)).toEqual([]);
    ts.closeClients();
  });

  it("outbound: messages, iqs and directed presence to a blocked JID get not-acceptable + <blocked/>; errors are dropped", async () => {
    const romeo = await login(ts, "romeo", "a");
    const tybalt = await login(ts, "tybalt", "t");
    await goOnline(tybalt);
    expect((await edit(romeo, "block", ["tybalt@localhost"])).attrs.type).toBe("result");

    romeo.send("<message type='chat' to='tybalt@localhost' id='o1'><body>hello?</body></message>");
    expectBlockedError(await nextNonPresence(romeo), "tybalt@localhost");
    romeo.send("<message type='chat' to='tybalt@localhost/t' id='o2'><body>hello?</body></message>");
    expectBlockedError(await nextNonPresence(romeo), "tybalt@localhost/t");
    expectBlockedError(await romeo.iq("<iq type='get' id='o3' to='tybalt@localhost/t'><ping xmlns='urn:xmpp:ping'/></iq>"), "tybalt@localhost/t");
    romeo.send("<presence to='tybalt@localhost/t' id='o4'/>");
    let perr = await romeo.next();
    while (perr.attrs.type !== "error") perr = await romeo.next();
    expect(perr.name).toBe("presence");
    expect(perr.attrs.id).toBe("o4");
    expectBlockedError(perr, "tybalt@localhost/t");
    romeo.send("<message type='error' to='tybalt@localhost/t'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    await noMessage(romeo);
    await noMessage(tybalt);

    // Another JID at the same domain is not blocked.
    const juliet = await login(ts, "juliet", "j");
    romeo.send("<message type='chat' to='juliet@localhost/j' id='o5'><body>x</body></message>");
    expect((await nextNonPresence(juliet)).attrs.id).toBe("o5");
    expect((await edit(romeo, "unblock", [])).attrs.type).toBe("result");
    ts.closeClients();
  });

  it("inbound: chat/normal to the bare JID bounce service-unavailable, to a connected resource and other types are dropped; iq get/set service-unavailable; presence dropped", async () => {
    const romeo = await login(ts, "romeo", "a");
    await goOnline(romeo);
    const tybalt = await login(ts, "tybalt", "t");
    await goOnline(tybalt);
    expect((await edit(romeo, "block", ["tybalt@localhost"])).attrs.type).toBe("result");

    tybalt.send("<message type='chat' to='romeo@localhost' id='i1'/>");
    const err = await nextNonPresence(tybalt);
    expect(err.attrs).toMatchObject({ type: "error", id: "i1", from: "romeo@localhost" });
    expect(errorCondition(err)).toBe("service-unavailable");
    expect(err.getChild("error")!.childElements()).toHaveLength(1); // no text, no app condition: Romeo just looks unavailable
    tybalt.send("<message to='romeo@localhost' id='i2'><body>normal</body></message>");
    expect(errorCondition(await nextNonPresence(tybalt))).toBe("service-unavailable");

    tybalt.send("<message type='chat' to='romeo@localhost/a' id='i3'><body>x</body></message>");
    tybalt.send("<message type='headline' to='romeo@localhost' id='i4'><body>x</body></message>");
    tybalt.send("<presence to='romeo@localhost/a'/>");
    tybalt.send("<presence type='subscribe' to='romeo@localhost'/>");
    await noMessage(tybalt);

    const iqErr = await tybalt.iq("<iq type='get' id='i5' to='romeo@localhost/a'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(iqErr.attrs.from).toBe("romeo@localhost/a");
    expect(errorCondition(iqErr)).toBe("service-unavailable");
    tybalt.send("<iq type='result' id='i6' to='romeo@localhost/a'/>");

    // Romeo got none of it.
    const seen: Element[] = [];
    for (;;) {
      try {
        seen.push(await romeo.next(400));
      } catch {
        break;
      }
    }
    expect(seen.filter((s) => s.attrs.from?.startsWith("tybalt@")).map(String)).toEqual([]);

    // A JID that is not blocked still gets through.
    const mercutio = await login(ts, "mercutio", "m");
    mercutio.send("<message type='chat' to='romeo@localhost/a' id='i7'><body>ok</body></message>");
    expect((await nextNonPresence(romeo)).attrs.id).toBe("i7");
    expect((await edit(romeo, "unblock", ["tybalt@localhost"])).attrs.type).toBe("result");
    tybalt.send("<message type='chat' to='romeo@localhost/a' id='i8'><body>friends again</body></message>");
    expect((await nextNonPresence(romeo)).attrs.id).toBe("i8");
    ts.closeClients();
  });

  it("blocks inbound messages for an offline account too: not stored", async () => {
    const lonely = await login(ts, "lonely", "l");
    expect((await edit(lonely, "block", ["tybalt@localhost"])).attrs.type).toBe("result");
    lonely.close();
    const tybalt = await login(ts, "tybalt", "t");
    tybalt.send("<message type='chat' to='lonely@localhost' id='x1'><body>x</body></message>");
    expect(errorCondition(await nextNonPresence(tybalt))).toBe("service-unavailable");
    expect(await ts.server.storage.archive("localhost", "offline").count("lonely")).toBe(0);
    ts.closeClients();
  });

  it("answers `blocklist-is-blocked` on the host bus", async () => {
    const bus = ts.server.hosts.get("localhost")!.bus;
    expect(await bus.fire("blocklist-is-blocked", { username: "lonely", jid: "tybalt@localhost/t" })).toBe(true);
    expect(await bus.fire("blocklist-is-blocked", { username: "lonely", jid: "mercutio@localhost" })).toBe(false);
    expect(await bus.fire("blocklist-is-blocked", { username: "nobody", jid: "tybalt@localhost" })).toBe(false);
  });
});

describe("blocking with bounce_blocked_messages = false (the default)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG(false) });
    for (const u of ["romeo", "tybalt"]) await ts.addUser(u, "pw");
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it("drops inbound messages from a blocked JID silently", async () => {
    const romeo = await login(ts, "romeo", "a");
    expect((await edit(romeo, "block", ["tybalt@localhost"])).attrs.type).toBe("result");
    const tybalt = await login(ts, "tybalt", "t");
    tybalt.send("<message type='chat' to='romeo@localhost' id='d1'><body>x</body></message>");
    await noMessage(tybalt);
    await noMessage(romeo);
    ts.closeClients();
  });
});

describe("blocking persists across a restart (LevelDB)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG(true, "") });
    for (const u of ["romeo", "tybalt"]) await ts.addUser(u, "pw");
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it("keeps the list and keeps blocking", async () => {
    const romeo = await login(ts, "romeo", "a");
    expect((await edit(romeo, "block", ["tybalt@localhost", "capulet.lit"])).attrs.type).toBe("result");
    ts = await ts.restart();
    const again = await login(ts, "romeo", "a");
    expect(await blocklist(again)).toEqual(["tybalt@localhost", "capulet.lit"]);
    again.send("<message type='chat' to='tybalt@localhost' id='p1'><body>x</body></message>");
    expectBlockedError(await nextNonPresence(again), "tybalt@localhost");
    ts.closeClients();
  });
});

// Presence on block/unblock needs the roster (who may see the user's presence) and mod_presence
// (who answers the probe on unblock). This follows Prosody's blocking.scs.
describe("blocking and presence (blocking.scs)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG(true).replace('"blocklist"', '"blocklist"; "roster"') });
    for (const u of ["blocker", "blockee"]) await ts.addUser(u, "pw");
  });
  afterAll(async () => {
    await ts?.stop();
  });

  /** The next presence stanza (skipping anything else). */
  async function nextPresence(c: RawClient): Promise<Element> {
    for (;;) {
      const el = await c.next();
      if (el.name === "presence") return el;
    }
  }

  it("sends unavailable to a subscribed contact on block, and current presence (delayed) on unblock", async () => {
    const romeo = await login(ts, "blocker", "r");
    await goOnline(romeo);
    const juliet = await login(ts, "blockee", "j");
    await goOnline(juliet);
    // Mutual subscription.
    romeo.send("<presence type='subscribe' to='blockee@localhost'/>");
    juliet.send("<presence type='subscribed' to='blocker@localhost'/>");
    juliet.send("<presence type='subscribe' to='blocker@localhost'/>");
    romeo.send("<presence type='subscribed' to='blockee@localhost'/>");
    await new Promise((r) => setTimeout(r, 500));
    for (const c of [romeo, juliet]) {
      for (;;) {
        try {
          await c.next(200);
        } catch {
          break;
        }
      }
    }

    expect((await edit(romeo, "block", ["blockee@localhost"], "lx2")).attrs.type).toBe("result");
    const unavailable = await nextPresence(juliet);
    expect(unavailable.attrs).toMatchObject({ type: "unavailable", from: romeo.jid, to: "blockee@localhost" });

    // While blocked, presence updates go neither way (only the own echo arrives).
    romeo.send("<presence><show>away</show></presence>");
    juliet.send("<presence><show>dnd</show></presence>");
    const echoR = await nextPresence(romeo);
    expect(echoR.attrs.from).toBe(romeo.jid);
    const echoJ = await nextPresence(juliet);
    expect(echoJ.attrs.from).toBe(juliet.jid);
    await romeo.nothing(400);
    await juliet.nothing(400);

    expect((await edit(romeo, "unblock", ["blockee@localhost"], "lx3")).attrs.type).toBe("result");
    const available = await nextPresence(juliet);
    expect(available.attrs.from).toBe(romeo.jid);
    expect(available.attrs.type).toBeUndefined();
    expect(available.getChild("delay", "urn:xmpp:delay")?.attrs.from).toBe("localhost");
    ts.closeClients();
  });
});
