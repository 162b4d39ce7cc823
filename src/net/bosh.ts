// BOSH (XEP-0124) carrying XMPP (XEP-0206) at /http-bind on the HTTP(S) listeners.
//
// A BOSH session is a Transport for an ordinary C2SConnection in RFC 7395 framing: the session
// feeds the stanzas of each request's <body/> to the connection as complete elements, and a
// synthetic <open/> on session creation and on xmpp:restart. What the connection writes is
// collected and handed to the HTTP requests the client leaves open ("held"). The connection's
// <close/> and <stream:error/> become a <body type='terminate'/>.

import { corsAllows, type CorsPolicy } from "./cors.js";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { C2SConnection } from "./c2s.js";
import type { Transport } from "./transport.js";
import type { Logger } from "../util/logger.js";
import { NS_FRAMING, NS_STREAM, XmlStream } from "../xml/parser.js";
import { Element, serialize } from "../xml/stanza.js";
import { escapeAttr } from "../xml/escape.js";
import { namePrep } from "../util/jid.js";
import type { ReadLimit } from "./limits.js";
import { ReadThrottle } from "./limits.js";

export const BOSH_PATH = "/http-bind";
export const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
export const NS_XBOSH = "urn:xmpp:xbosh";

/** Requests held at once, and so the rid window (requests = hold + 1); Prosody's fixed values. */
const MAX_HOLD = 1;

export interface BoshOptions {
  /** Seconds a session lives with no request open (bosh_max_inactivity). */
  maxInactivity: number;
  /** Longest a request is held (bosh_max_wait); a client may ask for less. */
  maxWait: number;
  /** Shortest polling interval advertised (bosh_max_polling). */
  maxPolling: number;
  /** Longest pause a client may ask for (bosh_max_pause). */
  maxPause: number;
  /** Largest request body in bytes (http_max_content_size). */
  maxBodySize: number;
  /** Largest stanza in a body (c2s_stanza_size_limit). */
  maxStanzaSize: number;
  /** CORS: off, any origin, or these origins. */
  cors: CorsPolicy;
}

/** What the BOSH endpoint needs from the listener side. */
export interface BoshContext {
  log: Logger;
  options: BoshOptions;
  /** A new connection for this transport, tracked like any other (limits, shutdown). */
  connect(transport: Transport): C2SConnection;
  /** The remote address and whether the request arrived encrypted (TLS, trusted proxy, loopback…). */
  peer(req: IncomingMessage, https: boolean): { remoteAddress: string; secure: boolean };
  readLimit?: ReadLimit;
  /** Is this a VirtualHost of the server that takes BOSH sessions. */
  isLocalHost(name: string): boolean;
}

interface Parsed {
  attrs: Record<string, string>;
  children: Element[];
}

interface Held {
  rid: number;
  res: ServerResponse;
  timer?: NodeJS.Timeout;
}

function bodyTag(attrs: Record<string, string | undefined>): string {
  let s = `<body xmlns='${NS_HTTPBIND}'`;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) s += ` ${k}='${escapeAttr(v)}'`;
  return s;
}

/** A terminal binding error (XEP-0124), outside of any session. */
function terminalBody(condition: string): string {
  return `${bodyTag({ type: "terminate", condition, "xmlns:stream": NS_STREAM })}/>`;
}

function isInteger(s: string | undefined): s is string {
  return s !== undefined && /^\d{1,16}$/.test(s) && Number(s) <= Number.MAX_SAFE_INTEGER;
}

/**
 * Parse a request body: <body xmlns='http://jabber.org/protocol/httpbind' …>stanzas</body>. The
 * stream parser takes a large body a slice at a time, taking turns with every other stream, so
 * this resolves when all of it has been read (or the first error stopped it).
 */
async function parseBody(body: Buffer, maxStanzaSize: number): Promise<Parsed | { error: string }> {
  let attrs: Record<string, string> | undefined;
  let rootOk = false;
  let ended = false;
  let error: string | undefined;
  const children: Element[] = [];
  const parser = new XmlStream(
    {
      streamStart: (a, info) => {
        attrs = a;
        rootOk = info.name === "body" && info.ns === NS_HTTPBIND;
      },
      stanza: (el) => children.push(el),
      streamEnd: () => (ended = true),
      error: (condition) => (error = condition === "policy-violation" ? "policy-violation" : "bad-request"),
    },
    { framing: "stream", maxStanzaSize },
  );
  parser.write(body);
  await parser.idle();
  parser.stop();
  if (error) return { error };
  if (!attrs || !rootOk || !ended) return { error: "bad-request" };
  return { attrs, children };
}

