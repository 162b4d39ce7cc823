// Server-to-server streams (RFC 6120, jabber:server) on the shared stream layer (src/net/stream.ts),
// and the connection manager that routes stanzas to remote domains.
//
//   S2SInStream   a stream a remote server opened to us: features tls, s2s_sasl (EXTERNAL,
//                 XEP-0178), dialback (XEP-0220) and bidi (XEP-0288) from the host's modules
//                 (mod_tls, mod_s2s, mod_dialback); its
//                 stanzas must come from a domain authenticated on it and go to a domain served
//                 here (else <invalid-from/>, <host-unknown/>), then enter the router as any other.
//   S2SOutStream  a stream we opened to a remote server (one per local domain and remote domain,
//                 reused): STARTTLS, then SASL EXTERNAL when the peer's certificate is valid for its
//                 domain, dialback otherwise (as s2s_secure_auth and friends allow).
//   S2SManager    one route per (local domain, remote domain): stanzas wait in a bounded queue
//                 while it connects (SRV, A/AAAA, each target in turn) and are bounced with
//                 remote-server-not-found / remote-server-timeout when it fails or takes longer than
//                 s2s_timeout; routes idle for s2s_idle_timeout are closed.

import type { Host } from "../hosts/host.js";
import { REMOTE_FLOW_WAIT_MS, type RemoteOrigin, type Router } from "../router/router.js";
import { nextSessionId } from "../sessions/session.js";
import type { Logger, RateLimitedLog } from "../util/logger.js";
import { jidHost, jidPrep, namePrep } from "../util/jid.js";
import { NS_SERVER, NS_STREAM } from "../xml/parser.js";
import { Element, serialize } from "../xml/stanza.js";
import { XmppStream, NS_TLS, type FeatureProvider, type StreamLimits } from "./stream.js";
import { NS_BIDI, NS_BIDI_FEATURE, NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SASL } from "../xml/ns.js";
import { dialbackKey, keysEqual } from "./dialback-key.js";
import { connectOut, type S2STls, type S2STransport } from "./s2s-transport.js";
import { resolveS2S, type S2STarget } from "./s2s-resolve.js";
import { decodeSaslPayload } from "./sasl-exchange.js";

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export interface S2SOptions {
  requireEncryption: boolean;
  secureAuth: boolean;
  secureDomains: ReadonlySet<string>;
  insecureDomains: ReadonlySet<string>;
  dialbackSecret: string;
  /** Seconds to connect and authenticate before queued stanzas bounce (s2s_timeout). */
  timeoutSeconds: number;
  /** Seconds without traffic before a connection is closed (s2s_idle_timeout). */
  idleTimeoutSeconds: number;
  /** Stanzas queued per route while it connects (s2s_send_queue_size). */
  queueSize: number;
  limits: StreamLimits;
  maxSendBuffer: number;
  /** Bytes waiting for the peer above which senders to it wait (s2s_send_buffer_pause). */
  sendBufferPause: number;
  connectOverrides: ReadonlyMap<string, S2STarget>;
}

/** What federation reports to the metrics (mod_http_openmetrics). */
export interface S2SStats {
  stanza(direction: "in" | "out", kind: string): void;
  bytes(direction: "in" | "out", n: number): void;
  /** A connection dropped because more than s2s_send_buffer_limit bytes waited for the peer. */
  overflow?(bytes: number): void;
}

/** One s2s connection as the admin shell and the metrics see it. */
export interface S2SRow {
  direction: "out" | "in";
  local: string;
  remote: string;
  ready: boolean;
  secure: boolean;
  auth: string;
  bidi: boolean;
  /** The peer's address ("" while an outgoing connection is still being made). */
  address: string;
  stanzasIn: number;
  stanzasOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Stanzas waiting for this route's connection to be ready. */
  queued: number;
  /** Bytes written and not yet taken by the peer. */
  buffered: number;
}

export interface S2SContext {
  stats?: S2SStats;
  hosts: Map<string, Host>;
  router: Router;
  log: Logger;
  failureLog: RateLimitedLog;
  tls: S2STls;
  options: S2SOptions;
}

type Fail = (condition: "remote-server-not-found" | "remote-server-timeout", text: string) => void;

/** The security policy for a remote domain: must its identity be proven by a valid certificate? */
function secureAuthFor(o: S2SOptions, remote: string): boolean {
  if (o.insecureDomains.has(remote)) return false;
  if (o.secureDomains.has(remote)) return true;
  return o.secureAuth;
}

