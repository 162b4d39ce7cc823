// GET /metrics (mod_http_openmetrics): OpenMetrics text read with a real HTTP request from
// 127.0.0.1 while real clients log in, fail to, send stanzas and publish to the pubsub component on
// LevelDB; the figures move as they should. Access is limited to loopback unless
// openmetrics_allow_ips / openmetrics_allow_cidr say otherwise.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { ATOM, createNode, expectResult, nextMessage, publish, subscribe } from "../pubsub/helpers.js";

const CONFIG = (extra = "") => `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
pubsub_create_node = "local"
modules_enabled = { "ping", "http_openmetrics" }
${extra}
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
  pubsub_create_node = "local"
`;

async function scrape(ts: TestServer): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`http://127.0.0.1:${ts.httpPort}/metrics`);
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

/** The value of one sample, e.g. value(text, 'herald_c2s_stanzas_total{direction="in",kind="iq"}'); 0 when absent. */
function value(text: string, sample: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

const login = (ts: TestServer, user: string, password = "pw") => RawClient.login(ts.c2sPort, user, password, { noTls: true, mechanism: "PLAIN" });

describe("/metrics", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ config: CONFIG() });
    for (const u of ["alice", "bob"]) await ts.server.accounts("localhost").create(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("is OpenMetrics text with families, types and the final # EOF", async () => {
    const r = await scrape(ts);
    expect(r.status).toBe(200);
    expect(r.type).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect(r.text.endsWith("# EOF\n")).toBe(true);
    expect(r.text).toContain("# TYPE herald_c2s_stanzas counter\n");
    expect(r.text).toContain("# TYPE herald_storage_write_seconds histogram\n# UNIT herald_storage_write_seconds seconds\n");
    expect(r.text).toContain("# TYPE prosody_mod_c2s__connections gauge\n");
    expect(value(r.text, "process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(value(r.text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(r.text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(r.text).toMatch(/^nodejs_eventloop_lag_max_seconds \d/m);
    // Every sample line is "name{labels} value" with a known family's name.
    const families = new Set([...r.text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map((m) => m[1]));
    for (const line of r.text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      expect(m, line).not.toBeNull();
      const base = m![1].replace(/_(total|bucket|count|sum)$/, "");
      expect(families.has(base) || families.has(m![1]), line).toBe(true);
      expect(Number.isNaN(Number(m![3])), line).toBe(false);
    }
  });

  it("counts connections, authentications, binds, stanzas in and out", async () => {
    const before = (await scrape(ts)).text;
    const alice = await login(ts, "alice");
    await expect(login(ts, "bob", "wrong")).rejects.toThrow(/authentication failed/);
    try {
      for (let i = 0; i < 3; i++) {
        const pong = await alice.iq(`<iq type='get' id='m${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
        expect(pong.attrs.type).toBe("result");
      }
      const after = (await scrape(ts)).text;
      const delta = (s: string) => value(after, s) - value(before, s);
      expect(delta('herald_c2s_authentications_total{host="localhost",result="success"}')).toBe(1);
      expect(delta('herald_c2s_authentications_total{host="localhost",result="failure"}')).toBe(1);
      expect(delta('herald_c2s_resource_binds_total{host="localhost"}')).toBe(1);
      // The bind iq and three pings in; their four results out.
      expect(delta('herald_c2s_stanzas_total{direction="in",kind="iq"}')).toBe(4);
      expect(delta('herald_c2s_stanzas_total{direction="out",kind="iq"}')).toBe(4);
      expect(value(after, 'prosody_mod_c2s__connections{host="localhost",type="c2s",ip_family="ipv4"}')).toBeGreaterThanOrEqual(1);
      // bob's failed login left an unauthenticated connection open.
      expect(value(after, 'prosody_mod_c2s__connections{host="localhost",type="c2s_unauthed",ip_family="ipv4"}')).toBeGreaterThanOrEqual(1);
    } finally {
      alice.close();
    }
  });

  it("counts pubsub publishes, notifications and subscriptions, and store write latency", async () => {
    const alice = await login(ts, "alice");
    const bob = await login(ts, "bob");
    try {
      const before = (await scrape(ts)).text;
      await createNode(alice, "metrics-news");
      expectResult(await subscribe(bob, "metrics-news"));
      for (const id of ["one", "two"]) {
        expectResult(await publish(alice, "metrics-news", id, ATOM));
        await nextMessage(bob);
      }
      const after = (await scrape(ts)).text;
      const delta = (s: string) => value(after, s) - value(before, s);
      expect(delta('herald_pubsub_published_items_total{host="pubsub.localhost"}')).toBe(2);
      expect(delta('herald_pubsub_notifications_total{host="pubsub.localhost"}')).toBe(2);
      expect(value(after, 'herald_pubsub_subscriptions{host="pubsub.localhost"}')).toBe(1);
      expect(value(after, 'herald_pubsub_nodes{host="pubsub.localhost"}')).toBe(1);
      // Node, subscription and two items written to LevelDB, each timed.
      const writes = (t: string) =>
        ["keyval", "map", "archive"].reduce((n, kind) => n + value(t, `herald_storage_write_seconds_count{driver="leveldb",store="${kind}"}`), 0);
      expect(writes(after) - writes(before)).toBeGreaterThanOrEqual(4);
      const inf = value(after, 'herald_storage_write_seconds_bucket{driver="leveldb",store="archive",le="+Inf"}');
      expect(inf).toBe(value(after, 'herald_storage_write_seconds_count{driver="leveldb",store="archive"}'));
      expect(value(after, 'herald_storage_write_seconds_sum{driver="leveldb",store="archive"}')).toBeGreaterThan(0);
    } finally {
      alice.close();
      bob.close();
    }
  });

  it("answers 405 to other methods, and is gone when the module is unloaded", async () => {
    const post = await fetch(`http://127.0.0.1:${ts.httpPort}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    await post.text();
    const host = ts.server.hosts.get("localhost")!;
    await ts.server.modules.unload(host, "http_openmetrics");
    expect((await scrape(ts)).status).toBe(404);
    await ts.server.modules.load(host, "http_openmetrics");
    expect((await scrape(ts)).status).toBe(200);
  });
});

describe("/metrics access", () => {
  it("refuses loopback when openmetrics_allow_ips leaves it out", async () => {
    const ts = await startTestServer({ config: CONFIG('openmetrics_allow_ips = { "192.0.2.1" }') });
    try {
      const r = await scrape(ts);
      expect(r.status).toBe(403);
      expect(r.text).not.toContain("# EOF");
    } finally {
      await ts.stop();
    }
  });

  it("allows an address inside openmetrics_allow_cidr", async () => {
    const ts = await startTestServer({ config: CONFIG('openmetrics_allow_ips = { }\nopenmetrics_allow_cidr = "127.0.0.0/8"') });
    try {
      const r = await scrape(ts);
      expect(r.status).toBe(200);
      expect(r.text.endsWith("# EOF\n")).toBe(true);
    } finally {
      await ts.stop();
    }
  });

  it("behind a reverse proxy (trusted_proxies), judges the client's address, not the proxy's", async () => {
    // The default trusted_proxies are loopback, as in Prosody: a reverse proxy on this machine.
    const ts = await startTestServer({ config: CONFIG('openmetrics_allow_ips = { "127.0.0.1", "::1", "198.51.100.7" }') });
    try {
      const via = (client: string) => fetch(`http://127.0.0.1:${ts.httpPort}/metrics`, { headers: { "x-forwarded-for": client } });
      const outsider = await via("203.0.113.5");
      expect(outsider.status).toBe(403);
      expect(await outsider.text()).not.toContain("# EOF");
      const allowed = await via("198.51.100.7");
      expect(allowed.status).toBe(200);
      expect((await allowed.text()).endsWith("# EOF\n")).toBe(true);
      // The proxy itself, asking for itself.
      expect((await scrape(ts)).status).toBe(200);
    } finally {
      await ts.stop();
    }
  });

  it("believes X-Forwarded-For only from trusted_proxies", async () => {
    const ts = await startTestServer({ config: CONFIG('trusted_proxies = { "192.0.2.9" }\nopenmetrics_allow_ips = { "198.51.100.7" }') });
    try {
      const r = await fetch(`http://127.0.0.1:${ts.httpPort}/metrics`, { headers: { "x-forwarded-for": "198.51.100.7" } });
      expect(r.status).toBe(403);
      await r.text();
    } finally {
      await ts.stop();
    }
  });
});
