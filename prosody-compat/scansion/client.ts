// A small XMPP client over real TCP, for the scansion runner: connect, open the stream, STARTTLS
// when offered (any certificate accepted), SASL PLAIN, stream restart, resource binding (and a
// legacy session when the server requires one). Nothing else: no presence, no roster.
//
// After login every stanza the server sends goes into a queue read with `next()`. A stream error or
// a closed connection ends the queue (`next()` then reports it).

import net from "node:net";
import tls from "node:tls";
import { NS_STREAM, XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";
import { splitJid } from "./parser.js";
import { NS_TLS, NS_SASL, NS_BIND, NS_SESSION } from "../../src/xml/ns.js";

export interface ClientOptions {
  /** The account (bare or full JID; a resource in it is requested at bind unless `resource` is given). */
  jid: string;
  password: string;
  resource?: string;
  host: string;
  port: number;
  /** Use STARTTLS when the server offers it (default true). */
  starttls?: boolean;
  /** Time allowed for each login step (default 5000 ms). */
  timeoutMs?: number;
}

export type Incoming =
  | { kind: "stanza"; element: Element }
  /** The stream ended: a stream error, the server's </stream:stream>, or the connection closed. */
  | { kind: "closed"; reason: string };

export class LoginError extends Error {
  override name = "LoginError";
}

export class XmppClient {
  /** The full JID bound for this session. */
  jid = "";
  /** Whether the connection is encrypted. */
  secure = false;

  private socket: net.Socket;
  private parser!: XmlStream;
  private queue: Element[] = [];
  private closedReason: string | undefined;
  private waiter: (() => void) | undefined;
  private headerSeen = false;
  private disconnecting = false;
  private streamEnded = false;
  private domain = "";
  private syncCounter = 0;
  /** The id of the barrier ping in flight, and what to call when its reply arrives. */
  private syncWait: { id: string; done: (ok: boolean) => void } | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
    this.resetParser();
  }

  /** Connect and log in. Rejects with a LoginError (the socket is closed). */
  static async connect(opts: ClientOptions): Promise<XmppClient> {
    const timeout = opts.timeoutMs ?? 5000;
    const socket = await openSocket(opts.host, opts.port, timeout);
    const client = new XmppClient(socket);
    try {
      await client.login(opts, timeout);
      return client;
    } catch (e) {
      client.destroy();
      throw e instanceof LoginError ? e : new LoginError((e as Error).message);
    }
  }

  /** Whether the stream is over (error, close, or after disconnect()). */
  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Why the stream is over, once it is. */
  get closeReason(): string | undefined {
    return this.closedReason;
  }

  /** Send raw XML text. Throws when the stream is closed. */
  send(xml: string | Element): void {
    if (this.closedReason !== undefined) throw new Error(`cannot send: ${this.closedReason}`);
    this.socket.write(typeof xml === "string" ? xml : xml.toString());
  }

  /**
   * The next incoming stanza, waiting up to `timeoutMs`. Undefined when nothing arrived in time;
   * `{kind: "closed"}` once the stream is over and the queue is empty.
   */
  async next(timeoutMs: number): Promise<Incoming | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const el = this.queue.shift();
      if (el) return { kind: "stanza", element: el };
      if (this.closedReason !== undefined) return { kind: "closed", reason: this.closedReason };
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  /**
   * A barrier: send an XMPP ping to the server and wait (up to `timeoutMs`) for its reply, which is
   * consumed here and never queued. The server handles a connection's stanzas in order, so once the
   * reply is back everything sent before it has been processed. Resolves false on timeout/close.
   */
  async sync(timeoutMs: number): Promise<boolean> {
    if (this.closedReason !== undefined) return false;
    const id = `scansion-sync-${++this.syncCounter}`;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.syncWait = undefined;
        resolve(false);
      }, timeoutMs);
      this.syncWait = {
        id,
        done: (ok) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      this.socket.write(`<iq type='get' id='${id}' to='${escapeAttr(this.domain)}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    });
  }

  /** Stanzas received and not read yet. */
  pending(): number {
    return this.queue.length;
  }

  /** Close the stream politely: send </stream:stream>, wait briefly for the server's close. */
  async disconnect(waitMs = 1000): Promise<void> {
    if (this.disconnecting) return;
    this.disconnecting = true;
    if (this.closedReason === undefined && !this.socket.destroyed) {
      try {
        this.socket.write("</stream:stream>");
      } catch {
        // already gone
      }
      const deadline = Date.now() + waitMs;
      while (!this.streamEnded && !this.socket.destroyed && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
          this.waiter = () => {
            clearTimeout(timer);
            this.waiter = undefined;
            resolve();
          };
        });
      }
    }
    this.finish("disconnected");
    this.destroy();
  }

  /** Drop the connection at once. */
  destroy(): void {
    this.finish("connection destroyed");
    this.parser.stop();
    if (!this.socket.destroyed) {
      this.socket.end();
      this.socket.destroy();
    }
  }

  // ---- internals ----

  private attach(socket: net.Socket): void {
    socket.on("data", (chunk: Buffer) => this.parser.write(chunk));
    socket.on("error", (e) => this.finish(`connection error: ${e.message}`));
    socket.on("close", () => this.finish("connection closed by the server"));
  }

  private resetParser(): void {
    this.parser?.stop();
    this.headerSeen = false;
    this.parser = new XmlStream(
      {
        streamStart: () => {
          this.headerSeen = true;
          this.wake();
        },
        stanza: (el) => {
          if (el.name === "error" && el.attrs.xmlns === NS_STREAM) {
            this.finish(`stream error: ${describeStreamError(el)}`);
            return;
          }
          const sync = this.syncWait;
          if (sync && el.name === "iq" && el.attrs.id === sync.id && (el.attrs.type === "result" || el.attrs.type === "error")) {
            this.syncWait = undefined;
            sync.done(true);
            return;
          }
          this.queue.push(el);
          this.wake();
        },
        streamEnd: () => {
          this.streamEnded = true;
          this.finish("the server closed the stream (</stream:stream>)");
        },
        error: (cond, text) => this.finish(`unparsable XML from the server (${cond}): ${text}`),
      },
      { framing: "stream", maxStanzaSize: 16 * 1024 * 1024, sync: true },
    );
  }

  private finish(reason: string): void {
    if (this.closedReason === undefined) this.closedReason = reason;
    const sync = this.syncWait;
    this.syncWait = undefined;
    sync?.done(false);
    this.wake();
  }

  private wake(): void {
    this.waiter?.();
  }

  private async waitHeader(timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.headerSeen) {
      if (this.closedReason !== undefined) throw new LoginError(this.closedReason);
      const left = deadline - Date.now();
      if (left <= 0) throw new LoginError("no stream header from the server");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  private async expect(what: string, timeout: number): Promise<Element> {
    const got = await this.next(timeout);
    if (!got) throw new LoginError(`timed out waiting for ${what}`);
    if (got.kind === "closed") throw new LoginError(`${got.reason} (while waiting for ${what})`);
    return got.element;
  }

  private openStream(domain: string): void {
    this.resetParser();
    this.socket.write(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' ` +
        `to='${escapeAttr(domain)}' version='1.0'>`,
    );
  }

  private async features(domain: string, timeout: number): Promise<Element> {
    this.openStream(domain);
    await this.waitHeader(timeout);
    const f = await this.expect("<stream:features/>", timeout);
    if (f.name !== "features" || f.attrs.xmlns !== NS_STREAM) throw new LoginError(`expected <stream:features/>, got ${f}`);
    return f;
  }

  private async login(opts: ClientOptions, timeout: number): Promise<void> {
    const j = splitJid(opts.jid);
    if (!j || j.local === undefined) throw new LoginError(`invalid account JID "${opts.jid}"`);
    const resource = opts.resource ?? j.resource;
    this.domain = j.domain;

    let features = await this.features(j.domain, timeout);

    if (features.getChild("starttls", NS_TLS) && opts.starttls !== false) {
      this.send(`<starttls xmlns='${NS_TLS}'/>`);
      const r = await this.expect("<proceed/>", timeout);
      if (r.name !== "proceed" || r.attrs.xmlns !== NS_TLS) throw new LoginError(`STARTTLS refused: ${r}`);
      await this.upgradeTls(j.domain, timeout);
      features = await this.features(j.domain, timeout);
    }

    const mechs = features.getChild("mechanisms", NS_SASL);
    const names = mechs ? mechs.childElements("mechanism").map((m) => m.getText().trim()) : [];
    if (!names.includes("PLAIN")) {
      throw new LoginError(`the server does not offer SASL PLAIN (offered: ${names.join(", ") || "none"})`);
    }
    const token = Buffer.from(`\0${j.local}\0${opts.password}`, "utf8").toString("base64");
    this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${token}</auth>`);
    const outcome = await this.expect("the SASL outcome", timeout);
    if (outcome.name !== "success" || outcome.attrs.xmlns !== NS_SASL) {
      throw new LoginError(`authentication as ${j.bare} failed: ${outcome}`);
    }

    features = await this.features(j.domain, timeout);
    if (!features.getChild("bind", NS_BIND)) throw new LoginError(`no resource binding offered: ${features}`);
    const res = resource === undefined ? "" : `<resource>${escapeText(resource)}</resource>`;
    this.send(`<iq type='set' id='scansion-bind'><bind xmlns='${NS_BIND}'>${res}</bind></iq>`);
    const bound = await this.expect("the bind result", timeout);
    const jid = bound.getChild("bind", NS_BIND)?.getChildText("jid")?.trim();
    if (bound.name !== "iq" || bound.attrs.type !== "result" || bound.attrs.id !== "scansion-bind" || !jid) {
      throw new LoginError(`resource binding failed: ${bound}`);
    }
    this.jid = jid;

    const session = features.getChild("session", NS_SESSION);
    if (session && !session.getChild("optional")) {
      this.send(`<iq type='set' id='scansion-session'><session xmlns='${NS_SESSION}'/></iq>`);
      const r = await this.expect("the session result", timeout);
      if (r.name !== "iq" || r.attrs.type !== "result" || r.attrs.id !== "scansion-session") {
        throw new LoginError(`session establishment failed: ${r}`);
      }
    }
  }

  private upgradeTls(servername: string, timeout: number): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ socket: plain, servername: net.isIP(servername) ? undefined : servername, rejectUnauthorized: false });
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new LoginError("TLS handshake timed out"));
      }, timeout);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        secure.removeAllListeners("error");
        this.socket = secure;
        this.secure = true;
        this.attach(secure);
        resolve();
      });
      secure.once("error", (e) => {
        clearTimeout(timer);
        reject(new LoginError(`TLS handshake failed: ${e.message}`));
      });
    });
  }
}

function openSocket(host: string, port: number, timeout: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LoginError(`could not connect to ${host}:${port}: timed out`));
    }, timeout);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(new LoginError(`could not connect to ${host}:${port}: ${e.message}`));
    });
  });
}

function describeStreamError(el: Element): string {
  let condition = "undefined-condition";
  let text = "";
  for (const c of el.childElements()) {
    if (c.attrs.xmlns !== "urn:ietf:params:xml:ns:xmpp-streams") continue;
    if (c.name === "text") text = c.getText();
    else condition = c.name;
  }
  return text ? `${condition} (${text})` : condition;
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function escapeText(s: string): string {
  return s.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
