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
      if (h.kind === "Component" && h.module === undefined) {
        // XEP-0114: without a secret no component can authenticate (Prosody refuses it too).
        if (!plan.load.includes("component")) r.bad(`external component with mod_component disabled: no handshake is possible, it cannot connect`);
        else if (config.host(h.name).string("component_secret", "")) r.ok(`external component: connects with component_secret on component_ports`);
        else r.bad(`external component without component_secret: it cannot connect (or give it a module: Component "${h.name}" "<module>")`);
      }
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
      // Federation's listeners, unless "s2s" is in modules_disabled.
      ...(g.array("modules_disabled", []).includes("s2s")
        ? []
        : ([["s2s_ports", g.ports("s2s_ports", [5269])], ["s2s_direct_tls_ports", g.ports("s2s_direct_tls_ports", [])]] as Array<[string, number[]]>)),
    ];
    // External components (XEP-0114): the listener exists only when a Component has no module.
    const external = config.hosts.filter((h) => h.kind === "Component" && h.module === undefined).map((h) => h.name);
    if (external.length) {
      portList.push(["component_ports", g.ports("component_ports", [5347])]);
      // XEP-0114 streams are plain TCP, the secret's hash travels in clear: loopback (or a private network) only.
      const open = serviceInterfaces(g, "component").names.filter((n) => !/^(127\.|::1$|localhost$)/.test(n));
      if (open.length) r.warn(`component_interfaces: ${open.map((n) => `[${n}]`).join(", ")} is not loopback; component streams are not encrypted, so keep them on loopback or a private network`);
    } else r.ok("component: no external Component is configured, so Herald does not listen for components");
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