/** Validation common to both directions: a stanza from `remote`'s authenticated domains to a domain served here. */
function checkIncoming(stream: XmppStream, el: Element, hosts: Map<string, Host>, authed: (domain: string) => boolean): boolean {
  if (el.name !== "iq" && el.name !== "message" && el.name !== "presence") {
    stream.close({ condition: "unsupported-stanza-type", text: `<${el.name}/> is not a stanza` });
    return false;
  }
  const from = el.attrs.from === undefined ? undefined : jidPrep(el.attrs.from);
  if (from === undefined || !authed(jidHost(from))) {
    stream.close({ condition: "invalid-from", text: `'${el.attrs.from ?? ""}' is not authenticated on this stream` });
    return false;
  }
  const to = el.attrs.to === undefined ? undefined : jidPrep(el.attrs.to);
  if (to === undefined || !hosts.has(jidHost(to))) {
    stream.close({ condition: "host-unknown", text: `This server does not serve '${el.attrs.to ?? ""}'` });
    return false;
  }
  el.attrs.from = from;
  el.attrs.to = to;
  return true;
}

/** What both directions of a server-to-server stream have in common: jabber:server content, the
 *  s2s options and limits, the time of the last traffic (for s2s_idle_timeout), sending and the
 *  traffic counters. */
abstract class S2SStream extends XmppStream {
  protected readonly contentNs = NS_SERVER;
  /** When the stream last read or sent anything. */
  lastActivity = Date.now();
  stanzasIn = 0;
  stanzasOut = 0;

  constructor(
    protected readonly s2sTransport: S2STransport,
    protected readonly ctx: S2SContext,
  ) {
    super(s2sTransport, ctx.log, ctx.failureLog);
    s2sTransport.onBytes = ctx.stats?.bytes;
    s2sTransport.onOverflow = (bytes) => {
      this.log.warn(`${this.describePeer()} has not read ${bytes} bytes, more than s2s_send_buffer_limit: closing the connection, the stanzas it held are lost`);
      ctx.stats?.overflow?.(bytes);
    };
  }

  get encryptionRequired(): boolean {
    return this.ctx.options.requireEncryption;
  }
  protected limits(): StreamLimits {
    return this.ctx.options.limits;
  }
  protected override headerExtras(): string {
    return ` xmlns:db='${NS_DIALBACK}'`;
  }

  override onTransportData(chunk: Buffer | string): void {
    this.lastActivity = Date.now();
    super.onTransportData(chunk);
  }

  /** A stanza to the peer (on an incoming stream: only once it is bidirectional). */
  send(stanza: Element): boolean {
    if (this.closed) return false;
    this.lastActivity = Date.now();
    this.stanzasOut++;
    this.ctx.stats?.stanza("out", stanza.name);
    this.writeRaw(serialize(stanza));
    return true;
  }

  /** Traffic of this connection so far. */
  get traffic(): { bytesIn: number; bytesOut: number; buffered: number } {
    return { bytesIn: this.s2sTransport.bytesIn, bytesOut: this.s2sTransport.bytesOut, buffered: this.s2sTransport.buffered };
  }

  /**
   * More than `limit` bytes wait for the peer: resolves once it has read them, or the connection is
   * gone (undefined once it has read nothing for `patienceMs`: it seems stalled).
   */
  congestion(limit: number, patienceMs = REMOTE_FLOW_WAIT_MS): Promise<void> | undefined {
    return this.s2sTransport.buffered > limit ? this.s2sTransport.drained(patienceMs) : undefined;
  }
}

export class S2SInStream extends S2SStream {
  readonly id = nextSessionId("s2sin");
  readonly kind = "s2sin" as const;
  readonly type = "s2sin" as const;
  /** The domain the peer's stream header says it is. */
  peerDomain?: string;
  /** Remote domains authenticated on this stream, and how. */
  readonly authenticated = new Map<string, "external" | "dialback" | "certificate">();
  /** The peer asked for a bidirectional stream (XEP-0288). */
  bidi = false;
  private idleTimer?: NodeJS.Timeout;
  private negotiationTimer?: NodeJS.Timeout;

