// The XML stream layer (RFC 6120 §4), shared by every kind of stream Herald speaks: client streams
// (src/net/c2s.ts, TCP and RFC 7395 framing), server streams both ways (src/net/s2s.ts). It owns the
// transport and the parser (with the parser limits), stream headers, restarts, features assembly,
// flow control, whitespace keepalives, stream errors and the close; each kind adds what its streams
// do once open. Stream features come from feature providers the host's modules register
// (module.addStreamFeature: mod_tls, mod_saslauth, mod_bind, mod_dialback, mod_s2s): each offers its part of
// <stream:features/> and handles the stream-level elements of its namespaces; after them, modules
// add to the features through the host's `stream-features` event and get other stream-level
// elements as `stream-element/<ns>:<name>` (stream management).

import { randomBytes } from "node:crypto";
import type { OptionReader } from "../config/options.js";
import type { Host } from "../hosts/host.js";
import { SerialQueue } from "../sessions/session.js";
import type { Logger, RateLimitedLog } from "../util/logger.js";
import { NS_FRAMING, NS_STREAM, XmlStream, type StreamErrorCondition } from "../xml/parser.js";
import { Element, serialize } from "../xml/stanza.js";
import { escapeAttr } from "../xml/escape.js";
import type { Transport, TransportListener } from "./transport.js";
import { logTlsFailure } from "./failure-log.js";

export const NS_XMPP_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

/** Inbound stanzas waiting in a stream's queue before reading from its socket pauses / resumes. */
export const PAUSE_AT = 64;
export const RESUME_AT = 16;

/** The parser's limits and the keepalive of a stream (c2s_* options for clients, s2s_* for servers). */
export interface StreamLimits {
  maxStanzaSize: number;
  maxStanzaDepth: number;
  maxElementAttributes: number;
  maxStanzaElements: number;
  keepaliveSeconds: number;
}

/** The parser limits of every stream kind, under Prosody's c2s_* option names (client, server and
 *  component streams alike). */
export function parserLimitOptions(o: OptionReader): Pick<StreamLimits, "maxStanzaDepth" | "maxElementAttributes" | "maxStanzaElements"> {
  return {
    maxStanzaDepth: o.integer("c2s_max_stanza_depth", 64, { min: 8, max: 1000 }),
    maxElementAttributes: o.integer("c2s_max_element_attributes", 100, { min: 10, max: 10000 }),
    maxStanzaElements: o.integer("c2s_max_stanza_elements", 5000, { min: 100, max: 1000000 }),
  };
}

export type StreamState = "wait-open" | "negotiating" | "authenticated" | "bound" | "closed";

/**
 * A stream feature (Prosody's mod_tls, mod_saslauth, mod_bind, mod_dialback): what it adds to
 * <stream:features/> in the stream's present state, and the stream-level elements (by namespace)
 * it handles.
 */
export interface FeatureProvider<S extends XmppStream = XmppStream> {
  readonly name: string;
  /** Namespaces of the stream-level elements this feature handles. */
  readonly namespaces?: readonly string[];
  /** Add this feature's offer to `features` (the stream has just been (re)opened). */
  offer?(stream: S, features: Element): void | Promise<void>;
  /** A stream-level element in one of `namespaces`. */
  handle?(stream: S, el: Element): void | Promise<void>;
}

export interface StreamError {
  condition: string;
  text?: string;
  /** An application-specific condition (RFC 6120 §4.9.4) after the defined one. */
  app?: Element;
}

export abstract class XmppStream implements TransportListener {
  abstract readonly id: string;
  log: Logger;
  protected state: StreamState = "wait-open";
  protected transport: Transport;
  protected parser!: XmlStream;
  protected readonly queue: SerialQueue;
  /** The host this stream was opened to (receiving) or from (initiating). */
  protected hostObj?: Host;
  streamId = "";
  protected headerSent = false;
  protected requestedTo?: string;
  protected lastOutput = Date.now();
  protected keepalive?: NodeJS.Timeout;
  protected closeTimer?: NodeJS.Timeout;
  /** The stream is ending (closed by either side). */
  protected ending = false;
  protected awaitingRestart = false;
  protected paused = false;
  /** The parser works through a large read a slice at a time; meanwhile the socket is not read. */
  private parserBusy = false;

