// Transports carry a client stream: plain TCP (with STARTTLS), direct TLS, WebSocket (RFC 7395) or BOSH (XEP-0206).

export interface Transport {
  readonly kind: "tcp" | "tls" | "websocket" | "bosh";
  /** TLS is in place (direct TLS, after STARTTLS, or wss). */
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** RFC 7395 framing: every message is one element, <open/> and <close/> replace the stream root. */
  readonly framed: boolean;
  write(data: string): void;
  /** Close gracefully after pending output is flushed. */
  end(): void;
  /** Close now. */
  destroy(): void;
  /** Flow control: stop and restart reading from the peer. */
  pause(): void;
  resume(): void;
  /** STARTTLS (RFC 6120 §5): switch this transport to TLS; resolves when the handshake is done. */
  startTls?(): Promise<void>;
  /** Can STARTTLS be offered on this transport now. */
  readonly canStartTls: boolean;
}

/** What a transport reports to its stream. */
export interface TransportListener {
  onTransportData(chunk: Buffer | string): void;
  onTransportClose(error?: Error): void;
}