  constructor(
    s2sTransport: S2STransport,
    ctx: S2SContext,
    private readonly manager: S2SManager,
  ) {
    super(s2sTransport, ctx);
    this.log = ctx.log.child(this.id);
    this.newParser();
    this.log.debug(`New incoming s2s ${s2sTransport.kind} connection from ${s2sTransport.remoteAddress}`);
    this.negotiationTimer = setTimeout(() => {
      if (this.authenticated.size === 0) this.close({ condition: "connection-timeout", text: "Not authenticated in time" });
    }, ctx.options.timeoutSeconds * 1000);
    this.negotiationTimer.unref?.();
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastActivity > ctx.options.idleTimeoutSeconds * 1000) this.close();
    }, Math.max(250, (ctx.options.idleTimeoutSeconds * 1000) / 4));
    this.idleTimer.unref?.();
  }

  protected override describePeer(): string {
    return `${this.peerDomain ?? "an unauthenticated server"} at ${this.remoteAddress} (${this.id})`;
  }

  /** The local domain this stream was opened to. */
  get localDomain(): string {
    return this.hostObj?.name ?? "";
  }

  protected openStream(attrs: Record<string, string>): void {
    this.headerSent = false;
    this.requestedTo = attrs.to;
    const to = attrs.to === undefined ? undefined : namePrep(attrs.to);
    const host = to === undefined ? undefined : this.ctx.hosts.get(to);
    if (!host || (this.hostObj && host !== this.hostObj)) {
      this.close({ condition: "host-unknown", text: attrs.to === undefined ? "The stream has no 'to'" : `This server does not serve ${attrs.to}` });
      return;
    }
    this.hostObj = host;
    const from = attrs.from === undefined ? undefined : namePrep(attrs.from);
    if (from !== undefined) this.peerDomain = from;
    if (this.secure && from !== undefined) {
      this.log.debug(`Stream from ${from}: its certificate is ${this.s2sTransport.certValidFor(from) ? "valid for it" : `not valid for it (${this.s2sTransport.peerCertError ?? "a trusted certificate for another name"})`}`);
    }
    this.sendHeader(host.name, this.peerDomain);
    if (this.state === "wait-open") this.state = "negotiating";
    // RFC 6120 §4.7.5: a peer without version='1.0' gets no features (dialback only).
    if (attrs.version !== undefined) void this.queue.push(() => this.sendFeatures());
    if (!this.keepalive) this.startKeepalive();
  }

  /** SASL EXTERNAL is possible: encrypted, and the certificate is trusted and valid for the peer's domain. */
  externalPossible(): boolean {
    return this.secure && this.peerDomain !== undefined && this.authenticated.size === 0 && this.s2sTransport.certValidFor(this.peerDomain);
  }

  async handleSaslExternal(el: Element): Promise<void> {
    if (el.name !== "auth") {
      if (el.name === "abort") this.sendStreamElement(new Element("failure", { xmlns: NS_SASL }).tag("aborted").up());
      else this.close({ condition: "unsupported-stanza-type" });
      return;
    }
    const payload = decodeSaslPayload(el.getText());
    const authzid = payload === null ? null : payload === undefined || payload.length === 0 ? this.peerDomain : payload.toString("utf8");
    const domain = authzid ? namePrep(authzid) : undefined;
    const fail = (condition: string, text: string) => {
      this.ctx.failureLog.warn(`s2s-auth ${this.remoteAddress}`, `SASL EXTERNAL from ${this.remoteAddress} for ${authzid ?? "?"} refused: ${text}`);
      this.sendStreamElement(new Element("failure", { xmlns: NS_SASL }).tag(condition).up().textTag("text", text));
    };
    if (el.attrs.mechanism !== "EXTERNAL") return fail("invalid-mechanism", "Only EXTERNAL is offered");
    if (payload === null) return fail("incorrect-encoding", "Not base64");
    if (domain === undefined || (this.peerDomain !== undefined && domain !== this.peerDomain)) return fail("invalid-authzid", "The authorization identity is not the stream's domain");
    if (!this.s2sTransport.certValidFor(domain)) return fail("not-authorized", "The certificate is not valid for that domain");
    this.write(`<success xmlns='${NS_SASL}'/>`);
    this.markAuthenticated(domain, "external");
    this.restartStream();
  }

  async handleDialback(el: Element): Promise<void> {
    const from = el.attrs.from === undefined ? undefined : namePrep(el.attrs.from);
    const to = el.attrs.to === undefined ? undefined : namePrep(el.attrs.to);
    if (el.name === "verify") {
      // We are the authoritative server of `to`: is this the key we made for (from, to, id)?
      const ok = from !== undefined && to !== undefined && this.ctx.hosts.has(to) && el.attrs.id !== undefined &&
        keysEqual(dialbackKey(this.ctx.options.dialbackSecret, from, to, el.attrs.id), el.getText().trim());
      this.sendStreamElement(new Element("db:verify", { from: to ?? "", to: from ?? "", id: el.attrs.id ?? "", type: ok ? "valid" : "invalid" }));
      return;
    }
    if (el.name !== "result") {
      this.close({ condition: "unsupported-stanza-type" });
      return;
    }
    if (this.encryptionRequired && !this.secure) {
      this.close({ condition: "policy-violation", text: "Encryption is required before dialback" });
      return;
    }
    const answer = (type: "valid" | "invalid" | "error", condition?: string, text?: string) => {
      const r = new Element("db:result", { from: to ?? "", to: from ?? "", type });
      if (condition) r.tag("error", { type: "cancel" }).tag(condition, { xmlns: NS_STANZAS }).up().up();
      if (text) this.log.debug(`Dialback for ${from} → ${to}: ${type} (${text})`);
      this.sendStreamElement(r);
    };
    if (from === undefined || to === undefined) return answer("error", "bad-request", "from or to missing");
    if (!this.ctx.hosts.has(to)) return answer("error", "item-not-found", `${to} is not served here`);
    const certOk = this.s2sTransport.certValidFor(from);
    if (certOk) {
      // The certificate proves the domain already (as Prosody does): no need to dial back.
      this.markAuthenticated(from, "certificate");
      return answer("valid");
    }
    if (secureAuthFor(this.ctx.options, from)) {
      this.ctx.failureLog.warn(`s2s-auth ${this.remoteAddress}`, `Refused dialback from ${from} at ${this.remoteAddress}: s2s_secure_auth needs a valid certificate (${this.s2sTransport.peerCertError ?? "none"})`);
      return answer("error", "not-authorized", "a valid certificate is required");
    }
    // Not awaited: this stream goes on reading (a <db:verify/> for the peer may be behind this
    // request, and the peer may be waiting for it before it answers ours: dialback deadlock).
    void this.manager.verifyDialback(to, from, this.streamId, el.getText().trim()).then((outcome) => {
      if (this.closed) return;
      if (outcome === "valid") {
        this.markAuthenticated(from, "dialback");
        return answer("valid");
      }
      if (outcome === "invalid") {
        this.ctx.failureLog.warn(`s2s-auth ${this.remoteAddress}`, `Forged or stale dialback key from ${this.remoteAddress} claiming ${from}`);
        return answer("invalid");
      }
      return answer("error", outcome, `verification failed: ${outcome}`);
    });
  }

  private markAuthenticated(domain: string, how: "external" | "dialback" | "certificate"): void {
    this.authenticated.set(domain, how);
    if (this.state === "negotiating") this.state = "authenticated";
    this.log.info(`Incoming s2s stream from ${domain} (${this.remoteAddress}) authenticated by ${how}${this.secure ? ", encrypted" : ""}${this.bidi ? ", bidirectional" : ""}`);
    if (this.bidi) this.manager.addBidi(this.localDomain, domain, this);
  }

  protected handleStanza(el: Element): Promise<void> | void {
    this.lastActivity = Date.now();
    if (this.authenticated.size === 0) {
      this.close({ condition: "not-authorized", text: "Authenticate first" });
      return;
    }
    if (!checkIncoming(this, el, this.ctx.hosts, (d) => this.authenticated.has(d))) return;
    this.stanzasIn++;
    this.ctx.stats?.stanza("in", el.name);
    const origin: RemoteOrigin = { type: "s2sin", id: this.id, host: jidHost(el.attrs.to!), remote: jidHost(el.attrs.from!) };
    return this.ctx.router.processRemote(origin, el);
  }

  protected onTeardown(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (this.negotiationTimer) clearTimeout(this.negotiationTimer);
    this.manager.inboundClosed(this);
  }
}