/** The body's payload as the connection's framed parser reads it: jabber:client is the default. */
// Stanzas qualified by jabber:client (XEP-0206) arrive with that xmlns and the framed parser takes
// it as the default; one left in the body's namespace is read as jabber:client too, as Prosody does.
function payloadText(children: Element[]): string {
  return children.map((el) => serialize(el)).join("");
}

export class BoshService {
  private readonly sessions = new Map<string, BoshSession>();

  constructor(readonly ctx: BoshContext) {}

  get size(): number {
    return this.sessions.size;
  }

  forget(sid: string): void {
    this.sessions.delete(sid);
  }

  /** CORS headers for a request (Prosody's http_cors_override / access_control_allow_origins). */
  corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (!corsAllows(this.ctx.options.cors, origin)) return {};
    return {
      "access-control-allow-origin": origin ?? "*",
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-headers": "Content-Type",
      "access-control-max-age": "7200",
      vary: "Origin",
    };
  }

  /** Answer one HTTP request to /http-bind. */
  handle(req: IncomingMessage, res: ServerResponse, https: boolean): void {
    const cors = this.corsHeaders(req);
    if (req.method === "OPTIONS") {
      res.writeHead(200, { ...cors, "content-length": "0" }).end();
      return;
    }
    if (req.method === "GET" || req.method === "HEAD") {
      res.writeHead(200, { ...cors, "content-type": "text/html; charset=utf-8" });
      res.end("<!DOCTYPE html><html><body><p>This is Herald's BOSH endpoint (XEP-0206): point your BOSH client to this URL.</p></body></html>\n");
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { ...cors, allow: "GET, POST, OPTIONS", "content-type": "text/plain" }).end("Method not allowed\n");
      return;
    }
    const max = this.ctx.options.maxBodySize;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) {
      res.writeHead(413, { ...cors, "content-type": "text/plain", connection: "close" }).end("Request body too large\n");
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      if (tooBig) return;
      size += c.length;
      if (size > max) {
        tooBig = true;
        res.writeHead(413, { ...cors, "content-type": "text/plain", connection: "close" }).end("Request body too large\n");
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (tooBig) return;
      this.onBody(req, res, Buffer.concat(chunks), https, cors).catch((err: unknown) => {
        this.ctx.log.error(`BOSH request: ${(err as Error)?.stack ?? err}`);
        if (!res.headersSent) res.writeHead(500, { ...cors, "content-type": "text/plain" });
        res.end();
      });
    });
    req.on("error", () => {});
  }

  private async onBody(req: IncomingMessage, res: ServerResponse, body: Buffer, https: boolean, cors: Record<string, string>): Promise<void> {
    const reply = (text: string) => send(res, text, cors);
    const parsed = await parseBody(body, this.ctx.options.maxStanzaSize);
    if ("error" in parsed) {
      this.ctx.log.debug(`BOSH request that is not a valid <body/>: ${parsed.error}`);
      reply(terminalBody(parsed.error));
      return;
    }
    const { attrs } = parsed;
    if (attrs.sid === undefined) {
      this.create(req, res, parsed, https, cors);
      return;
    }
    const session = this.sessions.get(attrs.sid);
    if (!session) {
      reply(terminalBody("item-not-found"));
      return;
    }
    session.request(parsed, res, cors);
  }

  /** Session creation request (XEP-0124, XEP-0206). */
  private create(req: IncomingMessage, res: ServerResponse, parsed: Parsed, https: boolean, cors: Record<string, string>): void {
    const { attrs } = parsed;
    const reply = (condition: string) => send(res, terminalBody(condition), cors);
    if (!attrs.to) return reply("improper-addressing");
    if (!isInteger(attrs.rid) || (attrs.wait !== undefined && !isInteger(attrs.wait)) || (attrs.hold !== undefined && !isInteger(attrs.hold))) {
      return reply("bad-request");
    }
    const to = namePrep(attrs.to);
    if (to === undefined) return reply("improper-addressing");
    if (!this.ctx.isLocalHost(to)) return reply("host-unknown");
    const { remoteAddress, secure } = this.ctx.peer(req, https);
    const sid = randomBytes(16).toString("hex");
    const o = this.ctx.options;
    const session = new BoshSession(this, sid, {
      rid: Number(attrs.rid),
      wait: Math.min(attrs.wait === undefined ? o.maxWait : Number(attrs.wait), o.maxWait),
      hold: Math.min(attrs.hold === undefined ? MAX_HOLD : Number(attrs.hold), MAX_HOLD),
      host: to,
      lang: attrs["xml:lang"],
      secure,
      remoteAddress,
    });
    this.sessions.set(sid, session);
    session.start(res, cors);
  }

  /** Shutdown: every session's stream ends with <system-shutdown/>, told to its held requests. */
  stop(): boolean {
    const had = this.sessions.size > 0;
    for (const s of Array.from(this.sessions.values())) s.shutdown();
    this.sessions.clear();
    return had;
  }
}

