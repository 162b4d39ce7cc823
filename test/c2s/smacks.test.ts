// XEP-0198 stream management (mod_smacks) with Herald's raw test client: enable, <r/>/<a/>,
// a dropped connection resumed with every unacknowledged stanza exactly once (TCP and WebSocket),
// late and foreign resumptions refused, and what an unresumed session never acknowledged going to
// offline storage.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { rmSync } from "node:fs";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { waitUntil } from "../helpers/wait.js";
import { Inbox } from "../helpers/inbox.js";
import { XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";
import type { C2SConnection } from "../../src/net/c2s.js";

const SM = "urn:xmpp:sm:3";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

const CONFIG = (extra: string) => `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "smacks", "ping" }
${extra}
VirtualHost "localhost"
`;

/** The next element that is not an ack request; `acks` counts the requests skipped. */
async function recv(c: RawClient, acks?: { n: number }, timeoutMs = 5000): Promise<Element> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const el = await c.next(Math.max(1, deadline - Date.now()));
    if (el.name === "r" && el.attrs.xmlns === SM) {
      if (acks) acks.n++;
      continue;
    }
    return el;
  }
}

/** Nothing but ack requests within `ms`. */
async function quiet(c: RawClient, ms = 400): Promise<void> {
  try {
    const el = await recv(c, undefined, ms);
    throw new Error(`unexpected ${el}`);
  } catch (err) {
    if (!/nothing received/.test((err as Error).message)) throw err;
  }
}

const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = 15000) => waitUntil(cond, ms, what);

/** Authenticated, not bound; returns the stream features offered after authentication. */
async function authed(ts: TestServer, user: string): Promise<{ c: RawClient; features: Element }> {
  const c = await RawClient.connect(ts.c2sPort);
  await c.stream();
  const r = await c.auth("PLAIN", user, "pw");
  if (r.name !== "success") throw new Error(`authentication failed: ${r}`);
  return { c, features: await c.stream() };
}

async function enable(c: RawClient): Promise<string> {
  c.send(`<enable xmlns='${SM}' resume='true'/>`);
  const en = await recv(c);
  expect(en.name).toBe("enabled");
  expect(en.attrs).toMatchObject({ xmlns: SM, resume: "true" });
  return en.attrs.id;
}

async function smLogin(ts: TestServer, user: string, resource: string): Promise<{ c: RawClient; id: string }> {
  const { c } = await authed(ts, user);
  await c.bind(resource);
  return { c, id: await enable(c) };
}

function session(ts: TestServer, user: string, resource: string): C2SConnection | undefined {
  return ts.server.hosts.get("localhost")!.session(user, resource) as C2SConnection | undefined;
}

function chat(to: string, id: string): string {
  return `<message to='${to}' type='chat' id='${id}'><body>${id}</body></message>`;
}

function offlineCount(ts: TestServer, user: string): Promise<number> {
  return ts.server.storage.archive("localhost", "offline").count(user);
}

