// A client-to-server stream (RFC 6120 §4–§7, RFC 7395 for WebSocket) on the shared stream layer
// (src/net/stream.ts): the stream is opened to a VirtualHost, then the features tls, saslauth and
// bind (the host's modules mod_tls, mod_saslauth, mod_bind) take it to a bound session whose stanzas go to the router, one at a
// time, in order. Stream management's resumption moves a session onto another connection here.

import { randomBytes } from "node:crypto";
import type { Host } from "../hosts/host.js";
import type { Router } from "../router/router.js";
import { nextSessionId, type ClientSession, type FilterKind, type StanzaFilter } from "../sessions/session.js";
import type { Logger } from "../util/logger.js";
import { jidJoin, jidPrep, namePrep, resourcePrep } from "../util/jid.js";
import { NS_CLIENT } from "../xml/parser.js";
import { Element, errorReply, reply, serialize } from "../xml/stanza.js";
import type { Transport } from "./transport.js";
import type { AccountStore } from "../auth/accounts.js";
import { listMechanisms, type SaslStep } from "../sasl/mechanism.js";
import { SaslExchange } from "./sasl-exchange.js";
import type { AuthThrottle } from "./limits.js";
import type { RateLimitedLog } from "../util/logger.js";
import { logStanzaErrorSent } from "./failure-log.js";
import { XmppStream, type StreamError, type StreamLimits } from "./stream.js";
import { NS_BIND, NS_SASL, NS_SESSION } from "../xml/ns.js";

export { NS_TLS, NS_XMPP_STREAMS } from "./stream.js";
export { NS_SASL, NS_BIND, NS_SESSION };

/** What a client stream needs from the server. */
export interface C2SContext {
  hosts: Map<string, Host>;
  router: Router;
  log: Logger;
  accounts(host: string): AccountStore;
  /** Told once when a connection's session has ended (so the server stops tracking it). */
  closed?(conn: C2SConnection): void;
  /** Told once when a connection has authenticated (it no longer counts as unauthenticated). */
  authenticated?(conn: C2SConnection): void;
  /** Password attempts per remote address, across all of its connections (src/net/limits.ts). */
  authThrottle: AuthThrottle;
  /** Failures an admin should see (failed logins, TLS, stream and server errors), rate-limited. */
  failureLog: RateLimitedLog;
  /** Told of every stanza a client sends ("in") and every stanza sent to a client ("out"), for metrics. */
  countStanza?(direction: "in" | "out", kind: string): void;
  options(host: string | undefined): {
    requireEncryption: boolean;
    allowUnencryptedPlain: boolean;
    /** disable_sasl_mechanisms: mechanisms never offered. */
    disabledMechanisms: ReadonlySet<string>;
    maxStanzaSize: number;
    /** Deepest element nesting inside a stanza. */
    maxStanzaDepth: number;
    /** Most attributes on one element. */
    maxElementAttributes: number;
    /** Most elements in one stanza. */
    maxStanzaElements: number;
    conflictResolve: "kick_old" | "kick_new" | "random";
    keepaliveSeconds: number;
    maxAuthFailures: number;
    loginTimeoutSeconds: number;
    /** Output buffered for a peer that does not read, before the session is dropped. */
    maxSendBuffer: number;
  };
}

export type { StanzaFilter } from "../sessions/session.js";

/** The features of a client stream, in the order they are offered. */
export class C2SConnection extends XmppStream implements ClientSession {
  readonly id = nextSessionId("c2s");
  readonly kind = "c2s" as const;
  type: "c2s" | "c2s_unauthed" = "c2s_unauthed";
  host = "";
  username?: string;
  resource?: string;
  fullJid?: string;
  bareJid?: string;
  readonly data = new Map<string, unknown>();

  protected readonly contentNs = NS_CLIENT;
  private sasl?: SaslExchange;
  private authFailures = 0;
  private authTimer?: NodeJS.Timeout;
  private unbound = false;
  /** Bound, but its transport is gone: kept by a module (stream management) until resumed or closed. */
  private detached = false;
  /** After a resumption: the connection whose transport (and parser) this session now uses. */
  private carrier?: C2SConnection;
  /** After a resumption: the session this connection's transport now carries (everything goes there). */
  private movedTo?: C2SConnection;
  private readonly filters: Record<"in" | "out" | "write", StanzaFilter[]> = { in: [], out: [], write: [] };

