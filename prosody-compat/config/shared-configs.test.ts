// Parses the real Prosody configuration files kept in /work/shared and checks concrete values.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigError, ConfigTable, loadConfigFile, parseConfig, toPlain, type ConfigSection, type ParsedConfig } from "./index.js";
import { optionsOf, warningsOf } from "./test-helpers.js";
import { sharedDir } from "../../test/helpers/shared.js";

const { path: CONFIGS, available } = sharedDir("prosody-config", "the tests on real Prosody configurations are");
const SHARED = path.dirname(CONFIGS);

function host(cfg: ParsedConfig, name: string): ConfigSection {
  const h = cfg.hosts.find((s) => s.name === name);
  if (!h) throw new Error(`no host ${name}`);
  return h;
}

function value(section: ConfigSection, name: string): unknown {
  const v = section.options.get(name)?.value;
  return v === undefined ? undefined : toPlain(v);
}

const SCANSION_MODULES = [
  "roster", "saslauth", "disco", "carbons", "pep", "private", "blocklist", "vcard4", "vcard_legacy",
  "version", "uptime", "time", "ping", "register", "mam", "server_contact_info", "lastactivity",
  "external_services", "tombstones", "user_account_management", "debug_reset",
];

/** Checks shared by prosody-config/scansion-test.cfg.lua and scansion/prosody.cfg.lua (same text). */
function checkScansionConfig(cfg: ParsedConfig): void {
  const g = cfg.global;
  expect(value(g, "modules_enabled")).toEqual(SCANSION_MODULES);
  expect(value(g, "modules_disabled")).toEqual(["s2s"]);
  expect(value(g, "network_backend")).toBe("epoll");
  expect(g.options.has("network_settings")).toBe(false);
  expect(value(g, "contact_info")).toEqual({
    abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"],
    admin: ["mailto:admin@localhost", "xmpp:admin@localhost"],
    feedback: ["http://localhost/feedback.html", "mailto:feedback@localhost", "xmpp:feedback@localhost"],
    sales: ["xmpp:sales@localhost"],
    security: ["xmpp:security@localhost"],
    status: ["gopher://status.localhost"],
    support: ["https://localhost/support.html", "xmpp:support@localhost"],
  });
  const services = g.options.get("external_services")?.value as ConfigTable;
  expect(services.length).toBe(5);
  expect(toPlain(services.array[1])).toEqual({ type: "turn", transport: "udp", secret: true });
  expect(toPlain(services.array[4])).toEqual({
    type: "ftp", transport: "tcp", host: "ftp.example.com", port: 21, username: "john", password: "password",
  });
  expect(value(g, "external_service_port")).toBe(9876);
  expect(value(g, "allow_registration")).toBe(false);
  expect(value(g, "c2s_require_encryption")).toBe(false);
  expect(value(g, "allow_unencrypted_plain_auth")).toBe(true);
  expect(value(g, "authentication")).toBe("insecure");
  expect(value(g, "insecure_open_authentication")).toBe("Yes please, I know what I'm doing!");
  expect(value(g, "storage")).toBe("memory");
  expect(value(g, "certificates")).toBe(".");
  expect(value(g, "pidfile")).toBe("prosody.pid");
  expect(value(g, "log")).toEqual(["*console"]); // debug = ENV_PROSODY_LOGFILE is nil

  expect(cfg.hosts.map((h) => [h.kind, h.name, h.module])).toEqual([
    ["VirtualHost", "localhost", undefined],
    ["Component", "conference.localhost", "muc"],
    ["Component", "pubsub.localhost", "pubsub"],
    ["Component", "upload.localhost", "http_file_share"],
  ]);
  expect(optionsOf(host(cfg, "localhost"))).toEqual({ hide_os_type: true });
  expect(optionsOf(host(cfg, "conference.localhost"))).toEqual({
    storage: "memory",
    admins: ["Admin@localhost"],
    modules_enabled: ["muc_mam"],
  });
  expect(optionsOf(host(cfg, "pubsub.localhost"))).toEqual({ storage: "memory", expose_publisher: true });
  // The last two lines are not indented but still belong to the upload Component (Prosody semantics).
  expect(optionsOf(host(cfg, "upload.localhost"))).toEqual({
    http_file_share_size_limit: 10000000,
    http_file_share_allowed_file_types: ["text/plain", "image/*"],
  });
  expect(host(cfg, "upload.localhost").options.get("http_file_share_size_limit")).toMatchObject({ line: 137, column: 1 });
}

