// The socket under a server-to-server stream, either way: accepted on an s2s listener (plain with
// STARTTLS, or direct TLS, XEP-0368) or connected out to a remote server. TLS asks the peer for its
// certificate and verifies it against the system CA store plus Prosody's `ssl = { cafile, capath }`;
// whether it covers the peer's domain is the stream's question (SASL EXTERNAL, XEP-0178, or dialback).

import { connect as netConnect, type Socket } from "node:net";
import { TLSSocket, checkServerIdentity, connect as tlsConnect, type PeerCertificate, type SecureContext } from "node:tls";
import type { Transport, TransportListener } from "./transport.js";

/** What TLS of an s2s stream needs: our contexts (by SNI name) and the CAs peers are checked against. */
export interface S2STls {
  /** The secure context for one of our domains (with our certificate and the trusted CAs). */
  context(domain: string | undefined): SecureContext | undefined;
  /** Our certificate and key for a domain, presented when we connect out. */
  pair(domain: string): { cert: string; key: string } | undefined;
  /** The trusted CAs (PEM). */
  ca: string[];
}

export class S2STransport implements Transport {
  readonly framed = false;
  kind: "tcp" | "tls";
  secure: boolean;
  readonly remoteAddress: string;
  private listener?: TransportListener;
  private closedOnce = false;
  /** Bytes of the stream read and written (the XML, before TLS), since the connection opened. */
  bytesIn = 0;
  bytesOut = 0;
  /** Told of every read and write (the s2s metrics). */
  onBytes?: (direction: "in" | "out", bytes: number) => void;
  /** Told when more than s2s_send_buffer_limit bytes wait for the peer, before the connection is dropped. */
  onOverflow?: (bytes: number) => void;

  constructor(
    private socket: Socket,
    private readonly tls: S2STls,
    direct: boolean,
    private readonly maxBuffer: number,
    /** Outgoing: the remote domain (TLS server name) and our domain (client certificate). */
    private readonly outgoing?: { remote: string; local: string },
  ) {
    this.kind = direct ? "tls" : "tcp";
    this.secure = direct;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
  }

  attach(listener: TransportListener): void {
    this.listener = listener;
    this.listen(this.socket);
  }

  private listen(socket: Socket): void {
    socket.on("data", (d: Buffer) => {
      this.bytesIn += d.length;
      this.onBytes?.("in", d.length);
      this.listener?.onTransportData(d);
    });
    socket.on("error", (err) => this.lost(err));
    socket.on("close", () => this.lost());
  }

