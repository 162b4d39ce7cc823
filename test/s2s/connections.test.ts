// The life of s2s connections: bounded waiting (s2s_timeout, s2s_send_queue_size), idle connections
// closed (s2s_idle_timeout), direct TLS (XEP-0368), and SRV ordering.

import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, freePort, login, startPair, type Pair } from "./helpers.js";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { orderSrv } from "../../src/net/s2s-resolve.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition as condition } from "../helpers/errors.js";

describe("a remote server that never answers", () => {
  let silent: Server;
  const sockets: Socket[] = [];
  let ts: TestServer;
  beforeAll(async () => {
    const port = await freePort("127.0.0.4");
    silent = createServer((s) => sockets.push(s)); // accepts, never says a word
    await new Promise<void>((ok) => silent.listen(port, "127.0.0.4", ok));
    ts = await startTestServer({
      config: `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
modules_enabled = { "ping" }
s2s_timeout = 2
s2s_send_queue_size = 2
s2s_connect_overrides = { ["silent.test"] = "127.0.0.4:${port}" }
VirtualHost "a.test"
`,
    });
    await ts.server.accounts("a.test").create("alice", "pw");
  });
  afterAll(async () => {
    await ts?.stop();
    for (const s of sockets) s.destroy();
    silent?.close();
  });

  it("bounces what waited with remote-server-timeout after s2s_timeout, and more than s2s_send_queue_size at once", async () => {
    const alice = await login(ts, "alice", "a.test");
    const started = Date.now();
    const errors = new Map<string, { at: number; el: Element }>();
    const collect = async (count: number) => {
      while (errors.size < count) {
        const el = await alice.next(15000);
        if (el.name === "iq" && el.attrs.id) errors.set(el.attrs.id, { at: Date.now() - started, el });
      }
    };
    alice.send(`<iq type='get' to='silent.test' id='w1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    alice.send(`<iq type='get' to='silent.test' id='w2'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await new Promise((r) => setTimeout(r, 200));
    alice.send(`<iq type='get' to='silent.test' id='w3'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await collect(1);
    // The third did not fit in the queue: refused at once, not after the timeout.
    expect([...errors.keys()]).toEqual(["w3"]);
    expect(errors.get("w3")!.at).toBeLessThan(1900);
    await collect(3);
    for (const { el } of errors.values()) {
      expect(el.attrs.type).toBe("error");
      expect(condition(el)).toBe("remote-server-timeout");
      expect(el.attrs.from).toBe("silent.test");
    }
    // The queued ones waited for s2s_timeout (2 s), and not much longer.
    expect(errors.get("w1")!.at).toBeGreaterThanOrEqual(1900);
    expect(errors.get("w1")!.at).toBeLessThan(12000);
    alice.close();
  });
});

describe("idle connections", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ extra: "s2s_idle_timeout = 1" });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("are closed after s2s_idle_timeout, and opened again for the next stanza", async () => {
    const alice = await login(pair.a, "alice", A.domain);
    const ping = () => alice.iq(`<iq type='get' to='${B.domain}' id='p${Date.now()}'><ping xmlns='urn:xmpp:ping'/></iq>`, 15000);
    expect((await ping()).attrs.type).toBe("result");
    expect(pair.a.server.s2s!.list().some((s) => s.direction === "out")).toBe(true);
    const until = Date.now() + 15000;
    while (Date.now() < until && pair.a.server.s2s!.list().some((s) => s.direction === "out")) await new Promise((r) => setTimeout(r, 100));
    expect(pair.a.server.s2s!.list().filter((s) => s.direction === "out")).toEqual([]);
    expect((await ping()).attrs.type).toBe("result");
    alice.close();
  });
});

describe("direct TLS (XEP-0368)", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ directTls: true });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("connects to s2s_direct_tls_ports and exchanges messages", async () => {
    expect(pair.a.server.listeners.map((l) => l.kind)).toContain("s2s_direct_tls");
    const alice = await login(pair.a, "alice", A.domain);
    const bob = await login(pair.b, "bob", B.domain);
    bob.send("<presence/>");
    await new Promise((r) => setTimeout(r, 100));
    alice.send(`<message type='chat' to='bob@${B.domain}' id='d1'><body>over direct TLS</body></message>`);
    for (;;) {
      const m = await bob.next(15000);
      if (m.name === "message") {
        expect(m.getChildText("body")).toBe("over direct TLS");
        break;
      }
    }
    expect(pair.a.server.s2s!.list().find((s) => s.direction === "out")).toMatchObject({ secure: true, ready: true });
    alice.close();
    bob.close();
  });
});

describe("SRV ordering (RFC 2782, XEP-0368)", () => {
  it("orders by priority, direct TLS first among equals, then by weight", () => {
    const recs = [
      { name: "c", port: 5269, priority: 20, weight: 0, directTls: false },
      { name: "a", port: 5269, priority: 10, weight: 0, directTls: false },
      { name: "t", port: 5270, priority: 10, weight: 0, directTls: true },
    ];
    expect(orderSrv(recs).map((r) => r.name)).toEqual(["t", "a", "c"]);
    const weighted = [
      { name: "light", port: 1, priority: 5, weight: 1, directTls: false },
      { name: "heavy", port: 1, priority: 5, weight: 99, directTls: false },
    ];
    // The weighted pick: a draw in the first 1% picks "light", anything above "heavy".
    expect(orderSrv(weighted, () => 0.5).map((r) => r.name)).toEqual(["heavy", "light"]);
    expect(orderSrv(weighted, () => 0.001).map((r) => r.name)).toEqual(["light", "heavy"]);
  });
});
