// Limits against abuse on real loopback connections: password attempts per address across
// connections, unauthenticated connections per address, the read rate of sessions (mod_limits).
// 127.0.0.2 stands for a second client address (all of 127/8 reaches the loopback listener).

import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
const PLAIN = `c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n`;

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.stop();
  ts = undefined;
});

async function opened(port: number, localAddress?: string): Promise<RawClient> {
  const c = await RawClient.connect(port, { localAddress });
  await c.stream();
  return c;
}

/** A PLAIN attempt whose answer may take a while (it may wait for its address's turn). */
async function plainAuth(c: RawClient, user: string, password: string) {
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
  return c.next(15000);
}

describe("password attempts per address", () => {
  it("are throttled across parallel connections, while the real user from another address logs in at once", async () => {
    // 2 attempts at once, then one every 10 s / 2 = 5 s per address.
    ts = await startTestServer({
      config: `${PLAIN}limit_auth_max = 2\nlimit_auth_period = 10\nc2s_max_unauthenticated_per_ip = 100\nVirtualHost "localhost"\n`,
    });
    await ts.server.accounts("localhost").create("alice", "correct horse");
    const attackers = await Promise.all(Array.from({ length: 12 }, () => opened(ts!.c2sPort)));
    const answers: string[] = [];
    const guesses = attackers.map((c, i) =>
      plainAuth(c, "alice", `guess${i}`).then((f) => {
        answers.push(f.firstElement()?.name ?? "?");
      }),
    );
    // Meanwhile the account's owner, from another address, logs in with the right password.
    const owner = await RawClient.login(ts.c2sPort, "alice", "correct horse", { noTls: true, mechanism: "PLAIN", localAddress: "127.0.0.2" });
    expect(owner.jid).toMatch(/^alice@localhost\//);
    // Her login did not wait behind the attacker's queued attempt (which waits about 5 s).
    expect(answers.length).toBeLessThan(12);
    await Promise.all(guesses);
    const checked = answers.filter((a) => a === "not-authorized").length;
    const refused = answers.filter((a) => a === "temporary-auth-failure").length;
    // Without a shared throttle all 12 guesses are checked; with it, the 2 of the burst, the one
    // that waited its turn, and at most one more per 5 s that the connections took to arrive.
    expect(checked).toBeGreaterThanOrEqual(2);
    expect(checked).toBeLessThanOrEqual(5);
    expect(checked + refused).toBe(12);
    for (const c of [...attackers, owner]) c.close();
  }, 30000);

  it("a refused attempt counts against c2s_max_auth_failures of its connection", async () => {
    ts = await startTestServer({
      config: `${PLAIN}limit_auth_max = 1\nlimit_auth_period = 60\nc2s_max_auth_failures = 3\nVirtualHost "localhost"\n`,
    });
    await ts.server.accounts("localhost").create("bob", "right");
    const c = await opened(ts.c2sPort);
    expect((await c.auth("PLAIN", "bob", "wrong1")).getChild("not-authorized")).toBeDefined();
    // Another connection of the address takes the next turn (60 s away) and waits for it...
    const waiting = await opened(ts.c2sPort);
    waiting.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0bob\0wrong").toString("base64")}</auth>`);
    await waiting.nothing(300);
    // ...so this one has none: refused without a password check.
    expect((await c.auth("PLAIN", "bob", "wrong2")).getChild("temporary-auth-failure")).toBeDefined();
    // Even the right password is not looked at while the address has no turn left.
    expect((await c.auth("PLAIN", "bob", "right")).getChild("temporary-auth-failure")).toBeDefined();
    expect((await c.next()).getChild("policy-violation", NS_STREAMS)).toBeDefined();
    await c.waitClosed();
    // Another address is not affected.
    const other = await RawClient.login(ts.c2sPort, "bob", "right", { noTls: true, mechanism: "PLAIN", localAddress: "127.0.0.2" });
    other.close();
    waiting.close();
  });
});

describe("unauthenticated connections per address", () => {
  it("are capped by c2s_max_unauthenticated_per_ip; authenticating or closing frees a place", async () => {
    ts = await startTestServer({ config: `${PLAIN}c2s_max_unauthenticated_per_ip = 3\nVirtualHost "localhost"\n` });
    await ts.server.accounts("localhost").create("carol", "pw");
    const held = await Promise.all([0, 1, 2].map(() => opened(ts!.c2sPort)));
    const fourth = await RawClient.connect(ts.c2sPort);
    fourth.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
    expect((await fourth.nextEvent()).kind).toBe("start");
    const err = await fourth.next();
    expect(err.name).toBe("error"); // <stream:error/>, by local name
    expect(err.getChild("policy-violation", NS_STREAMS)).toBeDefined();
    await fourth.waitClosed();
    // Another address has its own places.
    const elsewhere = await opened(ts.c2sPort, "127.0.0.2");
    // One of the three authenticates: a new connection is accepted again.
    expect((await held[0].auth("PLAIN", "carol", "pw")).name).toBe("success");
    const fifth = await opened(ts.c2sPort);
    // And one closes: another place.
    held[1].close();
    await held[1].waitClosed();
    await new Promise((r) => setTimeout(r, 200));
    const sixth = await opened(ts.c2sPort);
    for (const c of [...held, elsewhere, fifth, sixth]) c.close();
  });
});

describe("read rate per session (mod_limits)", () => {
  const config = `${PLAIN}modules_enabled = { "ping"; "limits" }
limits = { c2s = { rate = "2kb/s"; burst = "1s" } }
unlimited_jids = { "vip@localhost" }
VirtualHost "localhost"
`;
  const pings = (n: number) => {
    let s = "";
    // About 1000 bytes each: 12 of them are 6 times the 2000-byte burst.
    for (let i = 0; i < n; i++) s += `<iq type='get' id='p${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>${" ".repeat(930)}`;
    return s;
  };

  it("holds a session to limits.c2s.rate, without losing anything, and unlimited_jids are exempt", async () => {
    ts = await startTestServer({ config });
    await ts.server.accounts("localhost").create("dave", "pw");
    await ts.server.accounts("localhost").create("vip", "pw");

    const vip = await RawClient.login(ts.c2sPort, "vip", "pw", { noTls: true, mechanism: "PLAIN" });
    vip.write(pings(12));
    for (let i = 0; i < 12; i++) expect((await vip.next(10000)).attrs.id).toBe(`p${i}`);

    const dave = await RawClient.login(ts.c2sPort, "dave", "pw", { noTls: true, mechanism: "PLAIN" });
    const start = Date.now();
    dave.write(pings(12));
    const got: string[] = [];
    const reading = (async () => {
      for (let i = 0; i < 12; i++) got.push((await dave.next(20000)).attrs.id);
    })();
    // 12 000 bytes at 2000 bytes/s after a 2000-byte burst need about 5 s: after 1.5 s some are
    // still unread (a lower bound on time, which load can only make longer).
    await new Promise((r) => setTimeout(r, 1500));
    expect(got.length).toBeLessThan(12);
    await reading;
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`));
    expect(Date.now() - start).toBeGreaterThanOrEqual(3000);
    vip.close();
    dave.close();
  }, 30000);
});

/**
 * A WebSocket stream, opened; resolves once the server has sent its first stanza-level element
 * (`first`); `got` keeps every message it sends.
 */
async function wsOpen(port: number, headers: Record<string, string> = {}, localAddress?: string): Promise<{ ws: WebSocket; got: string[]; first: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, "xmpp", { headers, localAddress });
  const got: string[] = [];
  ws.on("message", (d) => got.push(String(d)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
  const deadline = Date.now() + 5000;
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { ws, got, first: got[1] ?? "" };
}

describe("clients behind a reverse proxy (WebSocket)", () => {
  it("count per forwarded client address (trusted_proxies), not per proxy", async () => {
    ts = await startTestServer({ config: `${PLAIN}c2s_max_unauthenticated_per_ip = 1\nVirtualHost "localhost"\n` });
    // Two clients behind the proxy at 127.0.0.1 (trusted by default): one place each.
    const a = await wsOpen(ts.httpPort, { "X-Forwarded-For": "203.0.113.7" });
    const b = await wsOpen(ts.httpPort, { "X-Forwarded-For": "198.51.100.1, 203.0.113.8" });
    expect(a.first).toContain("stream:features");
    expect(b.first).toContain("stream:features");
    // The same client again: over its cap.
    const again = await wsOpen(ts.httpPort, { "X-Forwarded-For": "203.0.113.7" });
    expect(again.first).toContain("policy-violation");
    // A peer that is not a trusted proxy cannot choose its address by the header.
    const direct = await wsOpen(ts.httpPort, { "X-Forwarded-For": "192.0.2.55" }, "127.0.0.2");
    expect(direct.first).toContain("stream:features");
    const spoofing = await wsOpen(ts.httpPort, { "X-Forwarded-For": "192.0.2.56" }, "127.0.0.2");
    expect(spoofing.first).toContain("policy-violation");
    for (const c of [a, b, again, direct, spoofing]) c.ws.terminate();
  });
});

describe("read rate over WebSocket (mod_limits)", () => {
  it("holds whole messages back until the allowance has refilled, losing none", async () => {
    ts = await startTestServer({ config: `${PLAIN}modules_enabled = { "limits"; "register" }\nlimits = { c2s = { rate = "2kb/s"; burst = "1s" } }\nVirtualHost "localhost"\n` });
    const { ws, got } = await wsOpen(ts.httpPort);
    const replies = () => got.filter((m) => m.includes("id='r")).length;
    // 10 messages of about 1000 bytes: 5 times the burst, about 4 s at 2000 bytes/s.
    for (let i = 0; i < 10; i++) ws.send(`<iq xmlns='jabber:client' type='get' id='r${i}' pad='${"x".repeat(900)}'><query xmlns='jabber:iq:register'/></iq>`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(replies()).toBeLessThan(10);
    const end = Date.now() + 20000;
    while (replies() < 10 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(replies(), got.join("\n")).toBe(10);
    ws.terminate();
  }, 30000);
});
