// Federation, wired from the configuration: the s2s options (Prosody's names), the trusted CAs
// (system store plus `ssl = { cafile = ..., capath = ... }`), the listeners (`s2s_ports`,
// `s2s_direct_tls_ports`, XEP-0368) and the connection manager the router hands remote stanzas to.

import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { isAbsolute, join, resolve } from "node:path";
import { createSecureContext, createServer as createTlsServer, rootCertificates, type SecureContext, type TLSSocket } from "node:tls";
import { ConfigTable, type OptionReader } from "../config/options.js";
import type { Logger } from "../util/logger.js";
import type { CertStore } from "./certs.js";
import { logTlsFailure } from "./failure-log.js";
import type { BindAddress } from "./interfaces.js";
import { closeServer, listenOn, type Listener } from "./listeners.js";
import { S2SInStream, S2SManager, type S2SContext, type S2SOptions } from "./s2s.js";
import type { S2STarget } from "./s2s-resolve.js";
import { S2STransport, type S2STls } from "./s2s-transport.js";
import { parserLimitOptions } from "./stream.js";

/** The s2s options from the global section. */
export function s2sOptions(g: OptionReader, log: Logger): S2SOptions {
  const overrides = new Map<string, S2STarget>();
  const table = g.table("s2s_connect_overrides");
  if (table) {
    for (const domain of Object.keys(table.hash)) {
      const v = table.hash[domain];
      let target: S2STarget | undefined;
      if (typeof v === "string") {
        // "host" or "host:port" ("[v6]:port")
        const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(v);
        if (m) target = { host: m[1], port: m[2] ? Number(m[2]) : 5269, directTls: false };
      } else if (v instanceof ConfigTable) {
        const host = v.get(1);
        const port = v.get(2);
        if (typeof host === "string") target = { host, port: typeof port === "number" ? port : 5269, directTls: v.get("direct_tls") === true };
      }
      if (target) overrides.set(domain.toLowerCase(), target);
      else log.warn(`s2s_connect_overrides: the entry for ${domain} is not "host", "host:port" or { "host", port }`);
    }
  }
  const secret = g.string("dialback_secret", "");
  const maxSendBuffer = g.integer("s2s_send_buffer_limit", 64 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 });
  return {
    requireEncryption: g.boolean("s2s_require_encryption", true),
    secureAuth: g.boolean("s2s_secure_auth", false),
    secureDomains: new Set(g.array("s2s_secure_domains", []).map((d) => d.toLowerCase())),
    insecureDomains: new Set(g.array("s2s_insecure_domains", []).map((d) => d.toLowerCase())),
    // Prosody's default too: a random secret per start (keys of a previous run are not valid).
    dialbackSecret: secret || randomBytes(32).toString("hex"),
    timeoutSeconds: g.period("s2s_timeout", 90, { min: 1, max: 3600 }),
    idleTimeoutSeconds: g.period("s2s_idle_timeout", 300, { min: 1, max: 86400 }),
    queueSize: g.integer("s2s_send_queue_size", 1000, { min: 1, max: 1_000_000 }),
    limits: {
      maxStanzaSize: g.integer("s2s_stanza_size_limit", 512 * 1024, { min: 10 * 1024, max: 64 * 1024 * 1024 }),
      ...parserLimitOptions(g),
      keepaliveSeconds: g.integer("s2s_keepalive_interval", 300, { min: 0, max: 86400 }),
    },
    maxSendBuffer,
    // Senders wait well before the connection would be dropped.
    sendBufferPause: Math.min(g.integer("s2s_send_buffer_pause", 1024 * 1024, { min: 16 * 1024, max: 1024 * 1024 * 1024 }), Math.floor(maxSendBuffer / 2)),
    connectOverrides: overrides,
  };
}

/**
 * The CAs the configuration adds to the system store: `ssl.cafile` (PEM, one or more) and every PEM
 * certificate file in `ssl.capath` (a directory as `openssl rehash` / c_rehash leaves it: hash-named
 * links, usually beside links to the files; a certificate found twice counts once). Paths are
 * relative to the configuration's directory. `errors`: what could not be read, for the log or
 * `herald check`.
 */
