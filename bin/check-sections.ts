// The sections of `herald check` that follow `prosodyctl check`: config (misplaced and deprecated
// options), modules (unknown, built-in, disabled, conflicting), certs (expiry, names covering each
// host and component) and dns (SRV and A/AAAA records of each host, with short timeouts).
// Each takes a Reporter and only reports; runCheck() in check.ts decides which sections run.

import { X509Certificate } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { rootCertificates } from "node:tls";
import { isAbsolute, join, resolve } from "node:path";
import type { Config } from "../src/config/options.js";
import { certCovers, findInCertificatesDir, loadPair } from "../src/net/certs.js";
import { configuredCAs } from "../src/net/s2s-service.js";

export interface Reporter {
  ok(msg: string): void;
  warn(msg: string): void;
  bad(msg: string): void;
  /** A line naming what the next results are about (a host). */
  heading?(msg: string): void;
}

const where = (o: { file: string; line: number }) => `${o.file}:${o.line}`;

/**
 * Options only the global section is read for (Herald's listeners, data and logging, and the
 * ones Prosody's own check lists): set under a VirtualHost or Component they do nothing.
 */
const GLOBAL_ONLY = new Set([
  "data_path", "storage", "log", "log_buffer_size", "pidfile", "admin_socket", "interfaces", "c2s_ports", "c2s_interfaces",
  "c2s_direct_tls_ports", "c2s_direct_tls_interfaces", "http_ports", "http_interfaces", "https_ports",
  "https_interfaces", "consider_websocket_secure", "consider_bosh_secure", "daemonize", "gc", "network_backend",
  "network_settings", "plugin_paths", "prosody_user", "prosody_group", "run_as_root", "s2s_require_encryption",
  "s2s_secure_auth", "s2s_secure_domains", "s2s_insecure_domains", "statistics", "statistics_interval", "tls_profile",
  "trusted_proxies", "umask", "use_ipv4", "use_ipv6", "tcp_keepalives", "s2s_ports", "s2s_interfaces",
  "s2s_direct_tls_ports", "s2s_direct_tls_interfaces", "s2s_timeout", "s2s_idle_timeout", "s2s_send_queue_size",
  "s2s_stanza_size_limit", "s2s_send_buffer_limit", "s2s_keepalive_interval", "s2s_connect_overrides", "dialback_secret",
]);

/** Prosody's deprecated options and what to use instead. */
const DEPRECATED: Record<string, string> = {
  anonymous_login: 'authentication = "anonymous"',
  daemonize: "nothing: Herald always runs in the foreground (leave detaching to the service manager)",
  no_daemonize: "nothing: Herald always runs in the foreground (leave detaching to the service manager)",
  disallow_s2s: 'modules_disabled = { "s2s" }',
  require_encryption: "c2s_require_encryption and s2s_require_encryption",
  use_libevent: 'network_backend = "event"',
  whitelist_registration_only: "allowlist_registration_only",
  registration_whitelist: "registration_allowlist",
  registration_blacklist: "registration_blocklist",
  legacy_ssl_ports: "c2s_direct_tls_ports",
  legacy_ssl_interfaces: "c2s_direct_tls_interfaces",
  legacy_ssl_port: "c2s_direct_tls_ports",
  bosh_ports: "http_ports",
};

export function checkConfig(config: Config, r: Reporter): void {
  const parsed = config.parsed;
  if (parsed.global.options.size === 0 && parsed.hosts.length > 0) {
    r.warn("no global options: is a VirtualHost or Component at the top of the file? Global options go above every host section");
  }
  if (!config.hosts.some((h) => h.kind === "VirtualHost")) r.bad("no VirtualHost: nobody can log in");
  for (const [name, opt] of parsed.global.options) {
    if (DEPRECATED[name]) r.warn(`${where(opt)}: '${name}' is deprecated; instead, use ${DEPRECATED[name]}`);
  }
  for (const section of parsed.hosts) {
    for (const [name, opt] of section.options) {
      if (GLOBAL_ONLY.has(name)) {
        r.warn(`${where(opt)}: '${name}' is set under ${section.kind} "${section.name}", where it has no effect: move it to the global section, above every host`);
      } else if (DEPRECATED[name]) {
        r.warn(`${where(opt)}: '${name}' is deprecated; instead, use ${DEPRECATED[name]}`);
      }
    }
  }
  if (config.global.string("storage", "internal") === "memory") r.warn('storage = "memory": accounts and data are lost when Herald stops');
}