describe("stream management (XEP-0198)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    // No ack requests unless a test asks: the counts below stay exact.
    ts = await startTestServer({ config: CONFIG("smacks_max_unacked_stanzas = 100") });
    for (const u of ["alice", "bob", "eve"]) await ts.server.accounts("localhost").create(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("offers <sm xmlns='urn:xmpp:sm:3'/> after authentication, not before", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    const before = await c.stream();
    expect(before.getChild("sm", SM)).toBeUndefined();
    await c.auth("PLAIN", "alice", "pw");
    const after = await c.stream();
    expect(after.getChild("sm", SM)).toBeDefined();
    expect(after.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")).toBeDefined();
    await c.bind("features");
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    const en = await recv(c);
    // The resumption time announced: smacks_hibernation_time, 600 s by default.
    expect(en.attrs).toMatchObject({ resume: "true", max: "600" });
    expect(en.attrs.id).toMatch(/^[\w-]{24}$/); // 18 random bytes
    c.close();
  });

  it("refuses <enable/> before bind and a second <enable/>", async () => {
    const { c } = await authed(ts, "alice");
    c.send(`<enable xmlns='${SM}'/>`);
    const f = await recv(c);
    expect(f.name).toBe("failed");
    expect(f.getChild("unexpected-request", STANZAS)).toBeDefined();
    await c.bind("twice");
    c.send(`<enable xmlns='${SM}'/>`);
    const en = await recv(c);
    expect(en.name).toBe("enabled");
    expect(en.attrs.id).toBeUndefined(); // not resumable: no id
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    expect((await recv(c)).name).toBe("failed");
    c.close();
  });

  it("answers <r/> with the number of stanzas it handled", async () => {
    const { c } = await smLogin(ts, "alice", "counting");
    for (const id of ["p1", "p2", "p3"]) {
      const res = await c.iq(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      expect(res.attrs.type).toBe("result");
    }
    c.send(`<r xmlns='${SM}'/>`);
    const a = await recv(c);
    expect(a.name).toBe("a");
    expect(a.attrs).toMatchObject({ xmlns: SM, h: "3" });
    c.send(`<a xmlns='${SM}' h='3'/>`); // the three results
    c.send(`<r xmlns='${SM}'/>`);
    expect((await recv(c)).attrs.h).toBe("3"); // acks are not stanzas
    c.close();
  });

  it("closes the stream with <undefined-condition/> and <handled-count-too-high/> when more is acknowledged than was sent", async () => {
    const { c } = await smLogin(ts, "alice", "liar");
    await c.iq(`<iq type='get' id='x1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    c.send(`<a xmlns='${SM}' h='5'/>`);
    const err = await recv(c);
    expect(err.name).toBe("error");
    expect(err.attrs.xmlns).toBe("http://etherx.jabber.org/streams");
    expect(err.getChild("undefined-condition", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    expect(err.getChild("handled-count-too-high", SM)?.attrs).toMatchObject({ h: "5", "send-count": "1" });
    await c.waitClosed();
  });

  it("resumes a dropped TCP connection: every unacknowledged stanza comes again exactly once, nothing is lost", async () => {
    const bus = ts.server.hosts.get("localhost")!.bus;
    const events: string[] = [];
    const off = [
      bus.on("smacks-hibernation-start", ({ session }) => void events.push(`start ${session.fullJid}`)),
      bus.on("smacks-hibernation-end", ({ session, resumed }) => void events.push(`end ${session.fullJid} ${resumed}`)),
      bus.on("smacks-hibernation-stanza-queued", ({ stanza }) => void events.push(`queued ${stanza.attrs.id}`)),
    ];
    const { c: alice, id } = await smLogin(ts, "alice", "phone");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "desk", noTls: true, mechanism: "PLAIN" });
    // Alice sends two stanzas (h = 2 on the server's side).
    bob.send(chat("alice@localhost/phone", "m1"));
    bob.send(chat("alice@localhost/phone", "m2"));
    expect((await recv(alice)).attrs.id).toBe("m1");
    expect((await recv(alice)).attrs.id).toBe("m2");
    alice.send(chat("bob@localhost/desk", "a1"));
    alice.send(`<iq type='get' id='a2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect((await bob.next()).attrs.id).toBe("a1");
    expect((await recv(alice)).attrs.id).toBe("a2"); // the pong: alice received 3 stanzas
    alice.send(`<a xmlns='${SM}' h='1'/>`); // she acknowledges m1 only

    // The connection drops; the session stays bound, hibernating.
    alice.socket.destroy();
    await waitFor("the session to hibernate", () => session(ts, "alice", "phone")?.hibernating === true);
    bob.send(chat("alice@localhost/phone", "m3"));
    bob.send(chat("alice@localhost/phone", "m4"));
    await quiet(bob); // no errors: the session is still there
    expect(session(ts, "alice", "phone")?.hibernating).toBe(true);

    // Alice says she handled m1, m2 and the pong: m3 and m4 must come, nothing else.
    const { c: again, features } = await authed(ts, "alice");
    expect(features.getChild("sm", SM)).toBeDefined();
    again.send(`<resume xmlns='${SM}' previd='${id}' h='3'/>`);
    const resumed = await recv(again);
    expect(resumed.name).toBe("resumed");
    expect(resumed.attrs).toMatchObject({ xmlns: SM, previd: id, h: "2" });
    const m3 = await recv(again);
    const m4 = await recv(again);
    expect([m3.attrs.id, m4.attrs.id]).toEqual(["m3", "m4"]);
    expect(m3.attrs).toMatchObject({ from: "bob@localhost/desk", to: "alice@localhost/phone" });
    expect(m3.getChild("delay", "urn:xmpp:delay")?.attrs.from).toBe("localhost");
    await quiet(again);

    // The same session, on the new connection, in both directions.
    expect(session(ts, "alice", "phone")?.hibernating).toBe(false);
    expect(events).toEqual(["start alice@localhost/phone", "queued m3", "queued m4", "end alice@localhost/phone true"]);
    for (const f of off) f();
    again.send(chat("bob@localhost/desk", "a3"));
    expect((await bob.next()).attrs).toMatchObject({ id: "a3", from: "alice@localhost/phone" });
    bob.send(chat("alice@localhost/phone", "m5"));
    expect((await recv(again)).attrs.id).toBe("m5");
    again.send(`<r xmlns='${SM}'/>`);
    expect((await recv(again)).attrs.h).toBe("3");
    // Acknowledging continues from the resumed count: m3, m4, m5 are 4, 5, 6.
    again.send(`<a xmlns='${SM}' h='6'/>`);
    again.send(`<a xmlns='${SM}' h='7'/>`);
    const err = await recv(again);
    expect(err.getChild("handled-count-too-high", SM)?.attrs).toMatchObject({ h: "7", "send-count": "6" });
    bob.close();
  });

  it("refuses to resume another account's session, and an unknown id", async () => {
    const { c: alice, id } = await smLogin(ts, "alice", "tablet");
    alice.socket.resetAndDestroy(); // a TCP reset: the server sees an error, then the close
    await new Promise((r) => setTimeout(r, 200));
    await waitFor("the session to hibernate", () => session(ts, "alice", "tablet")?.hibernating === true);
    const { c: eve } = await authed(ts, "eve");
    eve.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const f = await recv(eve);
    expect(f.name).toBe("failed");
    expect(f.getChild("item-not-found", STANZAS)).toBeDefined();
    eve.send(`<resume xmlns='${SM}' previd='no-such-id' h='0'/>`);
    expect((await recv(eve)).getChild("item-not-found", STANZAS)).toBeDefined();
    // Eve can still bind her own resource; Alice's session is untouched and resumable.
    await eve.bind("x");
    expect(session(ts, "alice", "tablet")?.hibernating).toBe(true);
    const { c: again } = await authed(ts, "alice");
    again.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect((await recv(again)).name).toBe("resumed");
    again.close();
    eve.close();
  });

  it("resumes while the old connection is still open: the old one is dropped", async () => {
    const { c: old, id } = await smLogin(ts, "alice", "laptop");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "laptop-peer", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("alice@localhost/laptop", "l1"));
    expect((await recv(old)).attrs.id).toBe("l1");
    const { c: again } = await authed(ts, "alice");
    again.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect((await recv(again)).name).toBe("resumed");
    expect((await recv(again)).attrs.id).toBe("l1");
    await old.waitClosed();
    bob.send(chat("alice@localhost/laptop", "l2"));
    expect((await recv(again)).attrs.id).toBe("l2");
    expect(session(ts, "alice", "laptop")?.hibernating).toBe(false);
    again.close();
    bob.close();
  });

  it("refuses <resume/> after bind", async () => {
    const { c } = await smLogin(ts, "alice", "bound");
    c.send(`<resume xmlns='${SM}' previd='whatever' h='0'/>`);
    const f = await recv(c);
    expect(f.name).toBe("failed");
    expect(f.getChild("unexpected-request", STANZAS)).toBeDefined();
    c.close();
  });

  it("resumes over WebSocket (RFC 7395)", async () => {
    const ws1 = await WsClient.open(ts.httpPort);
    await ws1.login("alice", "web");
    const id = await ws1.enable();
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "ws-peer", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("alice@localhost/web", "w1"));
    expect((await ws1.next()).attrs.id).toBe("w1");
    ws1.ws.terminate(); // no <close/>: the connection is lost
    await waitFor("the session to hibernate", () => session(ts, "alice", "web")?.hibernating === true);
    bob.send(chat("alice@localhost/web", "w2"));
    await quiet(bob);

    const ws2 = await WsClient.open(ts.httpPort);
    await ws2.auth("alice");
    ws2.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const resumed = await ws2.next();
    expect(resumed.name).toBe("resumed");
    expect(resumed.attrs.h).toBe("0");
    const got = [await ws2.next(), await ws2.next()];
    expect(got.map((m) => m.attrs.id)).toEqual(["w1", "w2"]);
    // RFC 7395 §3.5 on the new transport too: every stanza qualified by jabber:client.
    expect(ws2.frames.filter((f) => f.startsWith("<message ")).every((f) => f.startsWith("<message xmlns='jabber:client'"))).toBe(true);
    await ws2.quiet();
    ws2.send(chat("bob@localhost/ws-peer", "back"));
    expect((await bob.next()).attrs).toMatchObject({ id: "back", from: "alice@localhost/web" });
    ws2.send(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`);
    await waitFor("the session to end", () => session(ts, "alice", "web") === undefined);
    bob.close();
  });

  it("resumes a TCP session over WebSocket", async () => {
    const { c: alice, id } = await smLogin(ts, "alice", "roaming");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "roam-peer", noTls: true, mechanism: "PLAIN" });
    alice.socket.destroy();
    await waitFor("the session to hibernate", () => session(ts, "alice", "roaming")?.hibernating === true);
    bob.send(chat("alice@localhost/roaming", "t1"));
    const ws = await WsClient.open(ts.httpPort);
    await ws.auth("alice");
    ws.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect((await ws.next()).name).toBe("resumed");
    expect((await ws.next()).attrs.id).toBe("t1");
    expect(ws.frames.find((f) => f.startsWith("<message "))).toMatch(/^<message xmlns='jabber:client'/);
    expect(session(ts, "alice", "roaming")?.transportKind).toBe("websocket");
    ws.send(chat("bob@localhost/roam-peer", "t2"));
    expect((await bob.next()).attrs).toMatchObject({ id: "t2", from: "alice@localhost/roaming" });
    ws.ws.close();
    bob.close();
  });
});

describe("stream management: sessions not resumed in time", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ config: CONFIG("smacks_hibernation_time = 1\nsmacks_max_ack_delay = 1") });
    for (const u of ["alice", "bob", "carol", "dave"]) await ts.server.accounts("localhost").create(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("asks for acknowledgements with <r/> (smacks_max_unacked_stanzas = 0)", async () => {
    const { c: carol } = await smLogin(ts, "carol", "acks");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "r", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("carol@localhost/acks", "q1"));
    expect((await carol.next()).attrs.id).toBe("q1");
    const r = await carol.next();
    expect(r.name).toBe("r");
    expect(r.attrs.xmlns).toBe(SM);
    carol.send(`<a xmlns='${SM}' h='1'/>`);
    bob.send(chat("carol@localhost/acks", "q2"));
    expect((await carol.next()).attrs.id).toBe("q2");
    expect((await carol.next()).name).toBe("r");
    carol.close();
    bob.close();
  });

  it("fires smacks-ack-delayed when <r/> is not answered within smacks_max_ack_delay", async () => {
    const delayed: Array<{ who: string; queued: number }> = [];
    const off = ts.server.hosts
      .get("localhost")!
      .bus.on("smacks-ack-delayed", ({ session, queued }) => void delayed.push({ who: session.fullJid!, queued }));
    const { c: carol } = await smLogin(ts, "carol", "silent");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "s", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("carol@localhost/silent", "d1"));
    expect((await carol.next()).attrs.id).toBe("d1");
    expect((await carol.next()).name).toBe("r"); // not answered
    await waitFor("smacks-ack-delayed", () => delayed.length > 0);
    expect(delayed).toEqual([{ who: "carol@localhost/silent", queued: 1 }]);
    off();
    carol.close();
    bob.close();
  });

  it("ends the session after smacks_hibernation_time: unacknowledged messages go to offline storage, a late <resume/> fails", async () => {
    const { c: alice, id } = await smLogin(ts, "alice", "phone");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "desk", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("alice@localhost/phone", "u1"));
    bob.send(`<message to='alice@localhost/phone' type='normal' id='u2'><body>u2</body></message>`);
    bob.send(`<message to='alice@localhost/phone' type='headline' id='u3'><body>news</body></message>`);
    expect((await recv(alice)).attrs.id).toBe("u1");
    expect((await recv(alice)).attrs.id).toBe("u2");
    expect((await recv(alice)).attrs.id).toBe("u3");
    alice.send(`<iq type='get' id='i1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await recv(alice);
    alice.send(`<a xmlns='${SM}' h='1'/>`); // u1 only; u2, u3 and the pong are not acknowledged
    alice.socket.destroy();
    await waitFor("the session to hibernate", () => session(ts, "alice", "phone")?.hibernating === true);
    bob.send(chat("alice@localhost/phone", "u4")); // while hibernating
    await waitFor("the session to end", () => session(ts, "alice", "phone") === undefined);
    // u2 and u4 are kept; the headline and the pong are not messages to keep (RFC 6121 §8.5.3.2.1).
    await waitFor("two offline messages", async () => (await offlineCount(ts, "alice")) === 2);
    await quiet(bob); // nothing bounced

    const { c: late } = await authed(ts, "alice");
    late.send(`<resume xmlns='${SM}' previd='${id}' h='4'/>`);
    const f = await recv(late);
    expect(f.name).toBe("failed");
    expect(f.getChild("item-not-found", STANZAS)).toBeDefined();
    expect(f.attrs.h).toBe("1"); // the server had handled alice's ping
    // A fresh session gets both, each with one delay stamp: when the server first sent it.
    await late.bind("phone");
    late.send("<presence/>");
    const got: Element[] = [];
    while (got.length < 2) {
      const el = await recv(late);
      if (el.name === "message") got.push(el);
    }
    expect(got.map((m) => m.attrs.id)).toEqual(["u2", "u4"]);
    for (const m of got) {
      expect(m.childElements("delay", "urn:xmpp:delay")).toHaveLength(1);
      expect(m.attrs.to).toBe("alice@localhost");
    }
    late.close();
    bob.close();
  });

  it("a stream closed by the client is not resumable; what it did not acknowledge is kept", async () => {
    const { c: dave, id } = await smLogin(ts, "dave", "closing");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "c", noTls: true, mechanism: "PLAIN" });
    bob.send(chat("dave@localhost/closing", "k1"));
    expect((await recv(dave)).attrs.id).toBe("k1");
    dave.close();
    await waitFor("the session to end", () => session(ts, "dave", "closing") === undefined);
    await waitFor("one offline message", async () => (await offlineCount(ts, "dave")) === 1);
    const { c: late } = await authed(ts, "dave");
    late.send(`<resume xmlns='${SM}' previd='${id}' h='1'/>`);
    const f = await recv(late);
    expect(f.getChild("item-not-found", STANZAS)).toBeDefined();
    expect(f.attrs.h).toBeUndefined();
    late.close();
    bob.close();
  });
});

