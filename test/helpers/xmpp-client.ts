// A small raw XMPP client for Herald's own tests: real sockets, every step visible.

import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import { XmlStream } from "../../src/xml/parser.js";
import { Element } from "../../src/xml/stanza.js";
import { scramClient } from "../../src/sasl/client.js";
import { Inbox } from "./inbox.js";

const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

export interface StreamEvent {
  kind: "stanza" | "start" | "end" | "error";
  el?: Element;
  attrs?: Record<string, string>;
  text?: string;
}

/**
 * One end of an XML stream on a socket, read as a queue of stream events that a test takes one at a
 * time: what RawClient (c2s) and the s2s tests' RawS2S share.
 */
export class RawStream {
  socket!: Socket | TLSSocket;
  private parser!: XmlStream;
  protected readonly events = new Inbox<StreamEvent>();
  /** Everything read, as text. */
  raw = "";

  protected attach(sock: Socket | TLSSocket): void {
    this.socket = sock;
    this.newParser();
    sock.on("data", (d: Buffer) => {
      this.raw += d.toString("utf8");
      this.parser.write(d);
    });
    sock.on("close", () => this.events.close());
    sock.on("error", () => {});
  }

  protected newParser(): void {
    this.parser = new XmlStream(
      {
        streamStart: (attrs) => this.push({ kind: "start", attrs }),
        stanza: (el) => this.push({ kind: "stanza", el }),
        streamEnd: () => this.push({ kind: "end" }),
        error: (condition, text) => this.push({ kind: "error", text: `${condition}: ${text}` }),
      },
      { framing: "stream", maxStanzaSize: 10 * 1024 * 1024, sync: true },
    );
  }

  private push(ev: StreamEvent): void {
    this.events.push(ev);
  }

  /** The connection has closed. */
  get closed(): boolean {
    return this.events.closed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  send(el: Element | string): void {
    this.write(typeof el === "string" ? el : el.toString());
  }

  /** The next stream event, or throws after the timeout. */
  nextEvent(timeoutMs = 5000): Promise<StreamEvent> {
    return this.events.take(timeoutMs);
  }

  /** The next element (stanza or stream-level element). */
  async next(timeoutMs = 5000): Promise<Element> {
    const ev = await this.nextEvent(timeoutMs);
    if (ev.kind !== "stanza") throw new Error(`expected an element, got ${ev.kind} ${ev.text ?? ""}`);
    return ev.el!;
  }

  /** Put elements back in front of what is still to be read (in their order). */
  unread(els: Element[]): void {
    this.events.unshift(...els.map((el) => ({ kind: "stanza" as const, el })));
  }

  /** Nothing arrives within the time. */
  async nothing(ms = 300): Promise<void> {
    try {
      const ev = await this.nextEvent(ms);
      throw new Error(`unexpected ${ev.kind}: ${ev.el ?? ev.text ?? ""}`);
    } catch (err) {
      if (!/nothing received/.test((err as Error).message)) throw err;
    }
  }

  /** The next element for which `pred` holds; the others before it are dropped (or kept in `skipped`). */
  async nextWhere(pred: (el: Element) => boolean, timeoutMs = 5000, skipped?: Element[]): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const el = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(el)) return el;
      skipped?.push(el);
    }
  }

  /** No element for which `pred` holds arrives within `ms` (the others are dropped). */
  async nothingWhere(pred: (el: Element) => boolean, ms = 300): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      let el: Element;
      try {
        el = await this.next(left);
      } catch (err) {
        if (/nothing received/.test((err as Error).message)) return;
        throw err;
      }
      if (pred(el)) throw new Error(`unexpected ${el.name}: ${el}`);
    }
  }

  /** Everything that arrives until `quietMs` pass without anything. */
  async drain(quietMs = 200): Promise<Element[]> {
    const out: Element[] = [];
    for (;;) {
      try {
        out.push(await this.next(quietMs));
      } catch (err) {
        if (/nothing received/.test((err as Error).message)) return out;
        throw err;
      }
    }
  }

  /** Wait until the server closes the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("connection not closed");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Send a stream header (with a fresh parser), read the peer's; returns its attributes and the features. */
  protected async openStream(header: string): Promise<{ attrs: Record<string, string>; features: Element }> {
    this.newParser();
    this.write(header);
    const start = await this.nextEvent();
    if (start.kind !== "start") throw new Error(`expected a stream header, got ${start.kind} ${start.el ?? start.text ?? ""}`);
    return { attrs: start.attrs ?? {}, features: await this.next() };
  }

  /** `injected`: sent in clear right behind <starttls/>, in the same write (what an attacker on the path could add). */
  protected async startTls(tls: ConnectionOptions, injected = ""): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + injected);
    const proceed = await this.next();
    if (proceed.name !== "proceed") throw new Error(`STARTTLS refused: ${proceed}`);
    const plain = this.socket as Socket;
    plain.removeAllListeners("data");
    await new Promise<void>((resolve, reject) => {
      const sock = tlsConnect({ ...tls, socket: plain, rejectUnauthorized: false }, () => resolve());
      sock.once("error", reject);
      this.attach(sock);
    });
  }
}

export class RawClient extends RawStream {
  jid = "";

  constructor(
    readonly port: number,
    readonly domain = "localhost",
  ) {
    super();
  }

  /** `localAddress`: connect from this loopback address (127.0.0.2, ...) to appear as another client. */
  /** Set (benchmarks): SCRAM logins keep each SaltedPassword, as real clients may, and reuse it. */
  static saltedPasswords?: Map<string, Buffer>;