  private lost(err?: Error): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.listener?.onTransportClose(err);
  }

  get canStartTls(): boolean {
    return !this.secure && (this.outgoing !== undefined || this.tls.context(undefined) !== undefined);
  }

  /**
   * Did the peer present a certificate a CA we trust signed (not yet: for which domain)? A TLSSocket
   * made from an accepted socket (STARTTLS) is not told by node (`authorized` is only computed for
   * a tls.Server's own connections), so the handshake's verification result is read directly.
   */
  get peerTrusted(): boolean {
    return this.peerCertError === undefined;
  }

  get peerCertError(): string | undefined {
    const sock = this.socket;
    if (!(sock instanceof TLSSocket)) return "no TLS";
    const cert = sock.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return "no certificate";
    if (sock.authorized) return undefined;
    const handle = (sock as unknown as { _handle?: { verifyError?(): Error | null } })._handle;
    const err = handle?.verifyError ? handle.verifyError() : (sock.authorizationError ?? new Error("not verified"));
    return err ? String((err as Error).message ?? err) : undefined;
  }

  /** Is the peer's certificate trusted and valid for this domain (RFC 6125 DNS-ID)? */
  certValidFor(domain: string): boolean {
    if (!this.peerTrusted) return false;
    const cert = (this.socket as TLSSocket).getPeerCertificate();
    return checkServerIdentity(domain, cert as PeerCertificate) === undefined;
  }

  /** Output is corked until the end of the current tick (see write). */
  private corked = false;

  write(data: string): void {
    if (this.socket.destroyed) return;
    // Everything written to the peer during one tick (a pubsub fan-out to its users, a burst of
    // presence) leaves in one writev, as larger TLS records, when the tick ends, instead of one
    // record and one write syscall per stanza; the peer reads it in fewer, larger chunks too.
    if (!this.corked) {
      this.corked = true;
      const socket = this.socket;
      socket.cork();
      process.nextTick(() => this.uncork(socket));
    }
    this.socket.write(data);
    const bytes = Buffer.byteLength(data);
    this.bytesOut += bytes;
    this.onBytes?.("out", bytes);
    if (this.socket.writableLength > this.maxBuffer) {
      // s2s_send_buffer_limit: the peer is not reading; the connection and what it holds are lost.
      this.onOverflow?.(this.socket.writableLength);
      this.socket.destroy(new Error(`peer not reading (${this.socket.writableLength} bytes buffered)`));
    }
  }

  private uncork(socket: Socket): void {
    if (socket !== this.socket) return void socket.uncork(); // replaced by TLS meanwhile
    if (!this.corked) return; // flushed already (startTls)
    this.corked = false;
    socket.uncork();
  }
  private drainWait?: Promise<void>;
  /** When the present wait for the peer to read began. */
  private drainWaitSince = 0;

  /**
   * Resolves once everything written has been taken by the kernel, or the connection is gone.
   * `patienceMs`: a peer that has not read what waits in that long is stalled rather than slow, and
   * nobody is asked to wait for it any more (undefined) until it has read it all: senders do not
   * crawl behind a peer that is gone (s2s_send_buffer_limit drops it in the end).
   */
  drained(patienceMs = Infinity): Promise<void> | undefined {
    const socket = this.socket;
    if (socket.destroyed || socket.writableLength === 0) return undefined;
    if (this.drainWait) return Date.now() - this.drainWaitSince < patienceMs ? this.drainWait : undefined;
    // One wait (and one pair of listeners) however many senders wait for it.
    this.drainWaitSince = Date.now();
    this.drainWait = new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        this.drainWait = undefined;
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
    return this.drainWait;
  }

  /** Bytes written but not yet taken by the kernel (a peer that reads slowly). */
  get buffered(): number {
    return this.socket.destroyed ? 0 : this.socket.writableLength;
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
    // <proceed/> (or <starttls/>) goes out on the plain socket before TLS takes it over.
    if (this.corked) this.uncork(plain);
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    return new Promise((resolve, reject) => {
      let tls: TLSSocket;
      if (this.outgoing) {
        const own = this.tls.pair(this.outgoing.local);
        tls = tlsConnect({
          socket: plain,
          servername: this.outgoing.remote,
          ca: this.tls.ca,
          cert: own?.cert,
          key: own?.key,
          rejectUnauthorized: false,
          ALPNProtocols: ["xmpp-server"],
        });
        tls.once("secureConnect", () => done());
      } else {
        tls = new TLSSocket(plain, {
          isServer: true,
          SNICallback: (name, cb) => cb(null, this.tls.context(name)),
          secureContext: this.tls.context(undefined),
          requestCert: true,
          rejectUnauthorized: false,
        });
        tls.once("secure", () => done());
      }
      const onError = (err: Error) => reject(err);
      tls.once("error", onError);
      const done = () => {
        tls.off("error", onError);
        this.socket = tls;
        this.secure = true;
        this.listen(tls);
        resolve();
      };
    });
  }
}

/** Connect out to one address; resolves once connected (plain TCP, or a finished direct TLS handshake). */
export function connectOut(
  target: { host: string; port: number; directTls: boolean },
  tls: S2STls,
  names: { remote: string; local: string },
  timeoutMs: number,
  maxBuffer: number,
): Promise<S2STransport> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`connecting to ${target.host}:${target.port} timed out`)), timeoutMs);
    timer.unref?.();
    if (target.directTls) {
      const own = tls.pair(names.local);
      socket = tlsConnect({
        host: target.host,
        port: target.port,
        servername: names.remote,
        ca: tls.ca,
        cert: own?.cert,
        key: own?.key,
        rejectUnauthorized: false,
        ALPNProtocols: ["xmpp-server"],
      });
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new S2STransport(socket, tls, true, maxBuffer, names));
      });
    } else {
      socket = netConnect({ host: target.host, port: target.port });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new S2STransport(socket, tls, false, maxBuffer, names));
      });
    }
    socket.once("error", fail);
  });
}