describe("stream management: smacks_max_queue_size", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ config: CONFIG("smacks_max_unacked_stanzas = 100\nsmacks_max_queue_size = 2") });
    for (const u of ["alice", "bob"]) await ts.server.accounts("localhost").create(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("a client that does not acknowledge more than the queue holds loses its stream, not its messages", async () => {
    const { c: alice } = await smLogin(ts, "alice", "slow");
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "b", noTls: true, mechanism: "PLAIN" });
    for (const id of ["s1", "s2", "s3"]) bob.send(chat("alice@localhost/slow", id));
    const got: Element[] = [];
    for (;;) {
      const el = await recv(alice);
      got.push(el);
      if (el.name === "error") break;
    }
    expect(got.at(-1)!.getChild("resource-constraint", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    await alice.waitClosed();
    await waitFor("three offline messages", async () => (await offlineCount(ts, "alice")) === 3);
    await quiet(bob);
    bob.close();
  });
});

describe("stream management: server shutdown", () => {
  it("a session hibernating when the server stops hands its unacknowledged messages to offline storage (LevelDB), kept across the restart", async () => {
    let ts = await startTestServer({ config: CONFIG("").replace('storage = "memory"', "") });
    try {
      for (const u of ["alice", "bob"]) await ts.server.accounts("localhost").create(u, "pw");
      const { c: alice } = await smLogin(ts, "alice", "phone");
      const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "b", noTls: true, mechanism: "PLAIN" });
      bob.send(chat("alice@localhost/phone", "z1"));
      expect((await recv(alice)).attrs.id).toBe("z1");
      alice.socket.destroy();
      await waitFor("the session to hibernate", () => session(ts, "alice", "phone")?.hibernating === true);
      bob.send(chat("alice@localhost/phone", "z2"));
      await quiet(bob);
      ts = await ts.restart();
      expect(await offlineCount(ts, "alice")).toBe(2);
      const fresh = await RawClient.login(ts.c2sPort, "alice", "pw", { resource: "phone", noTls: true, mechanism: "PLAIN" });
      fresh.send("<presence/>");
      const ids: string[] = [];
      while (ids.length < 2) {
        const el = await recv(fresh);
        if (el.name === "message") ids.push(el.attrs.id);
      }
      expect(ids).toEqual(["z1", "z2"]);
      fresh.close();
    } finally {
      await ts.stop();
      rmSync(ts.dataDir, { recursive: true, force: true });
    }
  });
});