/** A stream this server opened to a remote one, for stanzas from `local` to `remote`. */
export class S2SOutStream extends S2SStream {
  readonly id = nextSessionId("s2sout");
  readonly kind = "s2sout" as const;
  /** An initiating stream offers no features. */
  protected override get providers(): readonly FeatureProvider<never>[] {
    return [];
  }
  /** The peer's stream id (what dialback keys are made for). */
  peerStreamId = "";
  /** Usable for <db:verify/> (features seen on the final, encrypted when required, stream). */
  private usable = false;
  ready = false;
  authMethod?: "external" | "dialback";
  bidi = false;
  private triedTls = false;
  private sentAuth = false;
  private readonly verifies = new Map<string, Array<(outcome: "valid" | "invalid") => void>>();
  private readonly pendingVerifies: Element[] = [];

  constructor(
    s2sTransport: S2STransport,
    ctx: S2SContext,
    readonly local: string,
    readonly remote: string,
    private readonly events: { ready(s: S2SOutStream): void; failed(s: S2SOutStream, text: string): void; closed(s: S2SOutStream): void },
  ) {
    super(s2sTransport, ctx);
    this.log = ctx.log.child(`${this.id} ${local}→${remote}`);
    this.newParser();
    this.sendHeader(local, remote);
    this.startKeepalive();
  }