describe.skipIf(!available)("real Prosody configs (in ../shared)", () => {
  test("every file in prosody-config/ parses", () => {
    const names = fs.readdirSync(CONFIGS).filter((n) => n.endsWith(".lua"));
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      const cfg = loadConfigFile(path.join(CONFIGS, name), {});
      expect(cfg.global.kind).toBe("global");
    }
  });

  test("scansion/prosody.cfg.lua: admins from FileLines relative to the file, one warning", () => {
    const file = path.join(SHARED, "scansion/prosody.cfg.lua");
    const cfg = loadConfigFile(file, {});
    checkScansionConfig(cfg);
    expect(value(cfg.global, "admins")).toEqual(["admin@localhost"]);
    expect(cfg.files).toEqual([file, path.join(SHARED, "scansion/admins.txt")]);
    expect(warningsOf(cfg)).toEqual([
      `${file}:6:20: option 'network_settings' ignored: unsupported Lua construct 'Lua.require'`,
    ]);
  });

  test("prosody-config/scansion-test.cfg.lua: no admins.txt beside it, so admins is skipped too", () => {
    const file = path.join(CONFIGS, "scansion-test.cfg.lua");
    const cfg = loadConfigFile(file, {});
    checkScansionConfig(cfg);
    expect(cfg.global.options.has("admins")).toBe(false);
    expect(cfg.warnings.map((w) => [w.line, w.column])).toEqual([
      [3, 10],
      [6, 20],
    ]);
    expect(cfg.warnings[0].message).toMatch(/^option 'admins' ignored: FileLines: cannot read '.*admins\.txt'/);
  });

  test("scansion config with environment variables set", () => {
    const file = path.join(SHARED, "scansion/prosody.cfg.lua");
    const cfg = loadConfigFile(file, { PROSODY_NETWORK_BACKEND: "select", PROSODY_LOGFILE: "/tmp/p.log" });
    expect(value(cfg.global, "network_backend")).toBe("select");
    expect(value(cfg.global, "log")).toEqual({ "1": "*console", debug: "/tmp/p.log" });
  });

  test("prosody-config/debian-default.cfg.lua", () => {
    const file = path.join(CONFIGS, "debian-default.cfg.lua");
    const cfg = loadConfigFile(file, {});
    const g = cfg.global;
    const modules = value(g, "modules_enabled") as string[];
    expect(modules).toHaveLength(26);
    expect(modules.slice(0, 4)).toEqual(["disco", "roster", "saslauth", "tls"]);
    expect(modules.slice(-3)).toEqual(["admin_adhoc", "admin_shell", "posix"]);
    expect(modules).not.toContain("mam"); // commented out
    expect(value(g, "admins")).toEqual([]);
    expect(value(g, "modules_disabled")).toEqual([]);
    expect(value(g, "plugin_paths")).toEqual(["/usr/local/lib/prosody/modules"]);
    expect(value(g, "pidfile")).toBe("/run/prosody/prosody.pid");
    expect(value(g, "s2s_secure_auth")).toBe(true);
    expect(value(g, "limits")).toEqual({ c2s: { rate: "10kb/s" }, s2sin: { rate: "30kb/s" } });
    expect(value(g, "authentication")).toBe("internal_hashed");
    expect(value(g, "archive_expires_after")).toBe("1w");
    expect(value(g, "certificates")).toBe("certs");
    const log = g.options.get("log")?.value as ConfigTable;
    expect(log.get("info")).toBe("/var/log/prosody/prosody.log");
    expect(log.get("error")).toBe("/var/log/prosody/prosody.err");
    expect(toPlain(log.array[0])).toEqual({ levels: ["error"], to: "syslog" });
    expect(cfg.hosts.map((h) => [h.kind, h.name])).toEqual([["VirtualHost", "localhost"]]);
    expect(cfg.hosts[0].options.size).toBe(0);
    expect(cfg.warnings).toHaveLength(1);
    expect(cfg.warnings[0]).toMatchObject({ line: 262, column: 1 });
    expect(cfg.warnings[0].message).toMatch(/^Include "conf\.d\/\*\.cfg\.lua": directory '.*conf\.d' does not exist/);
  });

  describe("debian-default.cfg.lua with a conf.d directory beside it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "herald-config-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("Include picks up conf.d/*.cfg.lua from the real file system", () => {
      fs.copyFileSync(path.join(CONFIGS, "debian-default.cfg.lua"), path.join(dir, "prosody.cfg.lua"));
      fs.mkdirSync(path.join(dir, "conf.d"));
      fs.writeFileSync(path.join(dir, "conf.d/example.com.cfg.lua"), `VirtualHost "example.com"\n  allow_registration = true\n`);
      fs.writeFileSync(path.join(dir, "conf.d/muc.cfg.lua"), `Component "rooms.example.com" "muc"\n`);
      fs.writeFileSync(path.join(dir, "conf.d/notes.txt"), `not included`);
      const cfg = loadConfigFile(path.join(dir, "prosody.cfg.lua"), {});
      expect(cfg.hosts.map((h) => [h.name, h.module])).toEqual([
        ["localhost", undefined],
        ["example.com", undefined],
        ["rooms.example.com", "muc"],
      ]);
      expect(optionsOf(host(cfg, "example.com"))).toEqual({ allow_registration: true });
      expect(cfg.warnings).toEqual([]);
    });
  });

  test("prosody-config/migrator.cfg.lua: locals are fine, input/output calls are skipped", () => {
    const file = path.join(CONFIGS, "migrator.cfg.lua");
    const cfg = loadConfigFile(file, {});
    expect(cfg.global.options.size).toBe(0);
    expect(cfg.hosts).toEqual([]);
    expect(warningsOf(cfg)).toEqual([
      `${file}:23:1: unsupported Lua construct 'input(...)'; statement ignored`,
      `${file}:32:1: unsupported Lua construct 'output(...)'; statement ignored`,
    ]);
  });

  test("prosody-reference/prosody.cfg.lua.in: placeholders are a syntax error until filled in", () => {
    const file = path.join(SHARED, "prosody-reference/prosody.cfg.lua.in");
    const template = fs.readFileSync(file, "utf8");
    expect(() => parseConfig(template, file, { env: {} })).toThrow(ConfigError);
    try {
      parseConfig(template, file, { env: {} });
    } catch (err) {
      expect((err as ConfigError).message).toBe(`${file}:20:15: unexpected symbol near '@'`);
    }
    const cfg = parseConfig(template.replaceAll("@DIR@", "/srv/ref").replaceAll("@PORT@", "15222"), file, { env: {} });
    expect(value(cfg.global, "c2s_ports")).toEqual([15222]);
    expect(value(cfg.global, "s2s_ports")).toEqual([]);
    expect(value(cfg.global, "data_path")).toBe("/srv/ref/data");
    expect(value(cfg.global, "log")).toEqual([{ levels: { min: "info" }, to: "file", filename: "/srv/ref/prosody.log" }]);
    expect(value(cfg.global, "modules_disabled")).toEqual(["s2s", "tls"]);
    expect(cfg.hosts.map((h) => [h.name, h.module])).toEqual([
      ["localhost", undefined],
      ["pubsub.localhost", "pubsub"],
    ]);
    expect(cfg.warnings).toEqual([]);
  });
});
