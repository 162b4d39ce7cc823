// HTTP routes modules add to the http(s) listeners (next to the WebSocket endpoint), and the URLs
// those listeners are reachable at.

import type { IncomingMessage, ServerResponse } from "node:http";

/** `rest` is the request path after the route's prefix (without the query string). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, rest: string) => void | Promise<void>;

const clients = new WeakMap<IncomingMessage, string>();

/**
 * The client's address of a request: the connection's peer, or what X-Forwarded-For says when the
 * peer is one of the trusted_proxies (set by the listener before a route's handler runs). Per-address
 * limits use this, so clients behind a reverse proxy do not share the proxy's.
 */
export function clientAddress(req: IncomingMessage): string {
  return clients.get(req) ?? req.socket.remoteAddress ?? "";
}

/** The listener records the client's address of a request (see clientAddress). */
export function setClientAddress(req: IncomingMessage, address: string): void {
  clients.set(req, address);
}

interface Route {
  method: string;
  prefix: string;
  handler: HttpHandler;
}

export class HttpRoutes {
  private routes: Route[] = [];

  /** Where the listeners are: set by the server once they are up. */
  listeners: () => Array<{ kind: string; port: number }> = () => [];

  /**
   * Serve `method` requests for `prefix` and everything under it ("/file_share/" matches
   * "/file_share/abc/x.png"; "/metrics" matches "/metrics" and "/metrics/..."). Returns the
   * removal. When several modules serve the same method and prefix (a server-wide endpoint such as
   * /metrics loaded on every host), the one added last answers, and the next one takes over when it
   * is removed.
   */
  add(method: string, prefix: string, handler: HttpHandler): () => void {
    const m = method.toUpperCase();
    if (!prefix.startsWith("/")) throw new Error(`HTTP route '${prefix}' must start with '/'`);
    const route: Route = { method: m, prefix, handler };
    this.routes.push(route);
    return () => {
      this.routes = this.routes.filter((r) => r !== route);
    };
  }

  /** The route for a request: the longest matching prefix; `methods` lists what that path allows. */
  match(method: string, path: string): { handler?: HttpHandler; rest: string; methods: string[] } | undefined {
    let best: Route[] = [];
    let bestLen = -1;
    for (const r of this.routes) {
      const p = r.prefix;
      const hit = path === p || (path.startsWith(p) && (p.endsWith("/") || path[p.length] === "/"));
      if (!hit) continue;
      if (p.length > bestLen) {
        best = [r];
        bestLen = p.length;
      } else if (p.length === bestLen) best.push(r);
    }
    if (best.length === 0) return undefined;
    const found = best.findLast((r) => r.method === method);
    return { handler: found?.handler, rest: path.slice(bestLen), methods: [...new Set(best.map((r) => r.method))] };
  }

  /**
   * The URL of `path` on this server for `host`: `http_external_url` when set, else the first
   * HTTPS listener (HTTP when there is none) at the host name (`http_host` overrides it).
   * undefined without any listener.
   */
  url(path: string, opts: { host: string; externalUrl?: string; httpHost?: string }): string | undefined {
    if (opts.externalUrl) return opts.externalUrl.replace(/\/+$/, "") + path;
    const ls = this.listeners();
    const l = ls.find((x) => x.kind === "https") ?? ls.find((x) => x.kind === "http");
    if (!l) return undefined;
    const scheme = l.kind;
    const defaultPort = scheme === "https" ? 443 : 80;
    const name = opts.httpHost ?? opts.host;
    const hostPart = name.includes(":") && !name.startsWith("[") ? `[${name}]` : name;
    return `${scheme}://${hostPart}${l.port === defaultPort ? "" : `:${l.port}`}${path}`;
  }
}