/** Modules named wrongly or twice over, per host (what Server.moduleListFor() reports comes separately). */
export function checkModuleNames(config: Config, host: string, known: (name: string) => boolean, r: Reporter): void {
  const o = config.host(host);
  const enabled = new Set(o.array("modules_enabled", []));
  for (const m of enabled) {
    if (m.startsWith("mod_")) r.warn(`modules_enabled: write '${m.slice(4)}', not '${m}' (no mod_ prefix)`);
    else if (m.startsWith("auth_")) r.warn(`modules_enabled: '${m}' is an authentication provider: set authentication = "${m.slice(5)}" instead`);
    else if (m.startsWith("storage_")) r.warn(`modules_enabled: '${m}' is a storage driver: set storage = "${m.slice(8)}" instead`);
  }
  if (enabled.has("vcard") && enabled.has("vcard_legacy")) r.warn("both 'vcard' and 'vcard_legacy' are enabled; they conflict: remove one");
  const disabled = [...o.set("modules_disabled")];
  if (disabled.length) r.ok(`disabled: ${disabled.join(", ")}`);
  for (const m of disabled) if (!known(m)) r.warn(`modules_disabled: '${m}' is not a module Herald has; nothing to disable`);
}

/** Hosts switched off with `enabled = false`. */
export function checkDisabledHosts(config: Config, r: Reporter): string[] {
  const off = config.hosts.filter((h) => config.host(h.name).hasOwn("enabled") && !config.host(h.name).boolean("enabled", true)).map((h) => h.name);
  if (off.length) r.warn(`these hosts are disabled (enabled = false): ${off.join(", ")}`);
  else r.ok("no host is disabled");
  return off;
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

const DAY = 86_400_000;

/** Expiry and validity of one certificate (PEM, the first of a chain). */
export function checkCertDates(pem: string, source: string, r: Reporter, now = Date.now()): void {
  const x = new X509Certificate(pem);
  const notAfter = Date.parse(x.validTo);
  const notBefore = Date.parse(x.validFrom);
  if (notAfter < now) r.bad(`certificate ${source} expired on ${new Date(notAfter).toISOString().slice(0, 10)}`);
  else if (notBefore > now) r.bad(`certificate ${source} is not valid before ${new Date(notBefore).toISOString().slice(0, 10)}`);
  else if (notAfter - now < 30 * DAY) r.warn(`certificate ${source} expires in ${Math.ceil((notAfter - now) / DAY)} day(s), on ${new Date(notAfter).toISOString().slice(0, 10)}`);
  else r.ok(`certificate ${source} is valid until ${new Date(notAfter).toISOString().slice(0, 10)}`);
}

/** The certificates of a PEM file (a chain: the leaf first). */
function pemCerts(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c));
}

/** Does the chain lead to one of these CAs (what other servers check before SASL EXTERNAL)? */
export function chainTrusted(chainPem: string, cas: X509Certificate[]): boolean {
  const chain = pemCerts(chainPem);
  let current = chain[0];
  for (let hops = 0; current && hops < 8; hops++) {
    // Issuer name and signature (X509Certificate.checkIssued also wants key identifiers some CAs omit).
    const issued = (by: X509Certificate) => by.subject === current.issuer && current.verify(by.publicKey);
    if (cas.some(issued)) return true;
    const next = chain.find((c) => c !== current && issued(c));
    if (!next || next.fingerprint256 === current.fingerprint256) return false;
    current = next;
  }
  return false;
}