  constructor(
    private readonly ownTransport: Transport,
    private readonly ctx: C2SContext,
  ) {
    super(ownTransport, ctx.log, ctx.failureLog);
    this.log = ctx.log.child(this.id);
    this.newParser();
    this.log.debug(`New ${ownTransport.kind} connection from ${ownTransport.remoteAddress}`);
    // A connection has this long to authenticate and bind (Prosody's c2s_timeout).
    this.authTimer = setTimeout(() => {
      if (this.state !== "bound" && this.state !== "closed") this.close({ condition: "connection-timeout", text: "Too slow to log in" });
    }, ctx.options(undefined).loginTimeoutSeconds * 1000);
    this.authTimer.unref?.();
  }

  override get transportKind(): "tcp" | "tls" | "websocket" | "bosh" {
    return this.transport.kind;
  }

  get encryptionRequired(): boolean {
    return this.opts().requireEncryption;
  }

  protected limits(): StreamLimits {
    const o = this.ctx.options(this.hostObj?.name);
    return {
      maxStanzaSize: o.maxStanzaSize,
      maxStanzaDepth: o.maxStanzaDepth,
      maxElementAttributes: o.maxElementAttributes,
      maxStanzaElements: o.maxStanzaElements,
      keepaliveSeconds: o.keepaliveSeconds,
    };
  }

  protected override target(): XmppStream {
    // After a resumption, what this connection's parser reads belongs to the resumed session.
    return this.movedTo ?? this;
  }

  // ---- TransportListener ----

  override onTransportData(chunk: Buffer | string): void {
    const session = this.movedTo ?? this;
    // A transport replaced by a resumption (XEP-0198) is not listened to any more.
    if (session.state === "closed" || session.transport !== this.ownTransport) return;
    session.parser.write(chunk);
  }

  override onTransportClose(error?: Error): void {
    const session = this.movedTo ?? this;
    if (session.transport !== this.ownTransport) return; // replaced by a resumption
    session.transportClosed(error);
  }

  protected override transportClosed(error?: Error): void {
    if (this.detached) return; // told already (an error, then the close)
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (error) this.log.debug(`Connection error: ${error.message}`);
    const reason = error ? `Connection error: ${error.message}` : "Disconnected";
    if (this.state === "bound" && !this.ending && !this.detached && this.hostObj) {
      // The connection was lost, the stream not closed: `pre-resource-unbind` { session, reason }
      // lets a module keep the session bound without a connection, for the client to resume
      // (stream management, XEP-0198): a handler answering true must later resumeOn() or close() it.
      // Meanwhile stanzas to it go through its "stanzas/out" filters and are not written.
      this.detach();
      void this.hostObj.bus.fire("pre-resource-unbind", { session: this, reason }).then((kept) => {
        if (kept === true && this.state === "bound") this.log.debug(`Connection lost, session kept: ${reason}`);
        else this.teardown(reason);
      });
      return;
    }
    this.teardown(reason);
  }

  /** The transport is gone but the session stays bound (see transportClosed). */
  private detach(): void {
    this.detached = true;
    this.parser.stop();
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    if (this.carrier) this.ctx.closed?.(this.carrier);
    this.carrier = undefined;
  }

  /** Bound, with no transport: kept for a resumption (stream management hibernation). */
  get hibernating(): boolean {
    return this.detached && this.state === "bound";
  }

  /**
   * Stream resumption (XEP-0198 §5): this bound session continues on the transport of `from`, a
   * connection that has authenticated as the same account and not bound a resource. `from` hands on
   * everything it reads; this session's previous transport, if still open, is dropped.
   */
  resumeOn(from: C2SConnection): void {
    if (this.state !== "bound" || from === this || from.state !== "authenticated") throw new Error("not a resumable pair");
    const previous = this.transport;
    const wasDetached = this.detached;
    this.parser.stop();
    if (this.carrier) this.ctx.closed?.(this.carrier);
    this.transport = from.transport;
    this.parser = from.parser;
    this.carrier = from;
    this.detached = false;
    this.paused = false;
    this.awaitingRestart = false;
    from.movedTo = this;
    from.clearTimers();
    if (!wasDetached) previous.destroy();
    this.lastOutput = Date.now();
    this.startKeepalive();
  }

  private clearTimers(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.authTimer) clearTimeout(this.authTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.keepalive = undefined;
  }

  /** Add a filter on the stanzas of this session (see StanzaFilter), after those added before; returns its remover. */
  addFilter(kind: FilterKind, fn: StanzaFilter): () => void {
    const list = this.filters[kind === "stanzas/in" ? "in" : kind === "stanzas/out" ? "out" : "write"];
    list.push(fn);
    return () => {
      const at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    };
  }

