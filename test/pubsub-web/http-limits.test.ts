// The HTTP listeners' limits, on the pubsub endpoints, with raw sockets and fetch on loopback:
// header size (http_max_header_size), slow headers and slow bodies (http_headers_timeout,
// http_request_timeout: slowloris), idle kept-alive connections (http_keepalive_timeout), the body
// of a publish (http_max_content_size), and event streams per client address
// (pubsub_http_sse_max_streams_per_ip, X-Forwarded-For of trusted proxies counted per client).

import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { createNode, login, startPubsubServer } from "../pubsub/helpers.js";

let ts: TestServer;
let admin: RawClient;

const basic = (user: string, pw = "pw") => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const url = (path: string) => `http://127.0.0.1:${ts.httpPort}/pubsub/pubsub.localhost${path}`;

beforeAll(async () => {
  ts = await startPubsubServer({
    transport: "sockets",
    component: `modules_enabled = { "pubsub_http"; "pubsub_post" }\npubsub_http_rate_limit = 0\npubsub_http_sse_max_streams_per_ip = 2`,
    global: `http_max_header_size = 2048
http_keepalive_timeout = 30
http_max_content_size = 2048
c2s_stanza_size_limit = 10240`,
  });
  admin = await login(ts, "admin");
  await createNode(admin, "news");
});

afterAll(async () => {
  admin?.close();
  await ts?.stop();
});

/** A raw connection to the HTTP port that collects what it reads and knows when it is closed. */
async function raw(port = ts.httpPort): Promise<{ sock: Socket; text: () => string; closed: Promise<void> }> {
  const sock = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
  let got = "";
  sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  sock.on("error", () => undefined);
  return { sock, text: () => got, closed };
}