export function configuredCAs(g: OptionReader, baseDir: string): { pems: string[]; errors: string[] } {
  const pems: string[] = [];
  const errors: string[] = [];
  const ssl = g.table("ssl");
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const cafile = ssl?.get("cafile");
  if (typeof cafile === "string") {
    try {
      pems.push(readFileSync(abs(cafile), "utf8"));
    } catch (err) {
      errors.push(`ssl.cafile ${cafile}: ${(err as Error).message}`);
    }
  }
  const capath = ssl?.get("capath");
  if (typeof capath === "string") {
    const dir = abs(capath);
    if (!existsSync(dir)) errors.push(`ssl.capath ${capath} does not exist`);
    else {
      const seen = new Set<string>();
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        try {
          if (!statSync(p).isFile()) continue;
          const text = readFileSync(p, "utf8");
          if (!text.includes("-----BEGIN CERTIFICATE-----") || seen.has(text)) continue;
          seen.add(text);
          pems.push(text);
        } catch {
          // unreadable entries (a dangling link) are skipped, as OpenSSL does
        }
      }
    }
  }
  return { pems, errors };
}

/** The CAs peers' certificates are checked against: the system store plus `ssl.cafile` / `ssl.capath`. */
export function trustedCAs(g: OptionReader, baseDir: string, log: Logger): string[] {
  const { pems, errors } = configuredCAs(g, baseDir);
  for (const e of errors) log.error(e);
  return [...rootCertificates, ...pems];
}

/** Secure contexts of our domains for s2s, each with the trusted CAs (to verify peers' certificates). */
export function s2sTls(certs: CertStore, ca: string[]): S2STls {
  const contexts = new Map<string, SecureContext>();
  const ctxFor = (name: string): SecureContext | undefined => {
    let c = contexts.get(name);
    if (!c) {
      const pair = certs.pair(name);
      if (!pair) return undefined;
      c = createSecureContext({ cert: pair.cert, key: pair.key, ca });
      contexts.set(name, c);
    }
    return c;
  };
  const pairFor = (name: string) => {
    const own = certs.pair(name);
    if (own) return own;
    // A component (pubsub.example.com) uses its parent domain's certificate, as for SNI.
    const dot = name.indexOf(".");
    return dot > 0 ? certs.pair(name.slice(dot + 1)) : undefined;
  };
  return {
    ca,
    pair: (name) => pairFor(name) ?? certs.defaultPair(),
    context: (name) => {
      const lower = name?.toLowerCase();
      if (lower && certs.pair(lower)) return ctxFor(lower);
      const dot = lower?.indexOf(".") ?? -1;
      if (lower && dot > 0 && certs.pair(lower.slice(dot + 1))) return ctxFor(lower.slice(dot + 1));
      const def = certs.defaultPair();
      if (!def) return undefined;
      let c = contexts.get("\0default");
      if (!c) {
        c = createSecureContext({ cert: def.cert, key: def.key, ca });
        contexts.set("\0default", c);
      }
      return c;
    },
  };
}

export function defaultS2SCredentials(tls: S2STls): { secureContext?: SecureContext } {
  const ctx = tls.context(undefined);
  return ctx ? { secureContext: ctx } : {};
}

export async function listenS2S(
  ctx: S2SContext,
  manager: S2SManager,
  port: number,
  address: BindAddress,
  directTls: boolean,
): Promise<Listener> {
  const onSocket = (socket: Socket) => {
    const transport = new S2STransport(socket, ctx.tls, directTls, ctx.options.maxSendBuffer);
    const stream = new S2SInStream(transport, ctx, manager);
    manager.addInbound(stream);
    transport.attach(stream);
  };
  const server: NetServer = directTls
    ? createTlsServer(
        {
          ...defaultS2SCredentials(ctx.tls),
          SNICallback: (name, cb) => cb(null, ctx.tls.context(name)),
          requestCert: true,
          rejectUnauthorized: false,
          ALPNProtocols: ["xmpp-server"],
        },
        onSocket,
      )
    : createNetServer(onSocket);
  if (directTls) server.on("tlsClientError", (err: Error, socket: TLSSocket) => logTlsFailure(ctx.failureLog, socket.remoteAddress, err, "s2s direct TLS"));
  const bound = await listenOn(server, port, address);
  ctx.log.info(`Listening for ${directTls ? "direct TLS " : ""}server connections on [${address.name}]:${bound}`);
  return {
    kind: directTls ? "s2s_direct_tls" : "s2s",
    address: address.name,
    port: bound,
    close: () => closeServer(server),
  };
}