  private filter(list: StanzaFilter[], stanza: Element): Element | undefined {
    let s: Element | undefined = stanza;
    for (const f of list) {
      s = f(s);
      if (s === undefined) return undefined;
    }
    return s;
  }

  // ---- output ----

  protected override canWrite(): boolean {
    return this.state !== "closed" && !this.detached;
  }

  send(original: Element): boolean {
    if (this.state === "closed") return false;
    this.ctx.countStanza?.("out", original.name);
    let stanza: Element | undefined = original;
    if (this.filters.out.length && (stanza.attrs.xmlns === undefined || stanza.attrs.xmlns === NS_CLIENT)) {
      stanza = this.filter(this.filters.out, stanza);
      if (stanza === undefined) return true;
    }
    if (stanza.attrs.type === "error") logStanzaErrorSent(this.ctx.failureLog, this, stanza);
    if (this.filters.write.length) {
      stanza = this.filter(this.filters.write, stanza);
      if (stanza === undefined) return true; // kept back (client state indication writes it later)
    }
    return this.writeStanza(stanza);
  }

  /** Write a stanza to the client past the "stanzas/write" filters (what one of them kept back). */
  writeStanza(stanza: Element): boolean {
    if (this.state === "closed") return false;
    if (this.transport.framed && stanza.attrs.xmlns === undefined) {
      // RFC 7395 §3.5: stanzas are qualified by jabber:client in every message.
      const copy = stanza.shallowClone();
      copy.attrs = { xmlns: NS_CLIENT, ...stanza.attrs };
      this.writeRaw(serialize(copy));
    } else {
      this.writeRaw(serialize(stanza));
    }
    return true;
  }

  protected override describePeer(): string {
    return `${this.fullJid ?? this.bareJid ?? "an unauthenticated client"} at ${this.remoteAddress} (${this.id})`;
  }

  /**
   * Close with a stream error (RFC 6120 §4.9) or cleanly (§4.4); `app`: an application-specific
   * condition (§4.9.4) after the defined one.
   */
  override close(error?: StreamError): void {
    if (this.movedTo) return this.movedTo.close(error);
    super.close(error);
  }

  /** End the session: unbind, stop timers. */
  protected onTeardown(reason: string): void {
    const wasBound = this.type === "c2s" && this.resource !== undefined;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.ctx.closed?.(this);
    if (this.carrier) this.ctx.closed?.(this.carrier);
    if (wasBound && !this.unbound && this.hostObj) {
      this.unbound = true;
      const host = this.hostObj;
      // Let queued stanzas finish, then tell modules (presence broadcasts unavailable).
      void this.queue.push(async () => {
        await host.bus.fire("resource-unbind", { session: this, reason });
        host.removeSession(this);
      });
    }
  }

  // ---- stream negotiation ----

  protected openStream(attrs: Record<string, string>): void {
    this.headerSent = false;
    this.requestedTo = attrs.to;
    const to = attrs.to === undefined ? undefined : namePrep(attrs.to);
    const host = to === undefined ? undefined : this.ctx.hosts.get(to);
    if (this.hostObj === undefined) {
      if (!host || host.kind !== "local") {
        this.close({ condition: "host-unknown", text: attrs.to === undefined ? "The stream has no 'to'" : `This server does not serve ${attrs.to}` });
        return;
      }
      this.hostObj = host;
      this.host = host.name;
    } else if (host !== this.hostObj) {
      this.close({ condition: "host-unknown", text: "The host changed on stream restart" });
      return;
    }
    if (attrs.version !== undefined && !attrs.version.startsWith("1.")) {
      this.close({ condition: "unsupported-version" });
      return;
    }
    this.sendHeader(this.hostObj.name);
    if (this.state === "wait-open") this.state = "negotiating";
    void this.queue.push(() => this.sendFeatures());
    if (!this.keepalive) this.startKeepalive();
  }

  private opts() {
    return this.ctx.options(this.hostObj?.name);
  }

  protected override async fireFeatures(features: Element): Promise<void> {
    await this.hostObj!.bus.fire("stream-features", { session: this, features, state: this.state });
  }

  protected override fireStreamElement(el: Element): Promise<unknown> {
    return this.hostObj ? this.hostObj.bus.fire(`stream-element/${el.attrs.xmlns ?? ""}:${el.name}`, { session: this, element: el }) : Promise.resolve(undefined);
  }

  /** The SASL mechanisms this stream offers now. */
  mechanisms(): string[] {
    const opts = this.opts();
    return listMechanisms({
      secure: this.secure,
      allowPlainUnencrypted: opts.allowUnencryptedPlain,
      acceptAny: this.ctx.accounts(this.host).acceptAny,
    }).filter((m) => !opts.disabledMechanisms.has(m));
  }