function send(res: ServerResponse, body: string, cors: Record<string, string>): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(200, {
    ...cors,
    "content-type": "text/xml; charset=utf-8",
    "cache-control": "no-store",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

class BoshSession implements Transport {
  readonly kind = "bosh" as const;
  readonly framed = true;
  readonly canStartTls = false;
  readonly secure: boolean;
  readonly remoteAddress: string;

  private conn!: C2SConnection;
  private throttle?: ReadThrottle;
  /** The highest rid whose request was processed. */
  private rid: number;
  private readonly wait: number;
  private readonly hold: number;
  private readonly host: string;
  private readonly lang?: string;
  private readonly held: Held[] = [];
  /** Requests that arrived ahead of a missing rid, processed once it comes. */
  private readonly ahead = new Map<number, { parsed: Parsed; res: ServerResponse; cors: Record<string, string> }>();
  /** The last responses by rid, for a client that repeats a request (XEP-0124). */
  private readonly responses = new Map<number, string>();
  private pending: string[] = [];
  private cors: Record<string, string> = {};
  private creationRid: number;
  private flushScheduled = false;
  private inactivity?: NodeJS.Timeout;
  private pauseSeconds?: number;
  /** The connection closed its stream: the next response is a terminating one. */
  private terminating = false;
  private streamError?: string;
  private gone = false;

  constructor(
    private readonly service: BoshService,
    readonly sid: string,
    init: { rid: number; wait: number; hold: number; host: string; lang?: string; secure: boolean; remoteAddress: string },
  ) {
    this.rid = init.rid;
    this.creationRid = init.rid;
    this.wait = init.wait;
    this.hold = init.hold;
    this.host = init.host;
    this.lang = init.lang;
    this.secure = init.secure;
    this.remoteAddress = init.remoteAddress;
  }

  private get opts(): BoshOptions {
    return this.service.ctx.options;
  }

  /** The session creation request: open the stream; its features answer the request. */
  start(res: ServerResponse, cors: Record<string, string>): void {
    this.cors = cors;
    this.holdRequest(this.rid, res);
    this.conn = this.service.ctx.connect(this);
    const limit = this.service.ctx.readLimit;
    if (limit) {
      this.throttle = new ReadThrottle(limit, {
        deliver: (c) => this.conn.onTransportData(c),
        hold: () => this.gate("rate", true),
        release: () => this.gate("rate", false),
      }, false);
    }
    this.feed(this.openElement());
  }

  private openElement(): string {
    const lang = this.lang ? ` xml:lang='${escapeAttr(this.lang)}'` : "";
    return `<open xmlns='${NS_FRAMING}' to='${escapeAttr(this.host)}' version='1.0'${lang}/>`;
  }

  private feed(text: string): void {
    if (text === "" || this.conn.closed) return;
    if (this.throttle) this.throttle.push(text);
    else this.conn.onTransportData(text);
  }

  /** A request of this session (it has a sid). */
  request(parsed: Parsed, res: ServerResponse, cors: Record<string, string>): void {
    this.cors = cors;
    const { attrs } = parsed;
    if (!isInteger(attrs.rid)) {
      send(res, terminalBody("bad-request"), cors);
      return;
    }
    const rid = Number(attrs.rid);
    const window = this.hold + 1;
    if (rid <= this.rid) {
      // A repeated request: the same response again, if we still have it.
      const old = this.responses.get(rid);
      if (old !== undefined) {
        send(res, old, cors);
        return;
      }
      const i = this.held.findIndex((h) => h.rid === rid);
      if (i >= 0) {
        // Still held: the client gave up on the first copy; answer on the new one.
        const [h] = this.held.splice(i, 1);
        if (h.timer) clearTimeout(h.timer);
        h.res.destroy();
        this.holdRequest(rid, res);
        return;
      }
      this.fail(res, "item-not-found", `rid ${rid} repeated and its response is gone`);
      return;
    }
    if (rid > this.rid + window) {
      this.fail(res, "item-not-found", `rid ${rid} beyond the window (last ${this.rid}, ${window} requests)`);
      return;
    }
    // Ahead of a missing rid, or while reading is paused: it waits its turn (at most the window).
    this.ahead.get(rid)?.res.destroy(); // sent again: the client gave up on the first copy
    this.ahead.set(rid, { parsed, res, cors });
    if (this.inactivity) clearTimeout(this.inactivity);
    this.inactivity = undefined;
    this.processAhead();
  }

  private processAhead(): void {
    for (let next = this.ahead.get(this.rid + 1); next && !this.paused && !this.gone; next = this.ahead.get(this.rid + 1)) {
      this.ahead.delete(this.rid + 1);
      this.cors = next.cors;
      this.process(next.parsed, next.res);
    }
  }

  /** Reading pauses while the session's queue is full (flow control) or it is over its read rate (mod_limits). */
  private readonly pausedFor = new Set<"flow" | "rate">();
  private get paused(): boolean {
    return this.pausedFor.size > 0;
  }
  private gate(reason: "flow" | "rate", on: boolean): void {
    if (on) this.pausedFor.add(reason);
    else this.pausedFor.delete(reason);
    if (!this.paused) this.processAhead();
  }

  /** A terminal binding error on a live session: it ends. */
  private fail(res: ServerResponse, condition: string, why: string): void {
    this.service.ctx.log.debug(`BOSH session ${this.sid} terminated with ${condition}: ${why}`);
    send(res, terminalBody(condition), this.cors);
    this.finish(`BOSH ${condition}`);
  }

  private process(parsed: Parsed, res: ServerResponse): void {
    const { attrs, children } = parsed;
    const rid = Number(attrs.rid);
    this.rid = rid;
    if (this.inactivity) clearTimeout(this.inactivity);
    this.inactivity = undefined;
    this.pauseSeconds = undefined;
    if (this.terminating) {
      // The stream is already closed: this request carries the news.
      this.holdRequest(rid, res);
      this.flush();
      return;
    }
    if (attrs.pause !== undefined) {
      if (!isInteger(attrs.pause) || Number(attrs.pause) > this.opts.maxPause) {
        this.fail(res, "policy-violation", `pause ${attrs.pause} longer than ${this.opts.maxPause} s`);
        return;
      }
      // XEP-0124: answer everything now, and allow this long without requests.
      this.pauseSeconds = Number(attrs.pause);
      this.holdRequest(rid, res);
      this.feed(payloadText(children));
      for (const h of this.held.slice()) this.respond(h, this.takePending());
      return;
    }
    this.holdRequest(rid, res);
    if (attrs.type === "terminate") {
      this.feed(payloadText(children));
      this.feed(`<close xmlns='${NS_FRAMING}'/>`);
      return;
    }
    if (attrs["xmpp:restart"] === "true" || attrs["xmpp:restart"] === "1") {
      this.feed(this.openElement());
      return;
    }
    this.feed(payloadText(children));
    this.scheduleFlush();
  }

  private holdRequest(rid: number, res: ServerResponse): void {
    if (this.inactivity) clearTimeout(this.inactivity);
    this.inactivity = undefined;
    const h: Held = { rid, res };
    h.timer = setTimeout(() => this.respond(h, this.takePending()), this.wait * 1000);
    h.timer.unref?.();
    this.held.push(h);
    res.on("close", () => {
      // The client (or its network) dropped the request before an answer.
      if (!res.writableFinished) this.release(h);
    });
    this.scheduleFlush();
  }

  private release(h: Held): void {
    if (h.timer) clearTimeout(h.timer);
    const i = this.held.indexOf(h);
    if (i >= 0) this.held.splice(i, 1);
    if (this.held.length === 0) this.startInactivity();
  }

  private takePending(): string {
    const s = this.pending.join("");
    this.pending = [];
    return s;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Output written in the same turn of the event loop goes out in one response.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.gone) return;
    if (this.terminating) {
      if (this.held.length === 0) return;
      const body = `${bodyTag({ sid: this.sid, type: "terminate", condition: this.streamError ? "remote-stream-error" : undefined, "xmlns:stream": NS_STREAM })}>${this.takePending()}${this.streamError ?? ""}</body>`;
      for (const h of this.held.slice()) this.respond(h, undefined, body);
      this.finish("terminated");
      return;
    }
    if (this.pending.length > 0 && this.held.length > 0) this.respond(this.held[0], this.takePending());
    // Never more than `hold` requests waiting: the oldest goes back empty.
    while (this.held.length > this.hold) this.respond(this.held[0], this.takePending());
  }

  private respond(h: Held, payload: string | undefined, whole?: string): void {
    this.release(h);
    let body = whole;
    if (body === undefined) {
      const attrs: Record<string, string | undefined> = { sid: this.sid, "xmlns:stream": NS_STREAM };
      if (h.rid === this.creationRid) {
        // The session creation response (XEP-0124, XEP-0206).
        Object.assign(attrs, {
          wait: String(this.wait),
          inactivity: String(this.opts.maxInactivity),
          polling: String(this.opts.maxPolling),
          requests: String(this.hold + 1),
          hold: String(this.hold),
          maxpause: String(this.opts.maxPause),
          ver: "1.11",
          from: this.host,
          secure: "true",
          "xmpp:version": "1.0",
          "xmlns:xmpp": NS_XBOSH,
          "xmpp:restartlogic": "true",
        });
        this.creationRid = -1;
      }
      body = payload ? `${bodyTag(attrs)}>${payload}</body>` : `${bodyTag(attrs)}/>`;
    }
    this.responses.set(h.rid, body);
    // Keep as many past responses as the client may have requests outstanding.
    for (const r of this.responses.keys()) if (r <= h.rid - (this.hold + 1)) this.responses.delete(r);
    send(h.res, body, this.cors);
  }

  private startInactivity(): void {
    if (this.gone || this.inactivity) return;
    const seconds = this.pauseSeconds ?? this.opts.maxInactivity;
    this.inactivity = setTimeout(() => {
      this.service.ctx.log.debug(`BOSH session ${this.sid}: no request for ${seconds} s`);
      this.finish(`BOSH client silent for over ${seconds} seconds`);
    }, seconds * 1000);
    this.inactivity.unref?.();
  }

  /** The session is over: forget it, end the stream (unbind), answer what is still held. */
  private finish(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.service.forget(this.sid);
    if (this.inactivity) clearTimeout(this.inactivity);
    for (const h of this.held.splice(0)) {
      if (h.timer) clearTimeout(h.timer);
      send(h.res, `${bodyTag({ sid: this.sid, type: "terminate", "xmlns:stream": NS_STREAM })}/>`, this.cors);
    }
    for (const a of this.ahead.values()) send(a.res, terminalBody("item-not-found"), a.cors);
    this.ahead.clear();
    this.throttle?.stop();
    this.conn?.onTransportClose(this.terminating ? undefined : new Error(reason));
  }

  /** Server shutdown: the stream ends with <system-shutdown/>; held requests hear it now. */
  shutdown(): void {
    this.conn.close({ condition: "system-shutdown", text: "Server is shutting down" });
    this.flush();
    this.finish("server stopping");
  }

  // ---- Transport: what the connection writes ----

  write(data: string): void {
    if (this.gone) return;
    if (data.startsWith("<open ") && data.includes(NS_FRAMING)) return; // the stream header: <body/> says it all
    if (data.startsWith("<close ") && data.includes(NS_FRAMING)) {
      this.terminating = true;
      this.scheduleFlush();
      if (this.held.length === 0) this.startInactivity();
      return;
    }
    if (data.startsWith("<stream:error")) {
      this.streamError = data;
      return;
    }
    this.pending.push(data);
    this.scheduleFlush();
  }
  end(): void {
    // The terminating response goes out with the next request (see write of <close/>).
  }
  destroy(): void {
    if (!this.terminating) this.finish("connection dropped");
  }
  pause(): void {
    this.gate("flow", true);
  }
  resume(): void {
    this.gate("flow", false);
  }
}
