// XEP-0156 discovery of the HTTP connection methods: /.well-known/host-meta (XRD) and
// /.well-known/host-meta.json (JRD), listing the BOSH and WebSocket URLs that are switched on.

import type { IncomingMessage, ServerResponse } from "node:http";
import { escapeAttr } from "../xml/escape.js";

export const HOST_META_PATH = "/.well-known/host-meta";
export const HOST_META_JSON_PATH = "/.well-known/host-meta.json";
export const REL_BOSH = "urn:xmpp:alt-connections:xbosh";
export const REL_WEBSOCKET = "urn:xmpp:alt-connections:websocket";

export interface AltConnections {
  /** Prosody's http_external_url: the public base URL when Herald is behind a proxy. */
  externalUrl?: string;
  bosh?: { path: string };
  websocket?: { path: string };
}

/** The links for a request: from http_external_url, else from the scheme and Host the client used. */
export function altConnectionLinks(alt: AltConnections, req: IncomingMessage, secure: boolean): Array<{ rel: string; href: string }> {
  let base: URL;
  try {
    base = new URL(alt.externalUrl ?? `${secure ? "https" : "http"}://${req.headers.host ?? "localhost"}/`);
  } catch {
    base = new URL(`${secure ? "https" : "http"}://localhost/`);
  }
  const at = (path: string, ws: boolean): string => {
    const u = new URL(base.href);
    u.pathname = `${u.pathname.replace(/\/+$/, "")}${path}`;
    if (ws) u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  };
  const links: Array<{ rel: string; href: string }> = [];
  if (alt.bosh) links.push({ rel: REL_BOSH, href: at(alt.bosh.path, false) });
  if (alt.websocket) links.push({ rel: REL_WEBSOCKET, href: at(alt.websocket.path, true) });
  return links;
}

/** Serve host-meta or host-meta.json; false if the path is neither. */
export function serveHostMeta(alt: AltConnections, req: IncomingMessage, res: ServerResponse, secure: boolean): boolean {
  const path = (req.url ?? "/").split("?")[0];
  if (path !== HOST_META_PATH && path !== HOST_META_JSON_PATH) return false;
  // Web clients on any origin read it (XEP-0156 asks for CORS).
  const cors = { "access-control-allow-origin": "*", "access-control-allow-methods": "GET, OPTIONS", "access-control-allow-headers": "Content-Type" };
  if (req.method === "OPTIONS") {
    res.writeHead(200, { ...cors, "content-length": "0" }).end();
    return true;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...cors, allow: "GET, OPTIONS", "content-type": "text/plain" }).end("Method not allowed\n");
    return true;
  }
  const links = altConnectionLinks(alt, req, secure);
  let body: string;
  let type: string;
  if (path === HOST_META_JSON_PATH) {
    body = `${JSON.stringify({ links }, null, 2)}\n`;
    type = "application/json";
  } else {
    body = `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n${links
      .map((l) => `  <Link rel='${escapeAttr(l.rel)}' href='${escapeAttr(l.href)}'/>\n`)
      .join("")}</XRD>\n`;
    type = "application/xrd+xml; charset=utf-8";
  }
  res.writeHead(200, { ...cors, "content-type": type, "content-length": String(Buffer.byteLength(body)) });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