  protected override async handleElement(el: Element): Promise<void> {
    // Read before a resumption completed, handled by the resumed session after what it has queued.
    if (this.movedTo) return this.movedTo.onElement(el);
    return super.handleElement(el);
  }

  protected async handleStanza(el: Element): Promise<void> {
    if (el.name !== "iq" && el.name !== "message" && el.name !== "presence") {
      this.close({ condition: "unsupported-stanza-type", text: `<${el.name}/> is not a stanza` });
      return;
    }
    this.ctx.countStanza?.("in", el.name);
    if (this.state === "bound") {
      const stanza = this.filters.in.length ? this.filter(this.filters.in, el) : el;
      if (stanza === undefined) return;
      // Strophe.js-based clients (Converse.js) send the RFC 3921 session request after bind.
      if (!this.isSessionRequest(stanza)) return this.ctx.router.process(this, stanza);
      this.send(reply(stanza));
      return;
    }
    if (this.state === "authenticated" && el.name === "iq") return this.handleBindOrSession(el);
    if (this.state === "negotiating" && el.name === "iq") {
      // In-band registration (XEP-0077) is the one thing a client may do before authenticating.
      const payload = el.firstElement();
      const ret = payload
        ? await this.hostObj!.bus.fire(`unauthed-iq/${payload.attrs.xmlns ?? ""}:${payload.name}`, { session: this, stanza: el })
        : undefined;
      if (ret !== undefined) return;
    }
    this.close({ condition: "not-authorized", text: "Authenticate and bind a resource first" });
  }

  /** The SASL exchange (the saslauth feature's elements). */
  async handleSasl(el: Element): Promise<void> {
    if (this.state !== "negotiating") {
      this.close({ condition: "policy-violation", text: "Already authenticated" });
      return;
    }
    const opts = this.opts();
    if (opts.requireEncryption && !this.secure) {
      this.saslFailure("encryption-required", "Use STARTTLS first");
      return;
    }
    if (el.name !== "auth" && el.name !== "response" && el.name !== "abort") {
      this.close({ condition: "unsupported-stanza-type" });
      return;
    }
    if (el.name === "auth" || !this.sasl) {
      // Every attempt waits for its address's turn before any password is looked at.
      if (el.name === "auth" && this.throttled) this.ctx.authThrottle.release(this.remoteAddress);
      this.throttled = el.name === "auth" && (await this.ctx.authThrottle.acquire(this.remoteAddress, this));
      if (el.name === "auth" && !this.throttled) {
        this.sasl = undefined;
        if (this.state !== "negotiating") return; // closed while waiting
        this.log.debug(`Authentication refused: too many recent attempts from ${this.remoteAddress}`);
        this.countAuthFailure("temporary-auth-failure", "Too many failed authentication attempts from your address; try again later");
        return;
      }
      if (this.state !== "negotiating") return; // closed while waiting
      this.sasl = new SaslExchange(this.ctx.accounts(this.host), this.secure, this.mechanisms());
    }
    const outcome = await this.sasl.handle(el);
    if (outcome.kind === "failure" && !outcome.counts) {
      this.sasl = undefined;
      this.releaseAttempt();
      this.saslFailure(outcome.condition, outcome.text);
      return;
    }
    await this.saslStep(outcome);
  }

  /** An attempt holding a turn of the address's throttle (see handleSasl). */
  private throttled = false;

  /** The attempt succeeded or checked no password: it does not count against the address. */
  private releaseAttempt(): void {
    if (this.throttled) this.ctx.authThrottle.release(this.remoteAddress);
    this.throttled = false;
  }

  private countAuthFailure(condition: string, text?: string): void {
    this.authFailures++;
    this.saslFailure(condition, text);
    if (this.authFailures >= this.opts().maxAuthFailures) {
      this.close({ condition: "policy-violation", text: "Too many failed authentication attempts" });
    }
  }

