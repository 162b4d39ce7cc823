// `herald check [section]`: read the configuration the way `start` would and report what would go
// wrong, in sections like `prosodyctl check`: disabled (hosts), config (warnings with file:line,
// misplaced and deprecated options), modules (per host: what loads, unknown, built-in, disabled,
// conflicting), certs (expiry, names), dns (SRV and A/AAAA records), ports (where each service
// listens and whether its ports are free) and files (modes of the data directory).
// Without a section every one runs. Exit status 1 when a FAIL was reported.

import { createServer } from "node:net";
import { Server } from "../src/server.js";
import { Host } from "../src/hosts/host.js";
import { existsSync } from "node:fs";
import { formatDiagnostic } from "../src/config/options.js";
import { describeOpenMode, openModes } from "../src/util/file-modes.js";
import { serviceInterfaces, type Service } from "../src/net/interfaces.js";
import { LogRouter, createLogger } from "../src/util/logger.js";
import type { ShippedModules } from "../src/server.js";
import type { LoadedConfig } from "./load-config.js";
import { checkCerts, checkConfig, checkDisabledHosts, checkDns, checkModuleNames, type DnsOptions, type Reporter } from "./check-sections.js";

import { CHECK_SECTIONS, type CheckSection } from "./check-names.js";
export { CHECK_SECTIONS, type CheckSection } from "./check-names.js";

export async function runCheck(loaded: LoadedConfig, modules: ShippedModules, what?: string, opts: { dns?: DnsOptions } = {}): Promise<number> {
  if (what !== undefined && !(CHECK_SECTIONS as readonly string[]).includes(what)) {
    console.error(`herald: unknown check '${what}'; the checks are: ${CHECK_SECTIONS.join(", ")}`);
    return 1;
  }
  const run = (s: CheckSection) => what === undefined || what === s;
  const { config } = loaded;
  let problems = 0;
  let warnings = 0;
  const r: Reporter = {
    ok: (msg) => console.log(`  ok    ${msg}`),
    warn: (msg) => {
      warnings++;
      console.log(`  warn  ${msg}`);
    },
    bad: (msg) => {
      problems++;
      console.log(`  FAIL  ${msg}`);
    },
    heading: (msg) => console.log(msg),
  };

  console.log(`Configuration: ${loaded.source}`);
  const server = new Server({ config, ...modules, baseDir: loaded.baseDir, logRouter: new LogRouter([]) });

  if (run("disabled")) {
    console.log("Checking disabled hosts...");
    checkDisabledHosts(config, r);
  }

  if (run("config")) {
    console.log("Checking config...");
    checkConfig(config, r);
  }

  if (run("modules")) {
    console.log("Checking modules...");
    const log = createLogger(new LogRouter([]));
    const { registry } = modules;
    const known = (name: string) => registry[name] !== undefined;
    for (const h of config.hosts) {
      const host = new Host(h.name, h.kind === "Component" ? "component" : "local", config.host(h.name), log, h.module);
      const plan = server.moduleListFor(host);
      r.heading!(`${h.kind} "${h.name}"${h.module ? ` "${h.module}"` : ""} (${h.file}:${h.line})`);
      r.ok(`modules: ${plan.load.join(", ") || "(none)"}`);
      for (const w of plan.warnings) r.warn(w);
      if (h.kind === "Component" && h.module && !registry[h.module]) r.bad(`component module '${h.module}' is not available`);
      checkModuleNames(config, h.name, known, r);
    }
  }

  if (run("certs")) {
    console.log("Checking certificates...");
    checkCerts(config, loaded.baseDir, server.dataPath, r);
  }

  if (run("dns")) {
    console.log("Checking DNS records...");
    await checkDns(config, r, opts.dns);
  }

  if (run("ports")) {
    const g = config.global;
    console.log("Checking ports...");
    const portList: Array<[string, number[]]> = [
      ["c2s_ports", g.ports("c2s_ports", [5222])],
      ["c2s_direct_tls_ports", g.ports("c2s_direct_tls_ports", [5223])],
      ["http_ports", g.ports("http_ports", [5280])],
      ["https_ports", g.ports("https_ports", [5281])],
    ];
    for (const [name, ports] of portList) {
      const service = name.replace(/_ports$/, "") as Service;
      const ifs = serviceInterfaces(g, service);
      r.ok(`${service} listens on ${ifs.names.map((n) => `[${n}]`).join(", ") || "(no interface)"} (from ${ifs.from})`);
      for (const port of ports) {
        const err = await tryListen(port);
        if (err) r.bad(`${name}: port ${port} ${err}`);
        else r.ok(`${name}: port ${port} is free`);
      }
    }
  }

  if (run("files")) {
    console.log(`Checking the data directory ${server.dataPath}...`);
    const open = openModes(server.dataPath);
    if (!existsSync(server.dataPath)) r.ok("will be created with mode 0700");
    else if (open.length === 0) r.ok("only readable by its owner");
    for (const m of open) r.warn(describeOpenMode(m));
  }

  if (run("config")) {
    // Last, so that the option readers above have added what they found.
    console.log("Configuration warnings");
    if (config.warnings.length === 0) r.ok("none");
    for (const w of config.warnings) r.warn(formatDiagnostic(w));
  }
  console.log(problems ? `${problems} problem(s) found` : warnings ? `All checks passed, with ${warnings} warning(s)` : "All checks passed");
  return problems ? 1 : 0;
}

function tryListen(port: number): Promise<string | undefined> {
  return new Promise((resolveP) => {
    const s = createServer();
    s.once("error", (e: NodeJS.ErrnoException) => resolveP(e.code === "EADDRINUSE" ? "is in use (is Herald or another server running?)" : e.code === "EACCES" ? "needs privileges" : e.message));
    s.listen(port, () => s.close(() => resolveP(undefined)));
  });
}
