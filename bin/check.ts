// `herald check`: read the configuration the way `start` would and report what would go wrong:
// config warnings (file:line), hosts and their modules, certificates, and whether the ports are free.

import { createServer } from "node:net";
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { Server } from "../src/server.js";
import { Host } from "../src/hosts/host.js";
import { certCovers, findInCertificatesDir, loadPair } from "../src/net/certs.js";
import { formatDiagnostic } from "../src/config/options.js";
import { describeOpenMode, openModes } from "../src/util/file-modes.js";
import { serviceInterfaces, type Service } from "../src/net/interfaces.js";
import { LogRouter, createLogger } from "../src/util/logger.js";
import type { ModuleRegistry } from "../src/modules/api.js";
import type { LoadedConfig } from "./load-config.js";

export async function runCheck(loaded: LoadedConfig, registry: ModuleRegistry): Promise<number> {
  const { config } = loaded;
  let problems = 0;
  const ok = (msg: string) => console.log(`  ok    ${msg}`);
  const warn = (msg: string) => console.log(`  warn  ${msg}`);
  const bad = (msg: string) => {
    problems++;
    console.log(`  FAIL  ${msg}`);
  };

  console.log(`Configuration: ${loaded.source}`);
  const log = createLogger(new LogRouter([]));
  const server = new Server({ config, registry, baseDir: loaded.baseDir, logRouter: new LogRouter([]) });
  const hosts = config.hosts.filter((h) => h.kind === "VirtualHost");
  if (hosts.length === 0) bad("no VirtualHost: nobody can log in");
  for (const h of config.hosts) {
    const host = new Host(h.name, h.kind === "Component" ? "component" : "local", config.host(h.name), log, h.module);
    const plan = server.moduleListFor(host);
    console.log(`${h.kind} "${h.name}"${h.module ? ` "${h.module}"` : ""} (${h.file}:${h.line})`);
    ok(`modules: ${plan.load.join(", ") || "(none)"}`);
    for (const w of plan.warnings) warn(w);
    if (h.kind === "Component" && h.module && !registry[h.module]) bad(`component module '${h.module}' is not available`);
    if (h.kind === "VirtualHost") {
      const o = config.host(h.name);
      const cert = o.string("certificate", "");
      const key = o.string("key", "");
      const abs = (p: string) => (isAbsolute(p) ? p : resolve(loaded.baseDir, p));
      const fromDir = cert || key ? undefined : findInCertificatesDir(abs(o.string("certificates", "certs")), h.name);
      if ((cert && key) || fromDir) {
        try {
          const pair = fromDir ? loadPair(fromDir.cert, fromDir.key) : loadPair(abs(cert), abs(key));
          if (certCovers(pair.cert, h.name)) ok(`certificate ${pair.source} covers ${h.name}`);
          else bad(`certificate ${pair.source} does not cover ${h.name}`);
        } catch (err) {
          bad(`certificate/key for ${h.name}: ${(err as Error).message}`);
        }
      } else if (cert || key) {
        bad(`set both 'certificate' and 'key' for ${h.name}`);
      } else {
        const generated = join(server.dataPath, "certs", `${h.name}.crt`);
        ok(existsSync(generated) ? `self-signed certificate ${generated}` : `a self-signed certificate will be generated in ${join(server.dataPath, "certs")}`);
      }
    }
  }

  const g = config.global;
  console.log("Ports");
  const portList: Array<[string, number[]]> = [
    ["c2s_ports", g.ports("c2s_ports", [5222])],
    ["c2s_direct_tls_ports", g.ports("c2s_direct_tls_ports", [5223])],
    ["http_ports", g.ports("http_ports", [5280])],
    ["https_ports", g.ports("https_ports", [5281])],
  ];
  for (const [name, ports] of portList) {
    const service = name.replace(/_ports$/, "") as Service;
    const ifs = serviceInterfaces(g, service);
    ok(`${service} listens on ${ifs.names.map((n) => `[${n}]`).join(", ") || "(no interface)"} (from ${ifs.from})`);
    for (const port of ports) {
      const err = await tryListen(port);
      if (err) bad(`${name}: port ${port} ${err}`);
      else ok(`${name}: port ${port} is free`);
    }
  }

  console.log(`Data directory ${server.dataPath}`);
  const open = openModes(server.dataPath);
  if (!existsSync(server.dataPath)) ok("will be created with mode 0700");
  else if (open.length === 0) ok("only readable by its owner");
  for (const m of open) warn(describeOpenMode(m));

  console.log("Configuration warnings");
  if (config.warnings.length === 0) ok("none");
  for (const w of config.warnings) warn(formatDiagnostic(w));
  console.log(problems ? `${problems} problem(s) found` : "All checks passed");
  return problems ? 1 : 0;
}

function tryListen(port: number): Promise<string | undefined> {
  return new Promise((resolveP) => {
    const s = createServer();
    s.once("error", (e: NodeJS.ErrnoException) => resolveP(e.code === "EADDRINUSE" ? "is in use (is Herald or another server running?)" : e.code === "EACCES" ? "needs privileges" : e.message));
    s.listen(port, () => s.close(() => resolveP(undefined)));
  });
}