  static async connect(port: number, opts: { directTls?: boolean; domain?: string; localAddress?: string } = {}): Promise<RawClient> {
    const c = new RawClient(port, opts.domain);
    await c.open(opts.directTls ?? false, opts.localAddress);
    return c;
  }

  /**
   * A client on an already connected byte stream (test/harness/memory-transport.ts: an in-memory
   * connection). Only what a Duplex has works on its `socket` (write, end, destroy, events).
   */
  static over(stream: Duplex, domain = "localhost"): RawClient {
    const c = new RawClient(0, domain);
    c.attach(stream as Socket);
    return c;
  }

  private open(directTls: boolean, localAddress?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = directTls
        ? tlsConnect({ port: this.port, host: "127.0.0.1", servername: this.domain, rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"] }, () => resolve())
        : netConnect({ port: this.port, host: "127.0.0.1", localAddress }, () => resolve());
      sock.once("error", reject);
      this.attach(sock);
    });
  }

  /** Open a stream, return the features element. */
  async stream(to = this.domain): Promise<Element> {
    const { features } = await this.openStream(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`);
    return features;
  }

  /** `injected`: sent in clear right behind <starttls/>, in the same write (what an attacker on the path could add). */
  starttls(injected = ""): Promise<void> {
    return this.startTls({ servername: this.domain }, injected);
  }

  /** SASL authentication; returns the final element (success or failure). */
  async auth(mechanism: "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256", username: string, password: string): Promise<Element> {
    if (mechanism === "PLAIN") {
      const payload = Buffer.from(`\0${username}\0${password}`).toString("base64");
      this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${payload}</auth>`);
      return this.next();
    }
    const scram = scramClient(mechanism === "SCRAM-SHA-1" ? "SHA-1" : "SHA-256", username, password, { saltedPasswords: RawClient.saltedPasswords });
    this.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${Buffer.from(scram.first()).toString("base64")}</auth>`);
    const challenge = await this.next();
    if (challenge.name !== "challenge") return challenge;
    const final = await scram.final(Buffer.from(challenge.getText(), "base64"));
    this.send(`<response xmlns='${NS_SASL}'>${Buffer.from(final).toString("base64")}</response>`);
    const result = await this.next();
    if (result.name === "success" && !scram.verify(Buffer.from(result.getText(), "base64"))) {
      throw new Error("server signature did not verify");
    }
    return result;
  }

  async bind(resource?: string): Promise<string> {
    const iq = new Element("iq", { type: "set", id: "bind1" }).tag("bind", { xmlns: "urn:ietf:params:xml:ns:xmpp-bind" });
    if (resource) iq.textTag("resource", resource);
    this.send(iq);
    const res = await this.next();
    if (res.attrs.type !== "result") throw new Error(`bind failed: ${res}`);
    this.jid = res.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")!.getChildText("jid")!;
    return this.jid;
  }

  /** Everything up to a bound resource: STARTTLS (unless direct TLS), SCRAM-SHA-1, bind. */
  static async login(
    port: number,
    username: string,
    password: string,
    opts: { resource?: string; mechanism?: "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256"; directTls?: boolean; noTls?: boolean; localAddress?: string; domain?: string } = {},
  ): Promise<RawClient> {
    const c = await RawClient.connect(port, { directTls: opts.directTls, localAddress: opts.localAddress, domain: opts.domain });
    await c.logIn(username, password, { ...opts, noTls: opts.directTls || opts.noTls });
    return c;
  }

  /** On a connected client: open the stream, STARTTLS (unless noTls), authenticate, bind. */
  async logIn(username: string, password: string, opts: { resource?: string; mechanism?: "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256"; noTls?: boolean } = {}): Promise<void> {
    const f = await this.stream();
    if (!opts.noTls) {
      if (!f.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls")) throw new Error(`no STARTTLS offered: ${f}`);
      await this.starttls();
      await this.stream();
    }
    const r = await this.auth(opts.mechanism ?? "SCRAM-SHA-1", username, password);
    if (r.name !== "success") throw new Error(`authentication failed: ${r}`);
    await this.stream();
    await this.bind(opts.resource);
  }

  private static syncs = 0;

  /** A ping round trip to the server: everything this client sent before has been handled (stanzas are processed in order). */
  async sync(): Promise<void> {
    await this.iq(`<iq type='get' id='sync${++RawClient.syncs}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  }

  /** Send an iq and wait for the reply with the same id (skipping other stanzas, which stay queued). */
  async iq(el: Element | string, timeoutMs = 5000): Promise<Element> {
    const stanza = typeof el === "string" ? el : el.toString();
    const id = /id=['"]([^'"]+)['"]/.exec(stanza)?.[1];
    this.send(stanza);
    const skipped: StreamEvent[] = [];
    try {
      for (;;) {
        const ev = await this.nextEvent(timeoutMs);
        if (ev.kind === "stanza" && ev.el!.name === "iq" && ev.el!.attrs.id === id && (ev.el!.attrs.type === "result" || ev.el!.attrs.type === "error")) {
          return ev.el!;
        }
        skipped.push(ev);
      }
    } finally {
      this.events.unshift(...skipped);
    }
  }

  close(): void {
    if (!this.closed) {
      try {
        this.write("</stream:stream>");
      } catch {
        /* gone */
      }
      this.socket.end();
    }
  }
}
