// `herald check [section]`, the sections that follow `prosodyctl check`: config (misplaced and
// deprecated options with file:line), modules (unknown, built-in, disabled, conflicting, mod_
// prefixes), disabled hosts, certs (expired, expiring, names of hosts and components) and dns
// (SRV and A/AAAA records, asked of a real DNS server on loopback; an unreachable server is
// reported as "could not resolve", not waited on).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSelfSigned } from "../../src/net/certs.js";
import { Config } from "../../src/config/options.js";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { checkDns, type Reporter } from "../../bin/check-sections.js";
import { startDns } from "../helpers/dns-server.js";

const HERALD = fileURLToPath(new URL("../../bin/herald", import.meta.url));
const DAY = 86_400_000;
let dir: string;

function check(args: string[]) {
  return spawnSync(process.execPath, [HERALD, "check", ...args], { cwd: dir, encoding: "utf8", timeout: 30000 });
}

function writeCfg(name: string, text: string): string {
  writeFileSync(join(dir, name), `data_path = "data"\nc2s_ports = { }\nc2s_direct_tls_ports = { }\nhttp_ports = { }\nhttps_ports = { }\n${text}`);
  return name;
}

beforeAll(() => {
  if (!existsSync(fileURLToPath(new URL("../../dist/bin/cli.js", import.meta.url)))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "herald-check-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("herald check config, modules, disabled", () => {
  it("reports misplaced and deprecated options with file:line, and module mistakes", () => {
    const cfg = writeCfg(
      "mistakes.cfg.lua",
      `legacy_ssl_ports = { 5223 }; s2s_ports = { } -- 5269 may be taken by another server on a shared test machine
VirtualHost "a.example"
	log = "debug"
	modules_enabled = { "mod_roster"; "auth_ldap"; "vcard"; "vcard_legacy"; "no_such_module" }
	modules_disabled = { "not_a_module" }
VirtualHost "b.example"
	enabled = false
`,
    );
    const r = check(["-c", cfg]);
    const out = r.stdout;
    expect(out).toMatch(/mistakes\.cfg\.lua:6: 'legacy_ssl_ports' is deprecated; instead, use c2s_direct_tls_ports/);
    expect(out).toMatch(/mistakes\.cfg\.lua:8: 'log' is set under VirtualHost "a\.example", where it has no effect/);
    expect(out).toContain("write 'roster', not 'mod_roster'");
    expect(out).toContain('\'auth_ldap\' is an authentication provider: set authentication = "ldap" instead');
    expect(out).toContain("both 'vcard' and 'vcard_legacy' are enabled");
    expect(out).toContain("Module 'no_such_module' is not available in Herald");
    expect(out).toContain("modules_disabled: 'not_a_module' is not a module Herald has");
    expect(out).toContain("these hosts are disabled (enabled = false): b.example");
    // Warnings only: the exit status stays 0.
    expect(r.status, out).toBe(0);
  });

  it("runs one section when asked (like prosodyctl check config), and refuses an unknown one", () => {
    const cfg = writeCfg("one.cfg.lua", 'VirtualHost "a.example"\n\tlog = "debug"\n');
    const r = check(["config", "-c", cfg]);
    expect(r.stdout).toContain("Checking config...");
    expect(r.stdout).not.toContain("Checking certificates...");
    expect(r.stdout).not.toContain("Checking ports...");
    expect(r.stdout).toContain("'log' is set under VirtualHost");
    const bad = check(["everything", "-c", cfg]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("unknown check 'everything'; the checks are: disabled, config, modules, certs, dns, ports");
  });

  it("reports where external components are listened for and which Component has no component_secret", () => {
    const cfg = writeCfg(
      "components.cfg.lua",
      `component_ports = { 15347 }
VirtualHost "a.example"
Component "gateway.a.example"
	component_secret = "s3cret"
Component "nosecret.a.example"
Component "nohandshake.a.example"
	component_secret = "s3cret"
	modules_disabled = { "component" }
Component "pubsub.a.example" "pubsub"
`,
    );
    const ports = check(["ports", "-c", cfg]);
    expect(ports.stdout).toContain("component listens on [127.0.0.1], [::1] (from default (loopback: a private service))");
    expect(ports.stdout).toMatch(/component_ports: port 15347 (is free|.*in use)/);
    const modules = check(["modules", "-c", cfg]);
    expect(modules.stdout).toContain("external component: connects with component_secret on component_ports");
    expect(modules.stdout).toContain("FAIL  external component without component_secret: it cannot connect");
    expect(modules.stdout).toContain("FAIL  external component with mod_component disabled: no handshake is possible, it cannot connect");
    expect(modules.status).toBe(1);

    const open = writeCfg("open-components.cfg.lua", 'component_interfaces = { "*" }\nVirtualHost "a.example"\nComponent "gateway.a.example"\n\tcomponent_secret = "s"\n');
    expect(check(["ports", "-c", open]).stdout).toContain("warn  component_interfaces: [*] is not loopback; component streams are not encrypted");

    const none = writeCfg("no-components.cfg.lua", 'VirtualHost "a.example"\nComponent "pubsub.a.example" "pubsub"\n');
    const r = check(["ports", "-c", none]);
    expect(r.stdout).toContain("component: no external Component is configured, so Herald does not listen for components");
    expect(r.stdout).not.toContain("component_ports");
  });
});

describe("herald check certs", () => {
  it("fails an expired certificate, warns about one expiring within 30 days, checks the names of hosts and components", () => {
    const certs = join(dir, "certs");
    mkdirSync(certs, { recursive: true });
    const put = (name: string, pair: { cert: string; key: string }) => {
      writeFileSync(join(certs, `${name}.crt`), pair.cert);
      writeFileSync(join(certs, `${name}.key`), pair.key);
    };
    put("old.example", generateSelfSigned(["old.example"], 30, Date.now() - 60 * DAY));
    put("soon.example", generateSelfSigned(["soon.example", "*.soon.example"], 10));
    put("wrong.example", generateSelfSigned(["other.example"], 365));
    const cfg = writeCfg(
      "certs.cfg.lua",
      `certificates = "certs"
VirtualHost "old.example"
VirtualHost "soon.example"
VirtualHost "wrong.example"
Component "pubsub.soon.example" "pubsub"
Component "pubsub.elsewhere.example" "pubsub"
`,
    );
    const r = check(["certs", "-c", cfg]);
    const out = r.stdout;
    expect(out).toMatch(/FAIL {2}certificate \S*old\.example\.crt \+ \S+ expired on \d{4}-\d\d-\d\d/);
    expect(out).toMatch(/warn {2}certificate \S*soon\.example\.crt \+ \S+ expires in (10|11) day\(s\)/);
    expect(out).toMatch(/ok {4}certificate \S*soon\.example\.crt \+ \S+ covers soon\.example/);
    expect(out).toMatch(/FAIL {2}certificate \S*wrong\.example\.crt \+ \S+ does not cover wrong\.example/);
    // The component under soon.example is covered by its wildcard; the other by nothing.
    expect(out).toMatch(/ok {4}certificate \S*soon\.example\.crt \+ \S+, of soon\.example, covers pubsub\.soon\.example/);
    expect(out).toContain("no certificate covers pubsub.elsewhere.example");
    expect(r.status).toBe(1);
  });
});

function collect(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, ok: (m) => lines.push(`ok ${m}`), warn: (m) => lines.push(`warn ${m}`), bad: (m) => lines.push(`FAIL ${m}`) };
}

function configOf(text: string): Config {
  return new Config(parseConfig(text, "dns.cfg.lua", { env: {}, baseDir: dir }));
}

describe("herald check dns", () => {
  it("reads the SRV and A/AAAA records of each host and says what is missing or inconsistent", async () => {
    const dns = await startDns({
      "chat.herald-test.net": [{ type: "A", ip: "192.0.2.1" }],
      "_xmpp-client._tcp.chat.herald-test.net": [{ type: "SRV", priority: 0, weight: 5, port: 5222, target: "xmpp.herald-test.net" }],
      "_xmpps-client._tcp.chat.herald-test.net": [{ type: "SRV", priority: 0, weight: 5, port: 443, target: "xmpp.herald-test.net" }],
      "xmpp.herald-test.net": [{ type: "A", ip: "192.0.2.10" }, { type: "AAAA", ip: "2001:db8::10" }],
      "_xmpp-server._tcp.pubsub.chat.herald-test.net": [{ type: "SRV", priority: 0, weight: 0, port: 5269, target: "gone.herald-test.net" }],
    });
    try {
      const r = collect();
      const config = configOf(`c2s_ports = { 5222 }\nc2s_direct_tls_ports = { 5223 }\nVirtualHost "chat.herald-test.net"\nVirtualHost "localhost"\nComponent "pubsub.chat.herald-test.net" "pubsub"\n`);
      await checkDns(config, r, { servers: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });
      expect(r.lines).toContain("ok _xmpp-client._tcp.chat.herald-test.net SRV -> xmpp.herald-test.net:5222 (192.0.2.10, 2001:db8::10)");
      expect(r.lines).toContain("ok _xmpps-client._tcp.chat.herald-test.net SRV -> xmpp.herald-test.net:443 (192.0.2.10, 2001:db8::10)");
      expect(r.lines).toContain("warn _xmpps-client._tcp.chat.herald-test.net SRV points at port 443, but Herald listens on 5223 for it");
      expect(r.lines.some((l) => /^warn no _xmpp-server\._tcp\.chat\.herald-test\.net SRV record found \(\w+\): other servers will try chat\.herald-test\.net:5269$/.test(l))).toBe(true);
      expect(r.lines).toContain("ok chat.herald-test.net A/AAAA: 192.0.2.1");
      expect(r.lines).toContain("ok localhost is not a public DNS name: skipped");
      expect(r.lines.some((l) => l.startsWith("warn _xmpp-server._tcp.pubsub.chat.herald-test.net SRV -> gone.herald-test.net:5269, but "))).toBe(true);
      expect(r.lines.some((l) => l.startsWith("warn could not resolve pubsub.chat.herald-test.net (A/AAAA: "))).toBe(true);
      expect(r.lines.filter((l) => l.startsWith("FAIL"))).toEqual([]);
      expect(dns.asked).toContain("_xmpp-client._tcp.chat.herald-test.net/33");
      expect(dns.asked).not.toContain("localhost/1");
    } finally {
      dns.socket.close();
    }
  });

  it("reports a DNS server that never answers as 'could not resolve', after the timeout", async () => {
    const silent = createSocket("udp4");
    await new Promise<void>((res) => silent.bind(0, "127.0.0.1", () => res()));
    try {
      const r = collect();
      await checkDns(configOf(`VirtualHost "chat.herald-test.net"\n`), r, { servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 300 });
      expect(r.lines).toContain("warn could not resolve _xmpp-client._tcp.chat.herald-test.net SRV (ETIMEOUT)");
      expect(r.lines).toContain("warn could not resolve _xmpp-server._tcp.chat.herald-test.net SRV (ETIMEOUT)");
      expect(r.lines.some((l) => l.startsWith("warn could not resolve chat.herald-test.net (A/AAAA: ETIMEOUT)"))).toBe(true);
    } finally {
      silent.close();
    }
  });

  it("`herald check dns` selects the section and finishes on this machine's resolver", () => {
    const cfg = writeCfg("dns.cfg.lua", 'VirtualHost "localhost"\nVirtualHost "chat.herald-test.net"\n');
    const r = check(["dns", "-c", cfg]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Checking DNS records...");
    expect(r.stdout).not.toContain("Checking config...");
    expect(r.stdout).toContain("ok    localhost is not a public DNS name: skipped");
    // Whatever this machine can resolve, each record gets a line.
    expect(r.stdout).toMatch(/_xmpp-client\._tcp\.chat\.herald-test\.net/);
    expect(r.stdout).toMatch(/chat\.herald-test\.net \(A\/AAAA|chat\.herald-test\.net A\/AAAA/);
  });
});
