// `herald check` on federation: `certs`, whether each host's certificate leads to a CA other servers
// trust (then they can use SASL EXTERNAL), with the system store, ssl.cafile and ssl.capath; `dns`,
// the _xmpp-server and _xmpps-server SRV records, asked of a DNS server on loopback.

import { describe, expect, it } from "vitest";
import { Config } from "../../src/config/options.js";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { checkCerts, checkDns, type Reporter } from "../../bin/check-sections.js";
import { generateSelfSigned } from "../../src/net/certs.js";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDns } from "../helpers/dns-server.js";
import { makePki } from "./helpers.js";

function collect(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, ok: (m) => lines.push(`ok ${m}`), warn: (m) => lines.push(`warn ${m}`), bad: (m) => lines.push(`FAIL ${m}`) };
}

describe("herald check certs, for s2s", () => {
  it("says which certificates other servers can verify (SASL EXTERNAL) and which only allow dialback", () => {
    const pki = makePki(["a.test"]);
    const self = generateSelfSigned(["b.test"]);
    writeFileSync(join(pki.dir, "b.crt"), self.cert);
    writeFileSync(join(pki.dir, "b.key"), self.key);
    const text = `ssl = { cafile = "ca.pem" }
VirtualHost "a.test"
certificate = "a.test.crt"
key = "a.test.key"
VirtualHost "b.test"
certificate = "b.crt"
key = "b.key"
`;
    const config = new Config(parseConfig(text, "c.cfg.lua", { env: {}, baseDir: pki.dir }));
    const r = collect();
    checkCerts(config, pki.dir, pki.dir, r);
    expect(r.lines.some((l) => l.startsWith("ok certificate") && l.includes("a.test.crt") && l.includes("leads to a trusted CA"))).toBe(true);
    expect(r.lines.some((l) => l.startsWith("warn certificate") && l.includes("b.crt") && l.includes("only authenticate b.test by dialback"))).toBe(true);

    // Without ssl.cafile the test CA is nobody's: a.test falls back to dialback too.
    const r2 = collect();
    checkCerts(new Config(parseConfig(text.replace(/^ssl = .*$/m, ""), "c.cfg.lua", { env: {}, baseDir: pki.dir })), pki.dir, pki.dir, r2);
    expect(r2.lines.some((l) => l.startsWith("warn certificate") && l.includes("a.test.crt") && l.includes("dialback"))).toBe(true);
  });
});

describe("herald check certs, with ssl.capath", () => {
  it("counts the CAs of a hashed directory (openssl rehash) as trusted, as the server does", () => {
    const pki = makePki(["a.test"]);
    const capath = mkdtempSync(join(tmpdir(), "herald-check-capath-"));
    try {
      copyFileSync(pki.caFile, join(capath, "test-ca.pem"));
      const rehash = spawnSync("openssl", ["rehash", capath], { encoding: "utf8" });
      expect(rehash.status, rehash.stderr).toBe(0);
      expect(readdirSync(capath).some((n) => /^[0-9a-f]{8}\.0$/.test(n))).toBe(true);
      const text = `ssl = { capath = ${JSON.stringify(capath)} }\nVirtualHost "a.test"\ncertificate = "a.test.crt"\nkey = "a.test.key"\n`;
      const r = collect();
      checkCerts(new Config(parseConfig(text, "c.cfg.lua", { env: {}, baseDir: pki.dir })), pki.dir, pki.dir, r);
      expect(r.lines.some((l) => l.startsWith("ok certificate") && l.includes("a.test.crt") && l.includes("leads to a trusted CA")), r.lines.join("\n")).toBe(true);
      // A capath that does not exist is said.
      const r2 = collect();
      checkCerts(new Config(parseConfig(text.replace(capath, join(capath, "nowhere")), "c.cfg.lua", { env: {}, baseDir: pki.dir })), pki.dir, pki.dir, r2);
      expect(r2.lines).toContain(`warn ssl.capath ${join(capath, "nowhere")} does not exist`);
      expect(r2.lines.some((l) => l.startsWith("warn certificate") && l.includes("a.test.crt") && l.includes("dialback"))).toBe(true);
    } finally {
      rmSync(capath, { recursive: true, force: true });
    }
  });
});