  protected override describePeer(): string {
    return `${this.remote} at ${this.remoteAddress} (${this.id})`;
  }
  protected override sendHeaderForError(): void {
    this.sendHeader(this.local, this.remote);
  }

  protected openStream(attrs: Record<string, string>): void {
    this.peerStreamId = attrs.id ?? "";
    if (this.state === "wait-open") this.state = "negotiating";
    // A pre-1.0 server sends no features: dialback at once.
    if (attrs.version === undefined) void this.queue.push(() => this.afterFeatures(new Element("features", { xmlns: NS_STREAM })));
  }

  private fail(text: string): void {
    this.events.failed(this, text);
    this.close();
  }

  protected override async handleElement(el: Element): Promise<void> {
    if (this.closed) return;
    const ns = el.attrs.xmlns;
    if (ns === undefined) return this.handleStanza(el);
    if (ns === NS_STREAM && el.name === "features") return this.afterFeatures(el);
    if (ns === NS_STREAM && el.name === "error") {
      const cond = el.childElements()[0]?.name ?? "undefined-condition";
      this.log.info(`Stream error from ${this.remote}: ${cond} ${el.getChildText("text", "urn:ietf:params:xml:ns:xmpp-streams") ?? ""}`);
      if (!this.ready) this.events.failed(this, `stream error <${cond}/> from ${this.remote}`);
      this.teardown(`stream error: ${cond}`);
      this.transport.end();
      return;
    }
    if (ns === NS_TLS) {
      if (el.name === "proceed" && this.triedTls && !this.secure) {
        if (!(await this.upgradeToTls("outgoing s2s STARTTLS"))) {
          this.events.failed(this, "TLS handshake failed");
          return;
        }
        this.sendHeader(this.local, this.remote);
        return;
      }
      return this.fail(`${this.remote} refused STARTTLS`);
    }
    if (ns === NS_SASL) {
      if (el.name === "success") {
        this.authMethod = "external";
        this.restartStream();
        this.sendHeader(this.local, this.remote);
        return;
      }
      // EXTERNAL refused: dialback may still do (when the peer offers it).
      this.log.info(`${this.remote} refused SASL EXTERNAL: ${el.childElements()[0]?.name ?? "?"}; trying dialback`);
      this.sendDialbackResult();
      return;
    }
    if (ns === NS_DIALBACK) {
      if (el.name === "result") {
        if (el.attrs.type === "valid") {
          this.authMethod = "dialback";
          return this.becomeReady();
        }
        const cond = el.getChild("error", NS_SERVER)?.childElements()[0]?.name;
        return this.fail(`dialback refused by ${this.remote}: ${el.attrs.type}${cond ? ` (${cond})` : ""}`);
      }
      if (el.name === "verify") {
        const waiting = this.verifies.get(el.attrs.id ?? "");
        const cb = waiting?.shift();
        if (waiting && waiting.length === 0) this.verifies.delete(el.attrs.id ?? "");
        cb?.(el.attrs.type === "valid" ? "valid" : "invalid");
        return;
      }
    }
    this.close({ condition: "unsupported-stanza-type", text: `<${el.name} xmlns='${ns}'/> is not expected here` });
  }

