// What an admin sees of federation: s2s:show() and s2s:count() in the admin shell, and the s2s
// families of /metrics (mod_http_openmetrics): connections by host, direction and address family,
// stanzas and bytes each way, stanzas waiting for a connection. Real servers on loopback, real HTTP.

import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, MODULES, freePort, login, startPair, type Pair } from "./helpers.js";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { runShellLine } from "../../src/admin/shell.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

async function scrape(ts: TestServer): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${ts.httpPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one sample line, e.g. 'herald_s2s_stanzas_total{direction="in",kind="iq"}'; 0 when absent. */
function value(text: string, sample: string): number {
  for (const line of text.split("\n")) if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  return 0;
}

async function waitFor(c: RawClient, pred: (el: Element) => boolean, timeoutMs = 15000): Promise<Element> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const el = await c.next(Math.max(1, deadline - Date.now()));
    if (pred(el)) return el;
  }
}

const modules = `modules_enabled = { ${[...MODULES, "http_openmetrics"].map((m) => `"${m}"`).join("; ")} }`;

describe("s2s traffic in the shell and /metrics", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ extra: modules });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("counts connections, stanzas and bytes each way", async () => {
    const before = { a: await scrape(pair.a), b: await scrape(pair.b) };
    expect(before.a).toContain("# TYPE herald_s2s_stanzas counter\n");
    expect(before.a).toContain("# TYPE prosody_mod_s2s__connections gauge\n");
    expect(value(before.a, "herald_s2s_queued_stanzas")).toBe(0);
    const outMessages = (t: string) => value(t, 'herald_s2s_stanzas_total{direction="out",kind="message"}');
    const inMessages = (t: string) => value(t, 'herald_s2s_stanzas_total{direction="in",kind="message"}');

    const alice = await login(pair.a, "alice", A.domain);
    const bob = await login(pair.b, "bob", B.domain);
    bob.send("<presence/>");
    const ping = await alice.iq(`<iq type='get' to='${B.domain}' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
    expect(ping.attrs.type).toBe("result");
    for (const k of [1, 2, 3]) alice.send(`<message type='chat' to='bob@${B.domain}' id='m${k}'><body>number ${k}</body></message>`);
    await waitFor(bob, (e) => e.name === "message" && e.getChildText("body") === "number 3");

    const a = await scrape(pair.a);
    const b = await scrape(pair.b);
    expect(outMessages(a) - outMessages(before.a)).toBe(3);
    expect(inMessages(b) - inMessages(before.b)).toBe(3);
    expect(value(a, 'herald_s2s_stanzas_total{direction="out",kind="iq"}')).toBeGreaterThanOrEqual(1);
    expect(value(b, 'herald_s2s_stanzas_total{direction="out",kind="iq"}')).toBeGreaterThanOrEqual(1); // the ping's result
    // Bytes: at least the three messages' bodies each way they went.
    expect(value(a, 'herald_s2s_bytes_total{direction="out"}') - value(before.a, 'herald_s2s_bytes_total{direction="out"}')).toBeGreaterThan(3 * 40);
    expect(value(b, 'herald_s2s_bytes_total{direction="in"}') - value(before.b, 'herald_s2s_bytes_total{direction="in"}')).toBeGreaterThan(3 * 40);
    expect(value(a, `prosody_mod_s2s__connections{host="${A.domain}",direction="outgoing",ip_family="ipv4"}`)).toBe(1);
    expect(value(b, `prosody_mod_s2s__connections{host="${B.domain}",direction="incoming",ip_family="ipv4"}`)).toBe(1);

    // The shell: the stream a.test opened carried the ping and the three messages, b.test's answered the ping.
    const shownA = (await runShellLine(pair.a.server, `s2s:show("${B.domain}")`)).lines.join("\n");
    expect(shownA).toMatch(new RegExp(`${A.domain} -> ${B.domain}\\tauthenticated \\(dialback\\) encrypted\\tin: 0 stanzas, [\\d.]+ (B|KiB); out: 4 stanzas, [\\d.]+ (B|KiB)`));
    expect(shownA).toMatch(new RegExp(`${A.domain} <- ${B.domain}\\tauthenticated \\(dialback\\) encrypted\\tin: 1 stanza, `));
    const shownB = (await runShellLine(pair.b.server, "s2s:show()")).lines.join("\n");
    expect(shownB).toMatch(new RegExp(`${B.domain} <- ${A.domain}\\tauthenticated \\(dialback\\) encrypted\\tin: 4 stanzas, `));
    const count = await runShellLine(pair.a.server, "s2s:count()");
    expect(count.result).toMatch(/1 outgoing and 1 incoming s2s connections, 0 connecting; 0 stanzas waiting for a connection/);
    alice.close();
    bob.close();
  });
});

describe("stanzas waiting for a connection", () => {
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
modules_enabled = { "ping", "http_openmetrics" }
s2s_timeout = 60
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

  it("are shown by s2s:show() and s2s:count() and counted in /metrics", async () => {
    const alice = await login(ts, "alice", "a.test");
    alice.send(`<message to='someone@silent.test' id='w1'><body>1</body></message>`);
    alice.send(`<message to='someone@silent.test' id='w2'><body>2</body></message>`);
    const deadline = Date.now() + 10000;
    while (ts.server.s2s!.queued() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const shown = (await runShellLine(ts.server, "s2s:show()")).lines.join("\n");
    expect(shown).toMatch(/a\.test -> silent\.test\tconnecting \(none\)\tin: 0 stanzas, 0 B; out: 0 stanzas, [\d.]+ (B|KiB); 2 queued/);
    const count = await runShellLine(ts.server, "s2s:count()");
    expect(count.result).toMatch(/0 outgoing and 0 incoming s2s connections, 1 connecting; 2 stanzas waiting for a connection/);
    const text = await scrape(ts);
    expect(value(text, "herald_s2s_queued_stanzas")).toBe(2);
    // A connection that is not established is not counted as one.
    expect(text).not.toMatch(/^prosody_mod_s2s__connections\{/m);
    alice.close();
  });
});