  private async saslStep(step: SaslStep): Promise<void> {
    if (step.kind === "challenge") {
      this.writeRaw(`<challenge xmlns='${NS_SASL}'>${step.data.length ? step.data.toString("base64") : "="}</challenge>`);
      return;
    }
    this.sasl = undefined;
    if (step.kind === "failure") {
      this.throttled = false; // the attempt counts against its address
      this.countAuthFailure(step.condition, step.text);
      await this.hostObj?.bus.fire("authentication-failure", { session: this, condition: step.condition });
      return;
    }
    // RFC 6120 §6.4.6: success; the username is the account's localpart.
    if (step.authzid !== undefined && step.authzid !== "" && step.authzid !== `${step.username}@${this.host}`) {
      this.releaseAttempt(); // the password was right
      this.saslFailure("invalid-authzid");
      return;
    }
    this.releaseAttempt();
    this.username = step.username;
    this.bareJid = `${step.username}@${this.host}`;
    this.state = "authenticated";
    this.ctx.authenticated?.(this);
    this.writeRaw(`<success xmlns='${NS_SASL}'>${step.data?.length ? step.data.toString("base64") : ""}</success>`);
    this.log.info(`Authenticated as ${this.bareJid} (${this.transport.kind}${this.secure ? ", encrypted" : ""})`);
    await this.hostObj!.bus.fire("authentication-success", { session: this });
    this.restartStream();
  }

  private saslFailure(condition: string, text?: string): void {
    this.ctx.failureLog.warn(`auth ${this.remoteAddress}`, `Failed authentication from ${this.remoteAddress} to ${this.host}: ${condition}${text ? ` (${text})` : ""}`);
    const f = new Element("failure", { xmlns: NS_SASL }).tag(condition).up();
    if (text) f.textTag("text", text);
    this.writeRaw(serialize(f));
  }

  private async handleBindOrSession(iq: Element): Promise<void> {
    const payload = iq.firstElement();
    if (iq.attrs.type === "set" && payload?.name === "bind" && payload.attrs.xmlns === NS_BIND) {
      return this.bind(iq, payload);
    }
    if (this.isSessionRequest(iq)) {
      this.send(reply(iq));
      return;
    }
    this.close({ condition: "not-authorized", text: "Bind a resource first" });
  }

  /**
   * RFC 3921 §3 session establishment, a no-op since RFC 6121 (the feature is `<optional/>`): answered
   * with an empty result before or after bind, when addressed to the server or the account (or nobody).
   */
  private isSessionRequest(iq: Element): boolean {
    const payload = iq.firstElement();
    if (iq.name !== "iq" || iq.attrs.type !== "set" || iq.attrs.id === undefined) return false;
    if (payload?.name !== "session" || payload.attrs.xmlns !== NS_SESSION) return false;
    const to = iq.attrs.to;
    if (to === undefined) return true;
    const prepped = jidPrep(to);
    return prepped === this.host || (this.username !== undefined && prepped === jidJoin(this.username, this.host));
  }

  /** RFC 6120 §7: resource binding. */
  private async bind(iq: Element, payload: Element): Promise<void> {
    const host = this.hostObj!;
    const requested = payload.getChildText("resource");
    let resource: string;
    if (requested !== undefined && requested.trim() !== "") {
      const prepped = resourcePrep(requested.trim());
      if (prepped === undefined) {
        this.send(errorReply(iq, "modify", "bad-request", "Invalid resource"));
        return;
      }
      resource = prepped;
    } else {
      resource = randomBytes(6).toString("base64url"); // §7.6.2.1: server-generated
    }
    const existing = host.session(this.username!, resource);
    if (existing && existing !== this) {
      // §7.7.2.2: a resource in use.
      const policy = this.opts().conflictResolve;
      if (policy === "kick_new") {
        this.send(errorReply(iq, "cancel", "conflict"));
        return;
      }
      if (policy === "random") {
        resource = `${resource}-${randomBytes(4).toString("hex")}`;
      } else {
        existing.close({ condition: "conflict", text: "Replaced by a new connection" });
        // Wait for the old session's unbind so presence is consistent (its queue may be busy).
        await existing.drain?.();
        if (host.session(this.username!, resource) === existing) host.removeSession(existing);
      }
    }
    if (this.state !== "authenticated") return; // the connection went away meanwhile
    if (host.session(this.username!, resource)) {
      // Another connection bound this resource while we waited.
      this.send(errorReply(iq, "cancel", "conflict"));
      return;
    }
    this.resource = resource;
    this.fullJid = jidJoin(this.username, this.host, resource);
    this.type = "c2s";
    this.state = "bound";
    host.addSession(this);
    this.log = this.ctx.log.child(`${this.id} ${this.fullJid}`);
    const result = reply(iq);
    result.tag("bind", { xmlns: NS_BIND }).textTag("jid", this.fullJid);
    this.send(result);
    await host.bus.fire("resource-bind", { session: this });
  }

  /** Resolves when every stanza received so far has been handled (shutdown, tests). */
  override drain(): Promise<void> {
    if (this.movedTo) return this.queue.drain().then(() => this.movedTo!.drain());
    return this.queue.drain();
  }
}