describe("herald check dns, for s2s", () => {
  const configOf = (text: string) => new Config(parseConfig(text, "dns.cfg.lua", { env: {}, baseDir: tmpdir() }));

  it("reads the _xmpp-server and _xmpps-server SRV records: target addresses, ports, and a service said not to be offered", async () => {
    const dns = await startDns({
      "fed.herald-test.net": [{ type: "A", ip: "127.0.0.1" }],
      "_xmpp-server._tcp.fed.herald-test.net": [{ type: "SRV", priority: 0, weight: 5, port: 5269, target: "xmpp.fed.herald-test.net" }],
      "_xmpps-server._tcp.fed.herald-test.net": [{ type: "SRV", priority: 0, weight: 5, port: 5271, target: "xmpp.fed.herald-test.net" }],
      "xmpp.fed.herald-test.net": [{ type: "A", ip: "127.0.0.1" }],
      "pubsub.fed.herald-test.net": [{ type: "A", ip: "192.0.2.7" }],
      "_xmpp-server._tcp.pubsub.fed.herald-test.net": [{ type: "SRV", priority: 0, weight: 0, port: 5269, target: "elsewhere.herald-test.net" }],
      "elsewhere.herald-test.net": [{ type: "A", ip: "192.0.2.7" }],
      "closed.herald-test.net": [{ type: "A", ip: "127.0.0.1" }],
      "_xmpp-server._tcp.closed.herald-test.net": [{ type: "SRV", priority: 0, weight: 0, port: 0, target: "." }],
    });
    try {
      const r = collect();
      const config = configOf(
        `c2s_ports = { 5222 }\nc2s_direct_tls_ports = { 5223 }\ns2s_ports = { 5269 }\ns2s_direct_tls_ports = { 5270 }\n` +
          `VirtualHost "fed.herald-test.net"\nComponent "pubsub.fed.herald-test.net" "pubsub"\nVirtualHost "closed.herald-test.net"\n`,
      );
      await checkDns(config, r, { servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });
      const fed = "_xmpp-server._tcp.fed.herald-test.net";
      // Leads to this machine, on the port Herald listens on: nothing to warn about.
      expect(r.lines).toContain(`ok ${fed} SRV -> xmpp.fed.herald-test.net:5269 (127.0.0.1)`);
      expect(r.lines.filter((l) => l.startsWith(`warn ${fed}`))).toEqual([]);
      // Direct TLS (XEP-0368) advertised on another port than s2s_direct_tls_ports.
      expect(r.lines).toContain("ok _xmpps-server._tcp.fed.herald-test.net SRV -> xmpp.fed.herald-test.net:5271 (127.0.0.1)");
      expect(r.lines).toContain("warn _xmpps-server._tcp.fed.herald-test.net SRV points at port 5271, but Herald listens on 5270 for it");
      // The component's server record leads to another machine; its direct TLS record is missing.
      expect(r.lines).toContain(
        "warn _xmpp-server._tcp.pubsub.fed.herald-test.net SRV -> elsewhere.herald-test.net (192.0.2.7) is none of this machine's addresses: other servers will connect elsewhere (fine behind NAT or a proxy)",
      );
      expect(r.lines.some((l) => /^warn no _xmpps-server\._tcp\.pubsub\.fed\.herald-test\.net SRV record found \(\w+\): direct TLS \(XEP-0368\) is not advertised$/.test(l))).toBe(true);
      // RFC 6120 §3.2.1: "." says no server-to-server service here, while federation is on.
      expect(r.lines).toContain(
        `warn _xmpp-server._tcp.closed.herald-test.net says the service is not offered here (target "."), but federation is on: other servers will not connect to closed.herald-test.net`,
      );
      expect(r.lines.filter((l) => l.startsWith("FAIL"))).toEqual([]);
    } finally {
      dns.socket.close();
    }
  });

  it("does not ask for the server records when federation is off (modules_disabled = { \"s2s\" })", async () => {
    const dns = await startDns({ "fed.herald-test.net": [{ type: "A", ip: "127.0.0.1" }] });
    try {
      const r = collect();
      await checkDns(configOf(`modules_disabled = { "s2s" }\nVirtualHost "fed.herald-test.net"\n`), r, { servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });
      expect(dns.asked).toContain("_xmpp-client._tcp.fed.herald-test.net/33");
      expect(dns.asked.filter((q) => q.includes("-server."))).toEqual([]);
      expect(r.lines.filter((l) => l.includes("-server."))).toEqual([]);
    } finally {
      dns.socket.close();
    }
  });
});
