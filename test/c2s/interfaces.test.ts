// Which addresses each listener binds: Prosody's portmanager rules (<service>_interfaces, the
// pre-0.9 <service>_interface, local_interfaces for the private http service, interfaces,
// interface, then the defaults), checked on the configuration and on real listening sockets.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { Config } from "../../src/config/options.js";
import { serviceInterfaces } from "../../src/net/interfaces.js";
import { Server } from "../../src/server.js";
import { LogRouter } from "../../src/util/logger.js";
import { shippedModules } from "../../modules/index.js";

const config = (text: string) => new Config(parseConfig(text, "test.cfg.lua", { env: {}, baseDir: "/" }));
const names = (text: string) => {
  const g = config(text).global;
  return Object.fromEntries((["c2s", "c2s_direct_tls", "http", "https"] as const).map((s) => [s, serviceInterfaces(g, s).names]));
};

describe("interfaces per service", () => {
  it("defaults: every address for c2s, direct TLS and https; loopback for plain http", () => {
    expect(names("")).toEqual({ c2s: ["*", "::"], c2s_direct_tls: ["*", "::"], http: ["127.0.0.1", "::1"], https: ["*", "::"] });
    expect(names("use_ipv6 = false")).toEqual({ c2s: ["*"], c2s_direct_tls: ["*"], http: ["127.0.0.1"], https: ["*"] });
  });

  it("c2s_interfaces is for c2s only: no other service inherits it", () => {
    expect(names('c2s_interfaces = { "192.0.2.1" }')).toEqual({
      c2s: ["192.0.2.1"],
      c2s_direct_tls: ["*", "::"],
      http: ["127.0.0.1", "::1"],
      https: ["*", "::"],
    });
  });

  it("interfaces is the default of every public service; http keeps loopback unless told", () => {
    expect(names('interfaces = { "192.0.2.1" }\nc2s_direct_tls_interfaces = { "192.0.2.2" }')).toEqual({
      c2s: ["192.0.2.1"],
      c2s_direct_tls: ["192.0.2.2"],
      http: ["127.0.0.1", "::1"],
      https: ["192.0.2.1"],
    });
    expect(names('interfaces = { "192.0.2.1" }\nlocal_interfaces = { "192.0.2.9" }').http).toEqual(["192.0.2.9"]);
    expect(names('interfaces = { "192.0.2.1" }\nlocal_interfaces = { "192.0.2.9" }\nhttp_interfaces = { "*" }').http).toEqual(["*"]);
  });

  it("the pre-0.9 singular spellings still count, after the plural ones", () => {
    expect(names('interface = "192.0.2.1"\nhttps_interface = "192.0.2.3"')).toEqual({
      c2s: ["192.0.2.1"],
      c2s_direct_tls: ["192.0.2.1"],
      http: ["127.0.0.1", "::1"],
      https: ["192.0.2.3"],
    });
    expect(names('c2s_interfaces = { "192.0.2.4" }\nc2s_interface = "192.0.2.5"').c2s).toEqual(["192.0.2.4"]);
  });

  it("the listeners bind what the rules say", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-ifaces-"));
    const server = new Server({
      config: config(
        `data_path = ${JSON.stringify(dir)}\nstorage = "memory"\ninterfaces = { "127.0.0.2" }\nc2s_interfaces = { "127.0.0.1" }\n` +
          `local_interfaces = { "127.0.0.3" }\nVirtualHost "localhost"\n`,
      ),
      ...shippedModules,
      baseDir: dir,
      logRouter: new LogRouter([]),
      portOverride: { c2s: [0], c2s_direct_tls: [0], http: [0], https: [0] },
      adminSocket: false,
    });
    try {
      await server.start();
      const bound = Object.fromEntries(server.listeners.map((l) => [l.kind, l.address]));
      expect(bound).toEqual({ c2s: "127.0.0.1", c2s_direct_tls: "127.0.0.2", http: "127.0.0.3", https: "127.0.0.2" });
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