/** Certificates per VirtualHost and Component: readable, matching their key, in date, covering the name. */
export function checkCerts(config: Config, baseDir: string, dataPath: string, r: Reporter, now = Date.now()): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  type Found = { cert: string; source: string };
  const found = new Map<string, Found>();
  /** VirtualHosts whose self-signed certificate (for the host and *.host) is not generated yet. */
  const pending: string[] = [];
  /** The host's configured certificate (its own options, or the certificates directory). */
  const configured = (name: string): Found | undefined | "error" => {
    const o = config.host(name);
    const cert = o.string("certificate", "");
    const key = o.string("key", "");
    try {
      if (cert && key) return loadPair(abs(cert), abs(key));
      if (cert || key) {
        r.bad(`set both 'certificate' and 'key' for ${name}`);
        return "error";
      }
      const fromDir = findInCertificatesDir(abs(o.string("certificates", "certs")), name);
      if (fromDir) return loadPair(fromDir.cert, fromDir.key);
    } catch (err) {
      r.bad(`certificate/key for ${name}: ${(err as Error).message}`);
      return "error";
    }
    return undefined;
  };
  const s2sOn = !config.global.array("modules_disabled", []).includes("s2s");
  let cas: X509Certificate[] | undefined;
  /** The system's CAs, ssl.cafile and ssl.capath (what another Herald with the same settings trusts). */
  const trusted = (): X509Certificate[] => {
    if (cas) return cas;
    cas = rootCertificates.flatMap((p) => pemCerts(p));
    const { pems, errors } = configuredCAs(config.global, baseDir);
    for (const e of errors) r.warn(e);
    for (const p of pems) cas.push(...pemCerts(p));
    return cas;
  };
  // VirtualHosts first: a component is usually covered by its parent host's certificate.
  const ordered = [...config.hosts.filter((h) => h.kind === "VirtualHost"), ...config.hosts.filter((h) => h.kind === "Component")];
  for (const h of ordered) {
    r.heading?.(`${h.kind} "${h.name}"`);
    let cert = configured(h.name);
    if (cert === "error") continue;
    if (!cert && h.kind === "VirtualHost") {
      const generated = join(dataPath, "certs", `${h.name}.crt`);
      if (!existsSync(generated)) {
        pending.push(h.name);
        r.ok(`no certificate configured: a self-signed one will be generated in ${join(dataPath, "certs")}`);
        continue;
      }
      cert = { cert: readFileSync(generated, "utf8"), source: `${generated} (generated, self-signed)` };
    }
    if (!cert) {
      const parent = [...found.entries()].find(([, f]) => certCovers(f.cert, h.name));
      const toGenerate = pending.find((v) => h.name.endsWith(`.${v}`));
      if (!parent && toGenerate) {
        r.ok(`${h.name} will be covered by the self-signed certificate generated for ${toGenerate}`);
        continue;
      }
      if (!parent) {
        r.warn(`no certificate covers ${h.name} (other servers will need one to reach it)`);
        continue;
      }
      cert = { cert: parent[1].cert, source: `${parent[1].source}, of ${parent[0]},` };
    }
    found.set(h.name, cert);
    try {
      checkCertDates(cert.cert, cert.source, r, now);
    } catch (err) {
      r.bad(`certificate ${cert.source}: ${(err as Error).message}`);
      continue;
    }
    if (certCovers(cert.cert, h.name)) r.ok(`certificate ${cert.source} covers ${h.name}`);
    else r.bad(`certificate ${cert.source} does not cover ${h.name}`);
    if (s2sOn) {
      if (chainTrusted(cert.cert, trusted())) r.ok(`certificate ${cert.source} leads to a trusted CA: other servers can authenticate ${h.name} with SASL EXTERNAL (XEP-0178)`);
      // The generated one is self-signed by design: said, not warned about.
      else if (cert.source.includes("generated, self-signed")) r.ok(`other servers can authenticate ${h.name} only by dialback with this self-signed certificate (those with s2s_secure_auth refuse it)`);
      else r.warn(`certificate ${cert.source} is not signed by a CA other servers trust: they can only authenticate ${h.name} by dialback, and those with s2s_secure_auth refuse it`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

export interface DnsOptions {
  /** Per query (default 3000 ms); every query runs at once, so the section takes about this long at most. */
  timeoutMs?: number;
  /** DNS servers ("ip" or "ip:port"); default: the system's. */
  servers?: string[];
}

/** Names that never resolve in public DNS (RFC 6761, RFC 6762, and dotless names). */
export function isPublicName(name: string): boolean {
  if (!name.includes(".")) return false;
  return !/\.(localhost|local|test|invalid|example|internal|lan|home\.arpa)$/i.test(name) && !/^(example\.(com|net|org))$/i.test(name);
}

const NOT_FOUND = new Set(["ENOTFOUND", "ENODATA", "NOTFOUND", "NODATA"]);

type Lookup<T> = { ok: true; value: T } | { ok: false; code: string };

async function lookup<T>(p: Promise<T>, timeoutMs: number): Promise<Lookup<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Lookup<T>>((res) => {
    timer = setTimeout(() => res({ ok: false, code: "ETIMEOUT" }), timeoutMs + 500);
  });
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value })), timeout]);
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? "error" };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SRV records _xmpp-client._tcp, _xmpps-client._tcp and _xmpp-server._tcp of each VirtualHost
 * (_xmpp-server._tcp for Components), their targets' and the host's own A/AAAA records. Names
 * that are not public DNS names are skipped. A failed lookup is reported ("could not resolve"),
 * never waited on longer than the timeout. Everything found here is a warning at worst: DNS is
 * often set up elsewhere on purpose (a proxy, another machine).
 */