/** Resolves true when `p` settles within `ms`. */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe("HTTP listener limits", () => {
  it("refuses request headers larger than http_max_header_size with 431", async () => {
    const r = await fetch(url("/news"), { headers: { "x-padding": "a".repeat(3000) } });
    expect(r.status).toBe(431);
    expect((await fetch(url("/news"), { headers: { "x-padding": "a".repeat(500) } })).status).toBe(200);
  });

  it("keeps an idle connection open between requests for http_keepalive_timeout", async () => {
    const c = await raw();
    const get = `GET /pubsub/pubsub.localhost/news?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    c.sock.write(get);
    const deadline = Date.now() + 10_000;
    while (!c.text().includes("\r\n\r\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 /);
    // Longer than Node's 5 s default, well within the configured 30 s.
    expect(await within(c.closed, 6_000)).toBe(false);
    c.sock.write(get);
    while ((c.text().match(/HTTP\/1\.1 200 /g) ?? []).length < 2 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 20));
    expect((c.text().match(/HTTP\/1\.1 200 /g) ?? []).length).toBe(2);
    c.sock.destroy();
  });

  it("limits a publish's body to http_max_content_size when it is below c2s_stanza_size_limit", async () => {
    const post = (size: number) =>
      fetch(url("/news"), {
        method: "POST",
        headers: { authorization: basic("admin@localhost"), "content-type": "application/json" },
        body: JSON.stringify({ text: "x".repeat(size) }),
      });
    expect((await post(3000)).status).toBe(413);
    expect((await post(1000)).status).toBe(201);
  });

  it("limits event streams per client address (pubsub_http_sse_max_streams_per_ip), counting each client behind a trusted proxy", async () => {
    const opened: AbortController[] = [];
    const open = async (headers: Record<string, string> = {}) => {
      const ac = new AbortController();
      opened.push(ac);
      const r = await fetch(url("/news/events"), { headers, signal: ac.signal });
      if (r.status !== 200) ac.abort();
      return r.status;
    };
    try {
      expect(await open()).toBe(200);
      expect(await open()).toBe(200);
      expect(await open()).toBe(429);
      // Another client behind the (trusted, loopback) proxy has its own allowance.
      expect(await open({ "x-forwarded-for": "203.0.113.7" })).toBe(200);
      expect(await open({ "x-forwarded-for": "203.0.113.7" })).toBe(200);
      expect(await open({ "x-forwarded-for": "203.0.113.7" })).toBe(429);
      // A stream that ends gives its place back.
      opened[0].abort();
      const deadline = Date.now() + 15_000;
      let status = 429;
      while (status === 429 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = await open();
      }
      expect(status).toBe(200);
    } finally {
      for (const ac of opened) ac.abort();
    }
  });
});

describe("slow clients (http_headers_timeout, http_request_timeout)", () => {
  // A server of their own: the other tests' requests must not race such short timeouts on a busy machine.
  let slowServer: TestServer;
  beforeAll(async () => {
    slowServer = await startPubsubServer({ transport: "sockets", component: `modules_enabled = { "pubsub_http"; "pubsub_post" }`, global: "http_headers_timeout = 1\nhttp_request_timeout = 2" });
  });
  afterAll(async () => {
    await slowServer?.stop();
  });

  it("closes a client that sends its headers too slowly (http_headers_timeout), with 408", async () => {
    const c = await raw(slowServer.httpPort);
    c.sock.write(`GET /pubsub/pubsub.localhost/news HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    // A header line now and then, never the end of the headers.
    let n = 0;
    const trickle = setInterval(() => c.sock.writable && c.sock.write(`X-Slow-${n++}: a\r\n`), 200);
    try {
      expect(await within(c.closed, 20_000)).toBe(true);
    } finally {
      clearInterval(trickle);
      c.sock.destroy();
    }
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("closes an HTTPS client that does not start its TLS handshake within http_headers_timeout", async () => {
    const c = await raw(slowServer.httpsPort);
    try {
      expect(await within(c.closed, 20_000)).toBe(true);
    } finally {
      c.sock.destroy();
    }
  });

  it("closes a client that sends its body too slowly (http_request_timeout), with 408", async () => {
    const c = await raw(slowServer.httpPort);
    c.sock.write(
      `POST /pubsub/pubsub.localhost/news HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic("admin@localhost")}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`,
    );
    let n = 0;
    const trickle = setInterval(() => c.sock.writable && n++ < 500 && c.sock.write(" "), 200);
    try {
      expect(await within(c.closed, 20_000)).toBe(true);
    } finally {
      clearInterval(trickle);
      c.sock.destroy();
    }
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe("connections per address without a request (http_max_pending_per_ip)", () => {
  let server: TestServer;
  beforeAll(async () => {
    // Loopback is not a trusted proxy here, so the test's own connections count.
    server = await startPubsubServer({ transport: "sockets", component: `modules_enabled = { "pubsub_http" }\npubsub_http_rate_limit = 0`, global: "trusted_proxies = { }\nhttp_max_pending_per_ip = 3\nhttp_keepalive_timeout = 60" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("closes connections beyond the limit at once, idle kept-alive ones included; one that is done frees its place", async () => {
    const answered = async (c: Awaited<ReturnType<typeof raw>>, n: number) => {
      const deadline = Date.now() + 10_000;
      while ((c.text().match(/HTTP\/1\.1 200 /g) ?? []).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((c.text().match(/HTTP\/1\.1 200 /g) ?? []).length).toBe(n);
    };
    const get = (close: boolean) => `GET /pubsub/pubsub.localhost HTTP/1.1\r\nHost: 127.0.0.1\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
    // One connection answered and kept alive (waiting for its next request), two that sent nothing.
    const kept = await raw(server.httpPort);
    kept.sock.write(get(false));
    await answered(kept, 1);
    const socks = [kept, await raw(server.httpPort), await raw(server.httpPort)];
    try {
      const extra = await raw(server.httpPort);
      expect(await within(extra.closed, 10_000)).toBe(true);
      expect(extra.text()).toBe("");
      // The kept-alive one sends its last request (Connection: close): once it is closed there is room.
      kept.sock.write(get(true));
      await answered(kept, 2);
      expect(await within(kept.closed, 10_000)).toBe(true);
      const next = await raw(server.httpPort);
      socks.push(next);
      expect(await within(next.closed, 1_000)).toBe(false);
      // The pending ones were never closed, and a request on one of them is answered.
      socks[1].sock.write(get(false));
      await answered(socks[1], 1);
      for (const c of socks.slice(1)) expect(c.sock.destroyed).toBe(false);
    } finally {
      for (const c of socks) c.sock.destroy();
    }
  });
});