  private async afterFeatures(features: Element): Promise<void> {
    if (this.ready) return; // features after the SASL restart
    if (this.authMethod === "external") return this.becomeReady();
    if (!this.secure) {
      const starttls = features.getChild("starttls", NS_TLS);
      if (starttls && this.transport.canStartTls && !this.triedTls) {
        this.triedTls = true;
        this.write(`<starttls xmlns='${NS_TLS}'/>`);
        return;
      }
      if (this.encryptionRequired) return this.fail(`${this.remote} does not offer STARTTLS and s2s_require_encryption is on`);
    }
    this.usable = true;
    for (const v of this.pendingVerifies.splice(0)) this.sendStreamElement(v);
    const certOk = this.s2sTransport.certValidFor(this.remote);
    if (!certOk && secureAuthFor(this.ctx.options, this.remote)) {
      return this.fail(`the certificate of ${this.remote} is not valid for it (${this.s2sTransport.peerCertError ?? "none"}) and s2s_secure_auth needs one`);
    }
    if (this.sentAuth) return;
    this.sentAuth = true;
    // Bidirectional only when we know who the peer is (its certificate): it may then send on this stream.
    if (certOk && features.getChild("bidi", NS_BIDI_FEATURE)) {
      this.bidi = true;
      this.write(`<bidi xmlns='${NS_BIDI}'/>`);
    }
    const mechs = features.getChild("mechanisms", NS_SASL);
    const external = mechs?.childElements("mechanism").some((m) => m.getText().trim() === "EXTERNAL");
    if (certOk && external && this.secure) {
      this.write(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from(this.local).toString("base64")}</auth>`);
      return;
    }
    if (features.getChild("dialback", NS_DIALBACK_FEATURE) || features.children.length === 0 || !mechs) {
      this.sendDialbackResult();
      return;
    }
    this.fail(`${this.remote} offers no way to authenticate`);
  }

  private sendDialbackResult(): void {
    const key = dialbackKey(this.ctx.options.dialbackSecret, this.remote, this.local, this.peerStreamId);
    this.sendStreamElement(new Element("db:result", { from: this.local, to: this.remote }).text(key));
  }

  private becomeReady(): void {
    if (this.ready) return;
    this.ready = true;
    if (this.state === "negotiating") this.state = "authenticated";
    this.log.info(`Outgoing s2s stream to ${this.remote} authenticated by ${this.authMethod}${this.secure ? ", encrypted" : ""}${this.bidi ? ", bidirectional" : ""}`);
    this.events.ready(this);
  }

  /** Ask the peer (the authoritative server of `remote`) whether a dialback key is its own. */
  verify(id: string, key: string): Promise<"valid" | "invalid"> {
    return new Promise((resolve) => {
      const list = this.verifies.get(id) ?? [];
      list.push(resolve);
      this.verifies.set(id, list);
      const v = new Element("db:verify", { from: this.local, to: this.remote, id }).text(key);
      if (this.usable) this.sendStreamElement(v);
      else this.pendingVerifies.push(v);
    });
  }

  protected handleStanza(el: Element): Promise<void> | void {
    // Only a bidirectional stream carries stanzas from the peer (XEP-0288).
    if (!this.bidi || !this.ready) {
      this.close({ condition: "not-authorized", text: "Not a bidirectional stream" });
      return;
    }
    if (!checkIncoming(this, el, this.ctx.hosts, (d) => d === this.remote)) return;
    this.stanzasIn++;
    this.ctx.stats?.stanza("in", el.name);
    const origin: RemoteOrigin = { type: "s2sin", id: this.id, host: jidHost(el.attrs.to!), remote: this.remote };
    return this.ctx.router.processRemote(origin, el);
  }

  protected onTeardown(): void {
    for (const list of this.verifies.values()) for (const cb of list) cb("invalid");
    this.verifies.clear();
    this.events.closed(this);
  }
}

interface Queued {
  stanza: Element;
  fail: Fail;
}

/** One route: stanzas from a local domain to a remote one. */
class Route {
  out?: S2SOutStream;
  bidiIn?: S2SInStream;
  queue: Queued[] = [];
  /** The queue is being written to the new connection, at the peer's pace; resolves when it is empty. */
  flushing?: Promise<void>;
  connecting?: Promise<void>;
  timer?: NodeJS.Timeout;
  lastActivity = Date.now();
  constructor(
    readonly local: string,
    readonly remote: string,
  ) {}
  /** The stream stanzas go out on now, if any. */
  sink(): { send(s: Element): boolean; congestion(limit: number, patienceMs?: number): Promise<void> | undefined } | undefined {
    if (this.out?.ready && !this.out.closed) return this.out;
    if (this.bidiIn && !this.bidiIn.closed) return this.bidiIn;
    return undefined;
  }
}

export class S2SManager {
  private readonly routes = new Map<string, Route>();
  readonly inbound = new Set<S2SInStream>();
  private idleTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly ctx: S2SContext) {
    const idle = ctx.options.idleTimeoutSeconds * 1000;
    this.idleTimer = setInterval(() => this.closeIdle(), Math.max(250, idle / 4));
    this.idleTimer.unref?.();
  }

  private route(local: string, remote: string): Route {
    const key = `${local}\0${remote}`;
    let r = this.routes.get(key);
    if (!r) {
      r = new Route(local, remote);
      this.routes.set(key, r);
    }
    return r;
  }

  /**
   * Outgoing connections (and routes still waiting for one, with the stanzas they hold) and
   * authenticated incoming ones (a row per domain authenticated on it), with their traffic: for the
   * shell's s2s:show() and the metrics.
   */
  list(): S2SRow[] {
    const out: S2SRow[] = [];
    for (const r of this.routes.values()) {
      if (r.out && !r.out.closed) {
        const s = r.out;
        out.push({ direction: "out", local: r.local, remote: r.remote, ready: s.ready, secure: s.secure, auth: s.authMethod ?? "none", bidi: s.bidi, address: s.remoteAddress, stanzasIn: s.stanzasIn, stanzasOut: s.stanzasOut, ...s.traffic, queued: r.queue.length });
      } else if (r.queue.length) {
        out.push({ direction: "out", local: r.local, remote: r.remote, ready: false, secure: false, auth: "none", bidi: false, address: "", stanzasIn: 0, stanzasOut: 0, bytesIn: 0, bytesOut: 0, buffered: 0, queued: r.queue.length });
      }
    }
    for (const s of this.inbound) {
      for (const [d, how] of s.authenticated) {
        out.push({ direction: "in", local: s.localDomain, remote: d, ready: true, secure: s.secure, auth: how, bidi: s.bidi, address: s.remoteAddress, stanzasIn: s.stanzasIn, stanzasOut: s.stanzasOut, ...s.traffic, queued: 0 });
      }
    }
    return out;
  }

  /** Stanzas waiting for a connection to be ready, over every route. */
  queued(): number {
    let n = 0;
    for (const r of this.routes.values()) n += r.queue.length;
    return n;
  }

  /**
   * Send a stanza from `local` (a domain served here) to `remote`; `fail` bounces it. Flow control:
   * when more than s2s_send_buffer_pause bytes wait for the peer, the promise returned resolves once
   * it has read them (the sender should wait for it: a large pubsub fan-out then goes at the peer's
   * pace instead of filling memory until s2s_send_buffer_limit drops the connection).
   * `patienceMs`: after the peer has read nothing for that long, nobody is asked to wait for it
   * (until it catches up); Infinity for a sender that holds back only what it has for this peer.
   */
  send(stanza: Element, local: string, remote: string, fail: Fail, patienceMs = REMOTE_FLOW_WAIT_MS): Promise<void> | undefined {
    if (this.stopped) {
      fail("remote-server-not-found", "The server is shutting down");
      return undefined;
    }
    const r = this.route(local, remote);
    r.lastActivity = Date.now();
    const sink = r.sink();
    if (sink && !r.flushing) {
      sink.send(stanza);
      return sink.congestion(this.ctx.options.sendBufferPause, patienceMs);
    }
    if (sink && r.flushing) {
      // Behind what waited for the connection, in order; the sender waits while it goes out.
      r.queue.push({ stanza, fail });
      return r.flushing;
    }
    if (r.queue.length >= this.ctx.options.queueSize) {
      fail("remote-server-timeout", `Too many stanzas waiting for the connection to ${remote}`);
      return undefined;
    }
    r.queue.push({ stanza, fail });
    void this.connect(r);
    return undefined;
  }

  private connect(r: Route): Promise<void> {
    if (r.connecting) return r.connecting;
    const timeoutMs = this.ctx.options.timeoutSeconds * 1000;
    r.timer = setTimeout(() => this.failRoute(r, "remote-server-timeout", `No connection to ${r.remote} within ${this.ctx.options.timeoutSeconds} s`), timeoutMs);
    r.timer.unref?.();
    r.connecting = this.attempt(r, timeoutMs).catch((err: Error) => this.failRoute(r, "remote-server-not-found", err.message));
    return r.connecting;
  }

  private async attempt(r: Route, timeoutMs: number): Promise<void> {
    const targets = await this.targets(r.remote);
    if (!targets.length) throw new Error(`${r.remote} has no XMPP server (DNS)`);
    let last = "";
    for (const t of targets) {
      if (!r.connecting) return; // failed meanwhile (timeout)
      try {
        const transport = await connectOut(t, this.ctx.tls, { remote: r.remote, local: r.local }, Math.min(timeoutMs, 10000), this.ctx.options.maxSendBuffer);
        if (!r.connecting) {
          transport.destroy();
          return;
        }
        const ok = await new Promise<boolean>((resolve) => {
          const stream = new S2SOutStream(transport, this.ctx, r.local, r.remote, {
            ready: () => resolve(true),
            failed: (_s, text) => {
              last = text;
              resolve(false);
            },
            closed: (s) => {
              if (r.out === s) r.out = undefined;
              resolve(false);
            },
          });
          r.out = stream;
          transport.attach(stream);
        });
        if (ok) {
          this.routeReady(r);
          return;
        }
        // Authentication failed: the next address of the same server will not do better.
        throw new Error(last || `The connection to ${r.remote} was closed`);
      } catch (err) {
        last = (err as Error).message;
        if (r.out) throw err;
        this.ctx.log.debug(`s2s ${r.local}→${r.remote}: ${t.host}:${t.port}${t.directTls ? " (direct TLS)" : ""} failed: ${last}`);
      }
    }
    throw new Error(`Could not connect to ${r.remote}: ${last}`);
  }

  private targets(remote: string): Promise<S2STarget[]> {
    // RFC 6761: names that never resolve, answered without asking DNS.
    if (/(^|\.)(invalid|localhost)$/i.test(remote)) return Promise.resolve([]);
    return resolveS2S(remote, this.ctx.options.connectOverrides.get(remote));
  }

  private routeReady(r: Route): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    r.connecting = undefined;
    if (!r.flushing && r.queue.length) {
      r.flushing = this.flush(r).finally(() => (r.flushing = undefined));
    }
  }

  /**
   * Write what waited for the connection, in order, at the peer's pace (flow control, as for
   * stanzas sent on a ready connection): all at once, a long queue could exceed
   * s2s_send_buffer_limit and lose the connection with everything in it.
   */
  private async flush(r: Route): Promise<void> {
    while (r.queue.length) {
      const sink = r.sink();
      if (!sink) {
        for (const q of r.queue.splice(0)) q.fail("remote-server-not-found", `The connection to ${r.remote} was lost`);
        return;
      }
      const q = r.queue.shift()!;
      sink.send(q.stanza);
      const congested = sink.congestion(this.ctx.options.sendBufferPause);
      if (congested) await congested;
    }
  }

  private failRoute(r: Route, condition: "remote-server-not-found" | "remote-server-timeout", text: string): void {
    if (!r.connecting && !r.timer) return;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    r.connecting = undefined;
    this.ctx.log.info(`s2s ${r.local}→${r.remote} failed: ${text}`);
    const out = r.out;
    r.out = undefined;
    if (out && !out.closed) out.close();
    for (const q of r.queue.splice(0)) q.fail(condition, text);
    // A failed route is forgotten: the next stanza tries again.
    if (!r.bidiIn) this.routes.delete(`${r.local}\0${r.remote}`);
  }

  /** Dialback verification (we are the receiving server): ask `remote`'s authoritative server. */
  async verifyDialback(local: string, remote: string, streamId: string, key: string): Promise<"valid" | "invalid" | "remote-server-not-found" | "remote-server-timeout"> {
    const r = this.route(local, remote);
    if (!r.out || r.out.closed) {
      // The route's connection carries the verification (before it has authenticated itself).
      void this.connect(r);
      const deadline = Date.now() + this.ctx.options.timeoutSeconds * 1000;
      while (!r.out && r.connecting && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
    }
    const out = r.out;
    if (!out || out.closed) return "remote-server-not-found";
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"remote-server-timeout">((ok) => {
      timer = setTimeout(() => ok("remote-server-timeout"), this.ctx.options.timeoutSeconds * 1000);
      timer.unref?.();
    });
    try {
      return await Promise.race([out.verify(streamId, key), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  addInbound(s: S2SInStream): void {
    this.inbound.add(s);
  }

  /** A bidirectional incoming stream can carry our stanzas to `remote`. */
  addBidi(local: string, remote: string, s: S2SInStream): void {
    const r = this.route(local, remote);
    r.bidiIn = s;
    if (r.queue.length && !r.out?.ready) {
      if (r.timer) clearTimeout(r.timer);
      this.routeReady(r);
    }
  }

  inboundClosed(s: S2SInStream): void {
    this.inbound.delete(s);
    for (const r of this.routes.values()) if (r.bidiIn === s) r.bidiIn = undefined;
  }

  private closeIdle(): void {
    const limit = this.ctx.options.idleTimeoutSeconds * 1000;
    const now = Date.now();
    for (const [key, r] of this.routes) {
      if (r.connecting || r.queue.length) continue;
      const active = Math.max(r.lastActivity, r.out?.lastActivity ?? 0);
      if (now - active < limit) continue;
      if (r.out && !r.out.closed) {
        r.out.log.debug(`Closing the idle s2s stream to ${r.remote}`);
        r.out.close();
      }
      r.out = undefined;
      if (!r.bidiIn) this.routes.delete(key);
    }
  }

  /** Every stream, for shutdown. */
  streams(): XmppStream[] {
    const all: XmppStream[] = [...this.inbound];
    for (const r of this.routes.values()) if (r.out && !r.out.closed) all.push(r.out);
    return all;
  }

  stop(): void {
    this.stopped = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const r of this.routes.values()) {
      if (r.timer) clearTimeout(r.timer);
      for (const q of r.queue.splice(0)) q.fail("remote-server-not-found", "The server is shutting down");
    }
  }
}