export async function checkDns(config: Config, r: Reporter, opts: DnsOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (opts.servers) resolver.setServers(opts.servers);
  const g = config.global;
  const c2sPorts = g.ports("c2s_ports", [5222]);
  const tlsPorts = g.ports("c2s_direct_tls_ports", [5223]);
  // Federation: on unless "s2s" is in modules_disabled; its SRV records should lead to this machine.
  const s2sOn = !g.array("modules_disabled", []).includes("s2s");
  const s2sPorts = g.ports("s2s_ports", [5269]);
  const s2sTlsPorts = g.ports("s2s_direct_tls_ports", []);
  const ownAddresses = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
  const addresses = async (name: string): Promise<{ a: Lookup<string[]>; aaaa: Lookup<string[]> }> => {
    const [a, aaaa] = await Promise.all([lookup(resolver.resolve4(name), timeoutMs), lookup(resolver.resolve6(name), timeoutMs)]);
    return { a, aaaa };
  };
  const describeAddrs = (x: { a: Lookup<string[]>; aaaa: Lookup<string[]> }) =>
    [...(x.a.ok ? x.a.value : []), ...(x.aaaa.ok ? x.aaaa.value : [])].join(", ");
  const failure = (x: { a: Lookup<string[]>; aaaa: Lookup<string[]> }) =>
    [x.a, x.aaaa].find((l) => !l.ok && !NOT_FOUND.has(l.code)) as { code: string } | undefined;

  // Every query of every host at once; reports in host order afterwards.
  const jobs = config.hosts.map(async (h) => {
    const lines: Array<["ok" | "warn" | "bad", string]> = [];
    if (!isPublicName(h.name)) {
      lines.push(["ok", `${h.name} is not a public DNS name: skipped`]);
      return { h, lines };
    }
    const server = s2sOn ? (["_xmpp-server._tcp", "_xmpps-server._tcp"] as const) : ([] as const);
    const services = h.kind === "VirtualHost" ? (["_xmpp-client._tcp", "_xmpps-client._tcp", ...server] as const) : server;
    const [own, ...srvs] = await Promise.all([addresses(h.name), ...services.map((s) => lookup(resolver.resolveSrv(`${s}.${h.name}`), timeoutMs))]);
    let reachable = own.a.ok || own.aaaa.ok;
    for (const [i, service] of services.entries()) {
      const res = srvs[i];
      const name = `${service}.${h.name}`;
      if (!res.ok) {
        if (NOT_FOUND.has(res.code)) {
          const fallback = service === "_xmpp-client._tcp" ? `clients will try ${h.name}:5222` : service === "_xmpp-server._tcp" ? `other servers will try ${h.name}:5269` : "direct TLS (XEP-0368) is not advertised";
          if (service === "_xmpps-server._tcp" && !s2sTlsPorts.length) continue; // not offered: nothing to advertise
          lines.push(["warn", `no ${name} SRV record found (${res.code}): ${fallback}`]);
        } else lines.push(["warn", `could not resolve ${name} SRV (${res.code})`]);
        continue;
      }
      const records = res.value.filter((s) => s.name !== "" && s.name !== ".");
      if (records.length === 0) {
        // RFC 6120 §3.2.1: "." means the service is decidedly not offered; for servers, that is only
        // right when federation is off here, or when direct TLS (_xmpps-server) is offered instead.
        const tlsIndex = (services as readonly string[]).indexOf("_xmpps-server._tcp");
        const tls = tlsIndex >= 0 ? srvs[tlsIndex] : undefined;
        const viaTls = tls?.ok === true && tls.value.some((x) => x.name !== "" && x.name !== ".");
        if (service === "_xmpp-server._tcp" && !viaTls) {
          lines.push(["warn", `${name} says the service is not offered here (target "."), but federation is on: other servers will not connect to ${h.name}`]);
        } else lines.push(["ok", `${name} says the service is not offered here (target ".")`]);
        continue;
      }
      for (const s of records) {
        const target = await addresses(s.name);
        const addrs = describeAddrs(target);
        if (addrs) {
          reachable = true;
          lines.push(["ok", `${name} SRV -> ${s.name}:${s.port} (${addrs})`]);
        } else {
          const f = failure(target);
          lines.push(["warn", `${name} SRV -> ${s.name}:${s.port}, but ${f ? `could not resolve ${s.name} (${f.code})` : `${s.name} has no A/AAAA record`}`]);
        }
        const isServer = service === "_xmpp-server._tcp" || service === "_xmpps-server._tcp";
        if (isServer && addrs && ![...(target.a.ok ? target.a.value : []), ...(target.aaaa.ok ? target.aaaa.value : [])].some((a) => ownAddresses.has(a))) {
          lines.push(["warn", `${name} SRV -> ${s.name} (${addrs}) is none of this machine's addresses: other servers will connect elsewhere (fine behind NAT or a proxy)`]);
        }
        const expected =
          service === "_xmpp-client._tcp" ? c2sPorts
          : service === "_xmpps-client._tcp" ? tlsPorts
          : service === "_xmpp-server._tcp" ? s2sPorts
          : s2sTlsPorts;
        if (expected && !expected.includes(s.port)) {
          lines.push(["warn", `${name} SRV points at port ${s.port}, but Herald listens on ${expected.join(", ") || "no port"} for it`]);
        }
      }
    }
    const addrs = describeAddrs(own);
    if (addrs) lines.push(["ok", `${h.name} A/AAAA: ${addrs}`]);
    else {
      const f = failure(own);
      const code = f?.code ?? (own.a.ok ? "" : own.a.code);
      lines.push(["warn", `could not resolve ${h.name} (A/AAAA: ${code || "no records"})${reachable ? "" : ", and no SRV record leads elsewhere: clients and servers cannot find it"}`]);
    }
    return { h, lines };
  });
  for (const { h, lines } of await Promise.all(jobs)) {
    r.heading?.(`${h.kind} "${h.name}"`);
    for (const [kind, msg] of lines) (r[kind] as (m: string) => void)(msg);
  }
}
