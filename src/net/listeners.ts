// Listening sockets: c2s over TCP (STARTTLS), direct TLS (XEP-0368) and WebSocket (RFC 7395).

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { TLSSocket, createServer as createTlsServer, type SecureContext } from "node:tls";
import { WebSocketServer, type WebSocket } from "ws";
import type { Logger } from "../util/logger.js";
import { logTlsFailure } from "./failure-log.js";
import { C2SConnection, type C2SContext } from "./c2s.js";
import type { CertStore } from "./certs.js";
import type { Transport } from "./transport.js";
import type { HttpRoutes } from "./http-routes.js";

export interface Listener {
  readonly kind: "c2s" | "c2s_direct_tls" | "http" | "https";
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
  /** Routes modules added (module.http.route). */
  http?: HttpRoutes;
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

class SocketTransport implements Transport {
  readonly framed = false;
  kind: "tcp" | "tls";
  secure: boolean;
  readonly remoteAddress: string;
  private conn!: C2SConnection;

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

  attach(conn: C2SConnection): void {
    this.conn = conn;
    this.listen(this.socket);
  }

  private listen(socket: Socket): void {
    socket.on("data", (d: Buffer) => this.conn.onTransportData(d));
    socket.on("error", (err) => this.conn.onTransportClose(err));
    socket.on("close", () => this.conn.onTransportClose());
  }

  get canStartTls(): boolean {
    return !this.secure && this.certs.context(undefined) !== undefined;
  }

  write(data: string): void {
    if (this.socket.destroyed) return;
    this.socket.write(data);
    if (this.socket.writableLength > this.maxBuffer) {
      // A peer that does not read its stream is dropped rather than buffered without bound.
      this.socket.destroy(new Error(`peer not reading (${this.socket.writableLength} bytes buffered)`));
    }
  }
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  startTls(): Promise<void> {
    const plain = this.socket;
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
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }
  end(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }
  destroy(): void {
    this.ws.terminate();
  }
}

/** Every live connection is in ctx.connections until its session ends (C2SConnection.teardown). */
function track(ctx: ListenerContext, conn: C2SConnection): void {
  ctx.connections.add(conn);
}

function listen(server: NetServer | HttpServer, port: number, address: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: address }, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function listenC2S(ctx: ListenerContext, port: number, address: string | undefined, directTls: boolean): Promise<Listener> {
  const onSocket = (socket: Socket) => {
    const transport = new SocketTransport(socket, ctx.certs, directTls, ctx.c2s.options(undefined).maxSendBuffer);
    const conn = new C2SConnection(transport, ctx.c2s);
    transport.attach(conn);
    track(ctx, conn);
  };
  const server: NetServer = directTls
    ? createTlsServer({ ...defaultCredentials(ctx.certs), SNICallback: sniCallback(ctx.certs), ALPNProtocols: ["xmpp-client"] }, onSocket)
    : createNetServer(onSocket);
  if (directTls) server.on("tlsClientError", (err: Error, socket: TLSSocket) => logTlsFailure(ctx.c2s.failureLog, socket.remoteAddress, err, "direct TLS"));
  const bound = await listen(server, port, address);
  ctx.log.info(`Listening for ${directTls ? "direct TLS " : ""}client connections on ${address ?? "*"}:${bound}`);
  return { kind: directTls ? "c2s_direct_tls" : "c2s", address: address ?? "*", port: bound, close: () => closeServer(server) };
}

export const WEBSOCKET_PATH = "/xmpp-websocket";

export async function listenHttp(ctx: ListenerContext, port: number, address: string | undefined, https: boolean): Promise<Listener> {
  const handler = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === WEBSOCKET_PATH) {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end("This is Herald's XMPP WebSocket endpoint (RFC 7395): connect with a WebSocket client.\n");
      return;
    }
    const route = ctx.http?.match(req.method ?? "GET", path);
    if (route?.handler) {
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
  const server = https ? createHttpsServer({ ...defaultCredentials(ctx.certs), SNICallback: sniCallback(ctx.certs) }, handler) : createHttpServer(handler);
  if (https) server.on("tlsClientError", (err: Error, socket: TLSSocket) => logTlsFailure(ctx.c2s.failureLog, socket.remoteAddress, err, "HTTPS"));
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
      const remote = req.socket.remoteAddress ?? "unknown";
      const secure = https || ctx.considerWebsocketSecure || isLoopback(remote);
      const transport = new WebSocketTransport(ws, secure, remote, ctx.c2s.options(undefined).maxSendBuffer);
      const conn = new C2SConnection(transport, ctx.c2s);
      ws.on("message", (data, isBinary) => {
        if (isBinary) {
          conn.close({ condition: "unsupported-encoding", text: "Binary frames are not allowed" });
          return;
        }
        conn.onTransportData(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
      });
      ws.on("close", () => conn.onTransportClose());
      ws.on("error", (err) => conn.onTransportClose(err));
      track(ctx, conn);
    });
  });
  const bound = await listen(server, port, address);
  ctx.log.info(`Listening for HTTP${https ? "S" : ""} (WebSocket at ${WEBSOCKET_PATH}) on ${address ?? "*"}:${bound}`);
  return {
    kind: https ? "https" : "http",
    address: address ?? "*",
    port: bound,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections?.();
      await closeServer(server);
    },
  };
}
