// Listening sockets: c2s over TCP (STARTTLS), direct TLS (XEP-0368), WebSocket (RFC 7395) and BOSH
// (XEP-0206, src/net/bosh.ts) with XEP-0156 discovery (src/net/host-meta.ts) on HTTP(S).

import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { TLSSocket, createServer as createTlsServer, type SecureContext } from "node:tls";
import type { WebSocket } from "ws";
import type { Logger } from "../util/logger.js";
import { logTlsFailure } from "./failure-log.js";
import { C2SConnection, type C2SContext } from "./c2s.js";
import type { CertStore } from "./certs.js";
import type { Transport, TransportListener } from "./transport.js";
import type { BindAddress } from "./interfaces.js";
import { forwardedFor, ipInList, normalizeAddress } from "../util/ip.js";
import { ReadThrottle, type ReadLimit } from "./limits.js";
import { setClientAddress, type HttpRoutes } from "./http-routes.js";
import type { BoshOptions, BoshService } from "./bosh.js";

export interface Listener {
  readonly kind: "c2s" | "c2s_direct_tls" | "http" | "https" | "s2s" | "s2s_direct_tls" | "component";
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenerContext {
  c2s: C2SContext;
  certs: CertStore;
  log: Logger;
  /** Every live connection, so shutdown can close them. */
  connections: Set<C2SConnection>;
  maxStanzaSize: () => number;
  considerWebsocketSecure: boolean;
  /** HTTP peers whose X-Forwarded-For / X-Forwarded-Proto are believed (Prosody's trusted_proxies). */
  trustedProxies?: ReadonlySet<string>;
  /** Count a new connection against its address's unauthenticated ones; false: over the cap. */
  admit?(conn: C2SConnection, remoteAddress: string): boolean;
  /** Bytes read per session (mod_limits), when limited. */
  readLimit?: ReadLimit;
  /** Where each connection's read throttle is kept (so `unlimited_jids` can lift it). */
  readThrottles?: WeakMap<C2SConnection, ReadThrottle>;
  /** Routes modules added (module.http.route: /metrics, file sharing, ...). */
  http?: HttpRoutes;
  /** BOSH at /http-bind ("bosh" in modules_enabled), on every HTTP(S) listener. */
  bosh?: BoshOptions & { considerSecure: boolean; serves(host: string): boolean };
  /** Prosody's http_external_url, for the URLs host-meta advertises. */
  httpExternalUrl?: string;
  /** Limits of the HTTP(S) listeners against slow and oversized requests (see httpServerOptions). */
  httpLimits?: HttpLimits;
  /** The BOSH sessions, shared by the HTTP and HTTPS listeners (made on first use). */
  boshService?: BoshService;
}

/**
 * Reading is paused for two independent reasons: the session's queue is full (flow control, by
 * the stream) and the session is over its read rate (mod_limits). It resumes when neither holds.
 */
class ReadGate {
  private flow = false;
  private rate = false;
  constructor(private readonly apply: (paused: boolean) => void) {}
  set(reason: "flow" | "rate", paused: boolean): void {
    const before = this.flow || this.rate;
    if (reason === "flow") this.flow = paused;
    else this.rate = paused;
    const after = this.flow || this.rate;
    if (after !== before) this.apply(after);
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

function sniCallback(certs: CertStore) {
  return (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, certs.context(servername));
}

/**
 * The server's own credentials for handshakes without SNI: node calls the SNICallback only when the
 * client names a host, otherwise it uses the server's default certificate, which must be given here.
 */
function defaultCredentials(certs: CertStore): { cert?: string; key?: string } {
  const pair = certs.defaultPair();
  return pair ? { cert: pair.cert, key: pair.key } : {};
}

function isLoopback(addr: string): boolean {
  return addr === "::1" || addr.startsWith("127.") || addr.startsWith("::ffff:127.");
}

/** A TCP or TLS socket under a stream (client streams; external components' streams, without TLS). */
export class SocketTransport implements Transport {
  readonly framed = false;
  kind: "tcp" | "tls";
  secure: boolean;
  readonly remoteAddress: string;
  private conn!: TransportListener;

  constructor(
    private socket: Socket,
    private readonly certs: CertStore,
    direct: boolean,
    private readonly maxBuffer: number,
  ) {
    this.kind = direct ? "tls" : "tcp";
    this.secure = direct;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
  }

  private readonly gate = new ReadGate((paused) => (paused ? this.socket.pause() : this.socket.resume()));
  private throttle?: ReadThrottle;

  attach(conn: TransportListener, limit?: ReadLimit): ReadThrottle | undefined {
    this.conn = conn;
    if (limit) {
      this.throttle = new ReadThrottle(limit, {
        deliver: (chunk) => this.conn.onTransportData(chunk),
        hold: () => this.gate.set("rate", true),
        release: () => this.gate.set("rate", false),
      });
    }
    this.listen(this.socket);
    return this.throttle;
  }

  private listen(socket: Socket): void {
    socket.on("data", (d: Buffer) => (this.throttle ? this.throttle.push(d) : this.conn.onTransportData(d)));
    socket.on("error", (err) => this.conn.onTransportClose(err));
    socket.on("close", () => this.conn.onTransportClose());
  }

  get canStartTls(): boolean {
    return !this.secure && this.certs.context(undefined) !== undefined;
  }

  /** Output is corked until the end of the current tick (see write). */
  private corked = false;

  write(data: string): void {
    if (this.socket.destroyed) return;
    // Everything written to this connection during one tick (a fan-out to many sessions, a burst of
    // replies) leaves in one writev when the tick ends instead of one write syscall per stanza.
    if (!this.corked) {
      this.corked = true;
      const socket = this.socket;
      socket.cork();
      process.nextTick(() => this.uncork(socket));
    }
    this.socket.write(data);
    if (this.socket.writableLength > this.maxBuffer) {
      // A peer that does not read its stream is dropped rather than buffered without bound.
      this.socket.destroy(new Error(`peer not reading (${this.socket.writableLength} bytes buffered)`));
    }
  }
  private uncork(socket: Socket): void {
    if (socket !== this.socket) return socket.uncork(); // replaced by TLS meanwhile
    if (!this.corked) return; // flushed already (startTls)
    this.corked = false;
    socket.uncork();
  }
  end(): void {
    if (!this.socket.destroyed) this.socket.end(); // end() flushes corked output first
  }
  destroy(): void {
    this.socket.destroy();
  }
  pause(): void {
    this.gate.set("flow", true);
  }
  resume(): void {
    this.gate.set("flow", false);
  }

  startTls(): Promise<void> {
    const plain = this.socket;
    // <proceed/> goes out on the plain socket before TLS takes it over.
    if (this.corked) this.uncork(plain);
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    return new Promise((resolve, reject) => {
      const tls = new TLSSocket(plain, {
        isServer: true,
        SNICallback: sniCallback(this.certs),
        secureContext: this.certs.context(undefined),
      });
      const onError = (err: Error) => reject(err);
      tls.once("error", onError);
      tls.once("secure", () => {
        tls.off("error", onError);
        this.socket = tls;
        this.secure = true;
        this.listen(tls);
        resolve();
      });
    });
  }
}

class WebSocketTransport implements Transport {
  readonly kind = "websocket" as const;
  readonly framed = true;
  readonly canStartTls = false;
  constructor(
    private readonly ws: WebSocket,
    readonly secure: boolean,
    readonly remoteAddress: string,
    private readonly maxBuffer: number,
  ) {}
  write(data: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(data);
    if (this.ws.bufferedAmount > this.maxBuffer) this.ws.terminate();
  }
  readonly gate = new ReadGate((paused) => (paused ? this.ws.pause() : this.ws.resume()));
  pause(): void {
    this.gate.set("flow", true);
  }
  resume(): void {
    this.gate.set("flow", false);
  }
  end(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }
  destroy(): void {
    this.ws.terminate();
  }
}

/**
 * Every live connection is in ctx.connections until its session ends (C2SConnection.teardown).
 * One over its address's cap of unauthenticated connections is closed at once.
 */
function track(ctx: ListenerContext, conn: C2SConnection, throttle: ReadThrottle | undefined): void {
  ctx.connections.add(conn);
  if (throttle) ctx.readThrottles?.set(conn, throttle);
  if (ctx.admit && !ctx.admit(conn, conn.remoteAddress)) {
    ctx.log.debug(`Refused a connection from ${conn.remoteAddress}: too many unauthenticated connections from that address`);
    conn.close({ condition: "policy-violation", text: "Too many unauthenticated connections from your address" });
  }
}

/**
 * A client stream over a transport that did not come from a listener (an in-memory pair in tests):
 * the same C2SConnection, tracked and limited like a socket's, without the read rate limit.
 */
export function acceptTransport(ctx: ListenerContext, transport: Transport & Partial<TransportAttach>): C2SConnection {
  const conn = new C2SConnection(transport, ctx.c2s);
  transport.attach?.(conn);
  track(ctx, conn, undefined);
  return conn;
}

/** A transport that is told which connection to deliver to before anything is read. */
export interface TransportAttach {
  attach(conn: C2SConnection): void;
}

/** Listen on the address; resolves with the port bound (the one asked for, or the one the OS chose for 0). */
export function listenOn(server: NetServer | HttpServer, port: number, address: BindAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: address.host, ipv6Only: address.ipv6Only }, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

export function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function listenC2S(ctx: ListenerContext, port: number, address: BindAddress, directTls: boolean): Promise<Listener> {
  const onSocket = (socket: Socket) => {
    const transport = new SocketTransport(socket, ctx.certs, directTls, ctx.c2s.options(undefined).maxSendBuffer);
    const conn = new C2SConnection(transport, ctx.c2s);
    track(ctx, conn, transport.attach(conn, ctx.readLimit));
  };
  const server: NetServer = directTls
    ? createTlsServer({ ...defaultCredentials(ctx.certs), SNICallback: sniCallback(ctx.certs), ALPNProtocols: ["xmpp-client"] }, onSocket)
    : createNetServer(onSocket);
  if (directTls) server.on("tlsClientError", (err: Error, socket: TLSSocket) => logTlsFailure(ctx.c2s.failureLog, socket.remoteAddress, err, "direct TLS"));
  const bound = await listenOn(server, port, address);
  ctx.log.info(`Listening for ${directTls ? "direct TLS " : ""}client connections on [${address.name}]:${bound}`);
  return { kind: directTls ? "c2s_direct_tls" : "c2s", address: address.name, port: bound, close: () => closeServer(server) };
}

export const WEBSOCKET_PATH = "/xmpp-websocket";

/** The client behind an HTTP request: its address (X-Forwarded-For of a trusted proxy) and whether it is encrypted. */
function httpPeer(ctx: ListenerContext, req: IncomingMessage, https: boolean, considerSecure: boolean): { remoteAddress: string; secure: boolean; tls: boolean } {
  // Behind a reverse proxy every client would have the proxy's address, and share its limits.
  const peer = req.socket.remoteAddress ?? "unknown";
  const trusted = ctx.trustedProxies ?? new Set(["127.0.0.1", "::1"]);
  const remoteAddress = forwardedFor(peer, header(req.headers["x-forwarded-for"]), trusted);
  const proxiedTls = ipInList(trusted, normalizeAddress(peer)) && header(req.headers["x-forwarded-proto"]) === "https";
  return { remoteAddress, secure: https || considerSecure || isLoopback(peer) || proxiedTls, tls: https || proxiedTls };
}

function boshService(ctx: ListenerContext, BoshService: typeof import("./bosh.js").BoshService): BoshService | undefined {
  if (!ctx.bosh) return undefined;
  const options = ctx.bosh;
  ctx.boshService ??= new BoshService({
    log: ctx.log.child("bosh"),
    options,
    readLimit: ctx.readLimit,
    peer: (req, https) => httpPeer(ctx, req, https, options.considerSecure),
    isLocalHost: (name) => ctx.c2s.hosts.get(name)?.kind === "local" && options.serves(name),
    connect: (transport) => {
      const conn = new C2SConnection(transport, ctx.c2s);
      track(ctx, conn, undefined);
      return conn;
    },
  });
  return ctx.boshService;
}

/** What an HTTP(S) listener allows a client (all times in milliseconds). */
export interface HttpLimits {
  /** Request line and headers together, in bytes (`http_max_header_size`; larger: 431). */
  maxHeaderSize: number;
  /** Time to send the request line and headers (`http_headers_timeout`; slower: 408 and closed). */
  headersTimeoutMs: number;
  /** Time to send the whole request, body included (`http_request_timeout`). */
  requestTimeoutMs: number;
  /** Idle time of a kept-alive connection between requests (`http_keepalive_timeout`). */
  keepAliveTimeoutMs: number;
  /**
   * Connections per client address that have not sent a whole request head yet
   * (`http_max_pending_per_ip`); more are closed at once. trusted_proxies are not counted.
   */
  maxPendingPerAddress: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxHeaderSize: 16 * 1024, headersTimeoutMs: 30_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 5_000, maxPendingPerAddress: 50 };

/**
 * Count each connection against its address while it is waiting for a request head (a new one,
 * and a kept-alive one between requests), and close new ones over `max` at once: a client cannot
 * hold many connections open by sending its requests slowly (slowloris), each for up to
 * http_headers_timeout, nor by sending one request first and the next slowly.
 */
function limitPending(server: HttpServer, max: number, trusted: ReadonlySet<string>): void {
  const counts = new Map<string, number>();
  /** "address|port" of the connections waiting for a request, with the address they count against. */
  const pending = new Map<string, string>();
  const count = (key: string, addr: string) => {
    if (pending.has(key)) return;
    pending.set(key, addr);
    counts.set(addr, (counts.get(addr) ?? 0) + 1);
  };
  const done = (key: string) => {
    const addr = pending.get(key);
    if (addr === undefined) return;
    pending.delete(key);
    const left = (counts.get(addr) ?? 1) - 1;
    if (left <= 0) counts.delete(addr);
    else counts.set(addr, left);
  };
  const keyOf = (sock: { remoteAddress?: string; remotePort?: number }) => `${sock.remoteAddress}|${sock.remotePort}`;
  server.on("connection", (sock: Socket) => {
    const addr = normalizeAddress(sock.remoteAddress ?? "");
    if (ipInList(trusted, addr)) return;
    if ((counts.get(addr) ?? 0) >= max) {
      sock.destroy();
      return;
    }
    const key = keyOf(sock);
    count(key, addr);
    sock.once("close", () => done(key));
  });
  // A TLS connection's request comes on the TLS socket, which has the same address and port.
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const key = keyOf(req.socket);
    const addr = pending.get(key);
    if (addr === undefined) return;
    done(key);
    // Answered and kept alive: waiting for the next request head again.
    res.once("finish", () => {
      if (!req.socket.destroyed) count(key, addr);
    });
  });
  server.on("upgrade", (req: IncomingMessage) => done(keyOf(req.socket)));
}

/** Node's server options for those limits; slow requests are looked for four times per shortest timeout. */
export function httpServerOptions(l: HttpLimits = DEFAULT_HTTP_LIMITS) {
  const requestTimeout = l.requestTimeoutMs;
  // Node requires the headers' time to fit in the request's.
  const headersTimeout = Math.min(l.headersTimeoutMs, requestTimeout);
  return {
    maxHeaderSize: l.maxHeaderSize,
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeout / 4))),
  };
}