/** A raw RFC 7395 client: every WebSocket message is one element. */
class WsClient {
  private readonly inbox = new Inbox<Element>();
  readonly frames: string[] = [];
  private parser: XmlStream;

  private constructor(readonly ws: WebSocket) {
    this.parser = new XmlStream(
      {
        streamStart: () => {},
        stanza: (el) => this.inbox.push(el),
        streamEnd: () => {},
        error: () => {},
      },
      { framing: "framed", maxStanzaSize: 1 << 20 },
    );
    ws.on("message", (d) => {
      this.frames.push(String(d));
      this.parser.write(String(d));
    });
  }

  static async open(port: number): Promise<WsClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, "xmpp");
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => resolve());
      ws.on("error", reject);
    });
    return new WsClient(ws);
  }

  send(s: string): void {
    this.ws.send(s);
  }

  /** The next element, skipping ack requests. */
  async next(timeoutMs = 5000): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const el = await this.inbox.take(Math.max(0, deadline - Date.now()));
      if (el.name === "r" && el.attrs.xmlns === SM) continue;
      return el;
    }
  }

  async quiet(ms = 400): Promise<void> {
    try {
      const el = await this.next(ms);
      throw new Error(`unexpected ${el}`);
    } catch (err) {
      if (!/nothing received/.test((err as Error).message)) throw err;
    }
  }

  private async openStream(): Promise<Element> {
    this.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    expect((await this.next()).name).toBe("open");
    return this.next();
  }

  async auth(user: string): Promise<void> {
    await this.openStream();
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0pw`).toString("base64")}</auth>`);
    expect((await this.next()).name).toBe("success");
    const features = await this.openStream();
    expect(features.getChild("sm", SM)).toBeDefined();
  }

  async login(user: string, resource: string): Promise<void> {
    await this.auth(user);
    this.send(`<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    expect((await this.next()).attrs.type).toBe("result");
  }

  async enable(): Promise<string> {
    this.send(`<enable xmlns='${SM}' resume='true'/>`);
    const en = await this.next();
    expect(en.name).toBe("enabled");
    return en.attrs.id;
  }
}