  /** jabber:client or jabber:server: the default namespace of the stream's content. */
  protected abstract readonly contentNs: string;
  /** The features this stream offers and handles, in order: what the host's modules registered for its kind (module.addStreamFeature). */
  protected get providers(): readonly FeatureProvider<never>[] {
    return this.hostObj?.streamFeatures.for(this.kind) ?? [];
  }

  constructor(
    transport: Transport,
    log: Logger,
    protected readonly failureLog: RateLimitedLog,
  ) {
    this.transport = transport;
    this.log = log;
    this.queue = new SerialQueue((err) => this.log.error(`Error handling a stanza: ${(err as Error)?.stack ?? err}`));
  }

  get secure(): boolean {
    return this.transport.secure;
  }
  get transportKind(): Transport["kind"] {
    return this.transport.kind;
  }
  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }
  get closed(): boolean {
    return this.state === "closed";
  }
  /** The stream's state (negotiating, authenticated, ...), for feature providers. */
  get streamState(): StreamState {
    return this.state;
  }
  get streamHost(): Host | undefined {
    return this.hostObj;
  }
  get canStartTls(): boolean {
    return !this.transport.secure && this.transport.canStartTls && this.transport.startTls !== undefined;
  }

  /** TLS is required before authentication on this stream (c2s_require_encryption, s2s_require_encryption). */
  abstract get encryptionRequired(): boolean;
  /** The parser limits and keepalive for this stream (per host once it is known). */
  protected abstract limits(): StreamLimits;
  /** A stanza in the content namespace (iq, message, presence, or anything else in it). */
  protected abstract handleStanza(el: Element): Promise<void> | void;
  /** The stream header the peer sent (receiving side: answer it; initiating side: note it). */
  protected abstract openStream(attrs: Record<string, string>): void;
  /** Called once when the stream ends, whatever the reason. */
  protected abstract onTeardown(reason: string): void;

  /** The session that handles what this connection reads (a resumed session after XEP-0198 resumption). */
  protected target(): XmppStream {
    return this;
  }

  protected newParser(): void {
    const { maxStanzaSize, maxStanzaDepth, maxElementAttributes, maxStanzaElements } = this.limits();
    this.parser?.stop();
    this.setParserBusy(false);
    this.parser = new XmlStream(
      {
        streamStart: (attrs, info) => this.onStreamStart(attrs, info),
        stanza: (el) => this.target().onElement(el),
        streamEnd: () => this.target().onStreamEnd(),
        error: (condition, text) => this.target().onParseError(condition, text),
        backlog: (busy) => this.setParserBusy(busy),
      },
      { framing: this.transport.framed ? "framed" : "stream", maxStanzaSize, maxDepth: maxStanzaDepth, maxAttributes: maxElementAttributes, maxElements: maxStanzaElements },
    );
  }

  private setParserBusy(busy: boolean): void {
    if (busy === this.parserBusy) return;
    this.parserBusy = busy;
    if (busy && !this.paused) this.transport.pause();
    else if (!busy && !this.paused) this.transport.resume();
  }

  // ---- TransportListener ----

  onTransportData(chunk: Buffer | string): void {
    if (this.state === "closed") return;
    this.parser.write(chunk);
  }

  onTransportClose(error?: Error): void {
    this.transportClosed(error);
  }

  protected transportClosed(error?: Error): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (error) this.log.debug(`Connection error: ${error.message}`);
    this.teardown(error ? `Connection error: ${error.message}` : "Disconnected");
  }

  // ---- output ----

  /** Written as is; nothing once the stream is closed. */
  protected canWrite(): boolean {
    return this.state !== "closed";
  }

  protected writeRaw(s: string): void {
    if (!this.canWrite()) return;
    this.lastOutput = Date.now();
    this.transport.write(s);
  }

  /** A stream-level element (features, SASL, TLS, dialback): on WebSocket it declares the stream prefix itself. */
  sendStreamElement(el: Element): void {
    if (this.transport.framed && el.name.startsWith("stream:")) el.attrs["xmlns:stream"] = NS_STREAM;
    this.writeRaw(serialize(el));
  }

  /** Extra namespace declarations and attributes of this kind's stream header (e.g. xmlns:db). */
  protected headerExtras(): string {
    return "";
  }

  /** Send our stream header. `to`: the peer's name (when we know it); `from`: ours. */
  protected sendHeader(from: string, to?: string): void {
    this.headerSent = true;
    this.streamId = randomBytes(12).toString("base64url");
    const toAttr = to !== undefined ? ` to='${escapeAttr(to)}'` : "";
    if (this.transport.framed) {
      this.writeRaw(`<open xmlns='${NS_FRAMING}' from='${escapeAttr(from)}'${toAttr} id='${this.streamId}' version='1.0' xml:lang='en'/>`);
    } else {
      this.writeRaw(
        `<?xml version='1.0'?><stream:stream xmlns='${this.contentNs}' xmlns:stream='${NS_STREAM}'${this.headerExtras()} from='${escapeAttr(from)}'${toAttr} id='${this.streamId}' version='1.0' xml:lang='en'>`,
      );
    }
  }

  /** The header to send before a stream error when none was sent yet (RFC 6120 §4.9.1.2). */
  protected sendHeaderForError(): void {
    this.sendHeader(this.hostObj?.name ?? this.requestedTo ?? "");
  }

  /** How this stream's peer is named in the log. */
  protected describePeer(): string {
    return `${this.remoteAddress} (${this.id})`;
  }

  /** Close with a stream error (RFC 6120 §4.9) or cleanly (§4.4). */
  close(error?: StreamError): void {
    if (this.state === "closed") return;
    if (!this.headerSent && error) this.sendHeaderForError();
    if (error) {
      const line = `Closing the stream of ${this.describePeer()} with <${error.condition}/>${error.text ? `: ${error.text}` : ""}`;
      if (error.condition === "system-shutdown") this.log.debug(line);
      else this.failureLog.info(`stream-error ${this.remoteAddress}`, line);
      const e = new Element("stream:error").tag(error.condition, { xmlns: NS_XMPP_STREAMS }).up();
      if (error.text) e.tag("text", { xmlns: NS_XMPP_STREAMS }).text(error.text).up();
      if (error.app) e.add(error.app);
      this.sendStreamElement(e);
    }
    this.writeRaw(this.transport.framed ? `<close xmlns='${NS_FRAMING}'/>` : "</stream:stream>");
    this.teardown(error ? `stream error: ${error.condition}` : "closed by server");
    this.transport.end();
    // RFC 6120 §4.4: wait a little for the peer's closing tag, then drop the connection.
    this.closeTimer = setTimeout(() => this.transport.destroy(), 2000);
    this.closeTimer.unref?.();
  }

  /** End the stream: stop parsing and timers, then the kind's own teardown. Safe to call more than once. */
  protected teardown(reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.parser.stop();
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
    this.onTeardown(reason);
    this.log.debug(`Stream ended: ${reason}`);
  }

  // ---- stream negotiation ----

  protected onParseError(condition: StreamErrorCondition, text: string): void {
    this.close({ condition, text });
  }

  protected onStreamStart(attrs: Record<string, string>, info: { name: string; ns: string; defaultNs: string }): void {
    if (info.name !== "stream" || info.ns !== NS_STREAM) {
      this.close({ condition: "invalid-namespace", text: `Expected a stream element in ${NS_STREAM}` });
      return;
    }
    if (info.defaultNs !== this.contentNs) {
      this.close({ condition: "invalid-namespace", text: `The default namespace of this stream is ${this.contentNs}` });
      return;
    }
    if (attrs.version !== undefined && !attrs.version.startsWith("1.")) {
      this.close({ condition: "unsupported-version" });
      return;
    }
    this.openStream(attrs);
  }

  /** Our <stream:features/> for the present state: the providers' offers, then the host's `stream-features` event. */
  protected async sendFeatures(): Promise<void> {
    const features = new Element("stream:features");
    for (const p of this.providers as readonly FeatureProvider<this>[]) await p.offer?.(this, features);
    await this.fireFeatures(features);
    this.sendStreamElement(features);
  }

  /** Let modules add to the features: `stream-features` (client streams), `s2s-stream-features` (servers). */
  protected async fireFeatures(features: Element): Promise<void> {
    if (this.hostObj) await this.hostObj.bus.fire("s2s-stream-features", { session: this, features, state: this.state });
  }

  /** A stream-level element no feature handles: modules may take it (`stream-element/<ns>:<name>`, client streams). */
  protected fireStreamElement(_el: Element): Promise<unknown> {
    return Promise.resolve(undefined);
  }

  /** "c2s", "s2sin", "s2sout" or "component" (Prosody's session types). */
  abstract readonly kind: "c2s" | "s2sin" | "s2sout" | "component";

  protected onStreamEnd(): void {
    // RFC 6120 §4.4: the peer closed its stream; close ours once what it sent before is handled.
    if (this.state === "closed") return;
    this.ending = true;
    this.parser.stop();
    void this.queue.push(() => {
      this.writeRaw("</stream:stream>");
      this.teardown("closed by peer");
      this.transport.end();
    });
  }

  protected onElement(el: Element): void {
    if (this.transport.framed && el.attrs.xmlns === NS_FRAMING) {
      if (el.name === "open") {
        if (this.state === "wait-open" || this.awaitingRestart) {
          this.awaitingRestart = false;
          this.openStream(el.attrs);
        } else this.close({ condition: "policy-violation", text: "Unexpected <open/>" });
      } else if (el.name === "close") {
        this.ending = true;
        this.parser.stop();
        void this.queue.push(() => {
          this.writeRaw(`<close xmlns='${NS_FRAMING}'/>`);
          this.teardown("closed by peer");
          this.transport.end();
        });
      } else this.close({ condition: "unsupported-stanza-type" });
      return;
    }
    if (this.state === "wait-open" || this.awaitingRestart) {
      this.close({ condition: "not-authorized", text: "The stream is not open" });
      return;
    }
    // RFC 6120 §5.4.3.3: nothing sent in clear after <starttls/> counts; parse no further until
    // the TLS stream (a new parser) starts.
    if (el.name === "starttls" && el.attrs.xmlns === NS_TLS) this.parser.stop();
    void this.queue.push(async () => {
      await this.handleElement(el);
      if (this.paused && this.queue.length <= RESUME_AT) {
        this.paused = false;
        if (!this.parserBusy) this.transport.resume();
      }
    });
    // Flow control: a peer that sends faster than its stanzas are handled waits for them.
    if (!this.paused && this.queue.length >= PAUSE_AT) {
      this.paused = true;
      if (!this.parserBusy) this.transport.pause();
    }
  }

  /** Parse the stream anew after a restart (after TLS or SASL, RFC 6120 §5.4.3.3, §6.4.6). */
  restartStream(): void {
    if (this.transport.framed) this.awaitingRestart = true;
    else this.newParser();
  }

  protected async handleElement(el: Element): Promise<void> {
    if (this.state === "closed") return;
    const ns = el.attrs.xmlns;
    if (ns === undefined) return this.handleStanza(el);
    for (const p of this.providers as readonly FeatureProvider<this>[]) {
      if (p.handle && p.namespaces?.includes(ns)) return p.handle(this, el);
    }
    if (ns === this.contentNs) {
      this.close({ condition: "invalid-namespace" });
      return;
    }
    // Stream-level elements of extensions (e.g. stream management) go to modules.
    const ret = await this.fireStreamElement(el);
    if (ret === undefined) this.close({ condition: "unsupported-stanza-type", text: `<${el.name} xmlns='${ns}'/> is not supported` });
  }

  /** STARTTLS on the transport, then a new stream over TLS (the tls feature's part, both sides). */
  async upgradeToTls(where: string): Promise<boolean> {
    this.parser.stop();
    try {
      await this.transport.startTls!();
    } catch (err) {
      logTlsFailure(this.failureLog, this.remoteAddress, err as Error, where);
      this.teardown("TLS handshake failed");
      this.transport.destroy();
      return false;
    }
    this.newParser(); // RFC 6120 §5.4.3.3: a new stream over TLS
    return true;
  }

  protected startKeepalive(): void {
    const seconds = this.limits().keepaliveSeconds;
    if (seconds <= 0 || this.transport.framed) return;
    this.keepalive = setInterval(() => {
      // RFC 6120 §4.6.1: whitespace keepalive when nothing else was sent for a while.
      if (Date.now() - this.lastOutput >= seconds * 1000) this.writeRaw(" ");
    }, Math.max(250, (seconds * 1000) / 4));
    this.keepalive.unref?.();
  }

  /** Write raw stream output (feature providers: SASL challenges, TLS proceed). */
  write(s: string): void {
    this.writeRaw(s);
  }

  /** Resolves when every stanza received so far has been handled (shutdown, tests). */
  drain(): Promise<void> {
    return this.queue.drain();
  }
}

export const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
