// A raw XEP-0114 component connection for tests: open the stream to a domain, send the handshake.

import { createHash } from "node:crypto";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
export { streamError } from "../helpers/errors.js";



export interface ComponentConnection {
  c: RawClient;
  /** The server's stream header. */
  header: Record<string, string>;
}

/** Open a component stream to `domain`; what the server sends after its header is left to read. */
export async function openComponentStream(port: number, domain: string | undefined): Promise<ComponentConnection> {
  const c = await RawClient.connect(port, { domain: domain ?? "localhost" });
  const to = domain === undefined ? "" : ` to='${domain}'`;
  c.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'${to}>`);
  const start = await c.nextEvent();
  if (start.kind !== "start") throw new Error(`expected a stream header, got ${start.kind}`);
  return { c, header: start.attrs! };
}

export function handshakeToken(streamId: string, secret: string): string {
  return createHash("sha1").update(streamId + secret).digest("hex");
}

/** Connect and authenticate; returns the server's answer to the handshake (<handshake/> or a stream error). */
export async function connectComponent(port: number, domain: string, secret: string): Promise<{ c: RawClient; answer: Element }> {
  const { c, header } = await openComponentStream(port, domain);
  c.send(`<handshake>${handshakeToken(header.id, secret)}</handshake>`);
  return { c, answer: await c.next() };
}