export async function listenHttp(ctx: ListenerContext, port: number, address: BindAddress, https: boolean): Promise<Listener> {
  // Node's HTTP server, BOSH and host-meta are loaded when the first HTTP listener starts, not by a
  // server without one.
  const [{ createServer: createHttpServer }, { createServer: createHttpsServer }, { BOSH_PATH, BoshService }, { serveHostMeta }] = await Promise.all([
    import("node:http"),
    import("node:https"),
    import("./bosh.js"),
    import("./host-meta.js"),
  ]);
  const bosh = boshService(ctx, BoshService);
  const handler = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (bosh && (path === BOSH_PATH || path === `${BOSH_PATH}/`)) {
      bosh.handle(req, res, https);
      return;
    }
    const alt = { externalUrl: ctx.httpExternalUrl, bosh: bosh ? { path: BOSH_PATH } : undefined, websocket: { path: WEBSOCKET_PATH } };
    if (serveHostMeta(alt, req, res, httpPeer(ctx, req, https, false).tls)) return;
    if (path === WEBSOCKET_PATH) {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end("This is Herald's XMPP WebSocket endpoint (RFC 7395): connect with a WebSocket client.\n");
      return;
    }
    const route = ctx.http?.match(req.method ?? "GET", path);
    if (route?.handler) {
      setClientAddress(req, httpPeer(ctx, req, https, false).remoteAddress);
      Promise.resolve()
        .then(() => route.handler!(req, res, route.rest))
        .catch((err: Error) => {
          ctx.log.error(`HTTP ${req.method} ${path} failed: ${err.stack ?? err.message}`);
          if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
          res.end();
        });
      return;
    }
    if (route) {
      res.writeHead(405, { "content-type": "text/plain", allow: route.methods.join(", ") });
      res.end("Method not allowed\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("Not found\n");
  };
  const limits = httpServerOptions(ctx.httpLimits);
  const server = https
    ? // A TLS handshake gets no more time than request headers do.
      createHttpsServer({ ...limits, handshakeTimeout: limits.headersTimeout, ...defaultCredentials(ctx.certs), SNICallback: sniCallback(ctx.certs) }, handler)
    : createHttpServer(limits, handler);
  server.keepAliveTimeout = limits.keepAliveTimeout;
  limitPending(server, (ctx.httpLimits ?? DEFAULT_HTTP_LIMITS).maxPendingPerAddress, ctx.trustedProxies ?? new Set(["127.0.0.1", "::1"]));
  if (https) server.on("tlsClientError", (err: Error, socket: TLSSocket) => logTlsFailure(ctx.c2s.failureLog, socket.remoteAddress, err, "HTTPS"));
  const { WebSocketServer } = await import("ws"); // loaded when the first HTTP listener starts
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: ctx.maxStanzaSize() + 4096,
    handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
  });
  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "/").split("?")[0];
    const protocols = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
    // RFC 7395 §3.1: the subprotocol "xmpp" is required. ws would complete the handshake without
    // one, so refuse such upgrades here.
    if (path !== WEBSOCKET_PATH || !protocols.includes("xmpp")) {
      socket.end(`HTTP/1.1 ${path !== WEBSOCKET_PATH ? "404 Not Found" : "400 Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const { remoteAddress: remote, secure } = httpPeer(ctx, req, https, ctx.considerWebsocketSecure);
      const transport = new WebSocketTransport(ws, secure, remote, ctx.c2s.options(undefined).maxSendBuffer);
      const conn = new C2SConnection(transport, ctx.c2s);
      const throttle = ctx.readLimit
        ? new ReadThrottle(ctx.readLimit, {
            deliver: (chunk) => conn.onTransportData(chunk),
            hold: () => transport.gate.set("rate", true),
            release: () => transport.gate.set("rate", false),
          }, false)
        : undefined;
      ws.on("message", (data, isBinary) => {
        if (isBinary) {
          conn.close({ condition: "unsupported-encoding", text: "Binary frames are not allowed" });
          return;
        }
        const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        if (throttle) throttle.push(chunk);
        else conn.onTransportData(chunk);
      });
      ws.on("close", () => conn.onTransportClose());
      ws.on("error", (err) => conn.onTransportClose(err));
      track(ctx, conn, throttle);
    });
  });
  const bound = await listenOn(server, port, address);
  ctx.log.info(`Listening for HTTP${https ? "S" : ""} (WebSocket at ${WEBSOCKET_PATH}${bosh ? `, BOSH at ${BOSH_PATH}` : ""}) on [${address.name}]:${bound}`);
  return {
    kind: https ? "https" : "http",
    address: address.name,
    port: bound,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      if (bosh?.stop()) await new Promise((ok) => setImmediate(ok)); // let the terminating responses out
      server.closeAllConnections?.();
      await closeServer(server);
    },
  };
}
