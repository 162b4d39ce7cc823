// An in-memory client connection to a Herald in the same process: no socket, no TLS. The server
// end is a Transport given to Server.acceptTransport(), so the stream goes through the real
// C2SConnection (stream header, features, SASL, bind, stanza limits, flow control); the client end
// is a Duplex stream that behaves like a connected TCP socket (write, end, destroy; 'data', 'end',
// 'close'), which RawClient reads as it reads a socket.
//
// Like a socket, bytes cross in a later turn of the event loop and in order; the server sees the
// connection close once, after the data written before it. What is not here: TLS (the transport
// says `secure` as told: an in-memory pipe cannot be read by anyone else, so it may stand for an
// encrypted stream), STARTTLS, and the mod_limits read rate (transport tests keep real sockets).

import { Duplex } from "node:stream";
import type { C2SConnection } from "../../src/net/c2s.js";
import type { Transport } from "../../src/net/transport.js";
import type { Server } from "../../src/server.js";

export interface MemoryConnectOptions {
  /** Whether the server treats the stream as encrypted (default true). */
  secure?: boolean;
  /** The address the server sees (default 127.0.0.1). */
  remoteAddress?: string;
}

class ServerEnd implements Transport {
  readonly kind = "tcp" as const;
  readonly framed = false;
  readonly canStartTls = false;
  conn?: C2SConnection;
  private paused = false;
  private held: Buffer[] = [];
  /** The server has been told the connection closed. */
  private gone = false;
  /** The server's side has ended: nothing more is written. */
  private ended = false;

  constructor(
    private readonly client: ClientEnd,
    readonly secure: boolean,
    readonly remoteAddress: string,
  ) {}

  attach(conn: C2SConnection): void {
    this.conn = conn;
  }

  /** From the client: bytes for the server's parser (held while the server paused reading). */
  deliver(chunk: Buffer): void {
    if (this.gone) return;
    if (this.paused) this.held.push(chunk);
    else this.conn!.onTransportData(chunk);
  }

  /** The connection is over: tell the server, once. */
  closed(error?: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.held = [];
    this.conn?.onTransportClose(error);
  }

  write(data: string): void {
    if (this.gone || this.ended || this.client.destroyed) return;
    this.client.push(Buffer.from(data, "utf8"));
  }
  end(): void {
    // Like a FIN: the client reads what was written, then its end (and closes its own side).
    if (this.ended || this.client.destroyed) return;
    this.ended = true;
    this.client.push(null);
  }
  /** The client's side ended first: its end of the server's output too (as over TCP). */
  endFromClient(): void {
    if (this.ended) return;
    this.ended = true;
    this.client.push(null);
  }
  destroy(): void {
    this.client.destroy();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const chunk of held) {
      if (this.paused) this.held.push(chunk);
      else this.deliver(chunk);
    }
  }
}

class ClientEnd extends Duplex {
  server!: ServerEnd;

  constructor() {
    // allowHalfOpen false: when the server ends its side, the client's side ends too, as with TCP.
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    /* the server pushes */
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const data = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    setImmediate(() => {
      this.server.deliver(data);
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Everything written has been delivered; the server now sees the connection close, and,
    // as over TCP, the client gets its end.
    setImmediate(() => {
      this.server.closed();
      this.server.endFromClient();
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    setImmediate(() => this.server.closed(error ?? undefined));
    callback(error);
  }

  // What tests call on sockets and that means nothing here.
  setNoDelay(): this {
    return this;
  }
}

/** Open a client connection to a started server; returns the client's end and the server's session. */
export function connectInMemory(server: Server, opts: MemoryConnectOptions = {}): { stream: Duplex; conn: C2SConnection } {
  const client = new ClientEnd();
  const end = new ServerEnd(client, opts.secure ?? true, opts.remoteAddress ?? "127.0.0.1");
  client.server = end;
  const conn = server.acceptTransport(end);
  return { stream: client, conn };
}
