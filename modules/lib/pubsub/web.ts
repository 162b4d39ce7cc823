// The /pubsub/ paths of the HTTP(S) listeners, shared by the modules that serve pubsub on the web:
// mod_pubsub_http reads (GET, HEAD) and mod_pubsub_post writes (POST, PUT, DELETE), each for the
// services it is loaded for: a pubsub component (/pubsub/<component>/…) or, on a VirtualHost, the
// PEP services of its accounts (/pubsub/<user@host>/…). Every such module registers the same
// dispatcher, so whichever answers a request hands it to the module that serves its service and
// method; CORS preflights (OPTIONS) have one owner, this table, which answers with the CORS policy of
// the module that serves the requested method (Access-Control-Request-Method) for that path.
//
// HTTP Basic logins of both modules take their turns from the server's password throttle
// (module.authThrottle, limit_auth_max / limit_auth_period, shared with SASL), per client address
// (clientAddress: X-Forwarded-For of trusted_proxies).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ModuleApi } from "../../../src/modules/api.js";
import { clientAddress } from "../../../src/net/http-routes.js";
import { normalizeAddress } from "../../../src/util/ip.js";
import { jidBare, jidPrep } from "../../../src/util/jid.js";

export interface WebEndpoint {
  /** The methods it serves (OPTIONS is answered here). */
  readonly methods: readonly string[];
  /** Serve a request: `first` is the path's first segment after /pubsub/ (decoded), `rest` what follows it ("" or "/…", raw). */
  serve(req: IncomingMessage, res: ServerResponse, first: string, rest: string): Promise<void>;
  /** The CORS headers for this request's Origin (with access-control-allow-methods); {} when the origin is not allowed. */
  cors(req: IncomingMessage): Record<string, string>;
}

/** What serves a path's first segment: a pubsub component by name, or the accounts of a VirtualHost. */
export type WebScope = { service: string } | { accountsOf: string };

interface Table {
  services: Map<string, Map<string, WebEndpoint>>;
  accounts: Map<string, Map<string, WebEndpoint>>;
  /** Open event streams by client address, over every service of the server. */
  streams: Map<string, number>;
  dispatch: (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void>;
}

/** One table per server (keyed by its metrics registry, as a process may run several servers). */
const tables = new WeakMap<object, Table>();

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { ...headers, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(`${body}\n`);
}

function makeTable(): Table {
  const services = new Map<string, Map<string, WebEndpoint>>();
  const accounts = new Map<string, Map<string, WebEndpoint>>();

  const endpointsOf = (first: string): Map<string, WebEndpoint> | undefined => {
    if (!first.includes("@")) return services.get(first.toLowerCase());
    const jid = jidPrep(first);
    const at = jid?.indexOf("@") ?? -1;
    if (!jid || at <= 0 || jid.includes("/")) return undefined;
    return accounts.get(jid.slice(at + 1));
  };

  /** A CORS preflight: the policy of the endpoint that serves the requested method. */
  const preflight = (req: IncomingMessage, res: ServerResponse, eps: WebEndpoint[]) => {
    const methods = [...new Set(eps.flatMap((e) => e.methods))];
    const allow = { allow: [...methods, "OPTIONS"].join(", ") };
    const asked = req.headers["access-control-request-method"];
    if (typeof asked === "string") {
      const ep = eps.find((e) => e.methods.includes(asked.trim().toUpperCase()));
      res.writeHead(204, { ...(ep ? ep.cors(req) : {}), ...allow }).end();
      return;
    }
    // A plain OPTIONS: every endpoint's CORS headers, their methods together.
    const headers: Record<string, string> = {};
    const allowed: string[] = [];
    for (const e of eps) {
      const h = e.cors(req);
      if (h["access-control-allow-methods"]) allowed.push(h["access-control-allow-methods"]);
      Object.assign(headers, h);
    }
    if (allowed.length > 0) {
      headers["access-control-allow-methods"] = [...new Set(allowed.join(",").split(",").map((m) => m.trim()).filter(Boolean))].join(", ");
    }
    res.writeHead(204, { ...headers, ...allow }).end();
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> => {
    const trimmed = rest.replace(/^\/+/, "");
    const slash = trimmed.indexOf("/");
    const raw = slash < 0 ? trimmed : trimmed.slice(0, slash);
    let first: string;
    try {
      first = decodeURIComponent(raw);
    } catch {
      return text(res, 400, "Malformed path");
    }
    const found = endpointsOf(first);
    const eps = found ? [...found.values()] : [];
    if (eps.length === 0) return text(res, 404, "No such pubsub service");
    const method = (req.method ?? "GET").toUpperCase();
    if (method === "OPTIONS") return preflight(req, res, eps);
    const ep = eps.find((e) => e.methods.includes(method));
    if (!ep) return text(res, 405, "Method not allowed", { allow: [...new Set(eps.flatMap((e) => e.methods)), "OPTIONS"].join(", ") });
    return ep.serve(req, res, first, slash < 0 ? "" : trimmed.slice(slash));
  };
  return { services, accounts, streams: new Map(), dispatch };
}

function tableOf(module: ModuleApi): Table {
  let table = tables.get(module.metrics);
  if (!table) tables.set(module.metrics, (table = makeTable()));
  return table;
}

/**
 * Count a long-lived response (an event stream) against its client's address until it closes: false
 * when the address already has `max` of them open, on any service of the server.
 */
export function holdStream(module: ModuleApi, req: IncomingMessage, res: ServerResponse, max: number): boolean {
  const counts = tableOf(module).streams;
  const addr = normalizeAddress(clientAddress(req));
  const n = counts.get(addr) ?? 0;
  if (n >= max) return false;
  counts.set(addr, n + 1);
  res.once("close", () => {
    const left = (counts.get(addr) ?? 1) - 1;
    if (left <= 0) counts.delete(addr);
    else counts.set(addr, left);
  });
  return true;
}

/** Serve `endpoint` at /pubsub/… for `scope`, until the module unloads. */
export function servePubsubWeb(module: ModuleApi, scope: WebScope, endpoint: WebEndpoint): void {
  const table = tableOf(module);
  const [map, key] = "service" in scope ? [table.services, scope.service.toLowerCase()] : [table.accounts, scope.accountsOf];
  let eps = map.get(key);
  if (!eps) map.set(key, (eps = new Map()));
  eps.set(module.name, endpoint);
  const mine = eps;
  module.onUnload(() => {
    if (mine.get(module.name) === endpoint) mine.delete(module.name);
    if (mine.size === 0 && map.get(key) === mine) map.delete(key);
  });
  for (const method of [...endpoint.methods, "OPTIONS"]) module.http.route(method, "/pubsub/", table.dispatch);
}

/** The outcome of HTTP Basic credentials: the account's bare JID, or the refusal to send. */
export type BasicLogin = { jid: string } | { status: 401 | 429; text: string; headers: Record<string, string> };

/**
 * Check the request's HTTP Basic credentials (`user@host`, or `user` of `defaultDomain`) against the
 * accounts, after a turn of the server's password throttle for the client's address (a client that
 * goes away while its attempt waits leaves the queue). undefined: the request has no Basic credentials.
 */
export async function basicLogin(module: ModuleApi, req: IncomingMessage, res: ServerResponse, defaultDomain: string, realm: string): Promise<BasicLogin | undefined> {
  const header = req.headers.authorization;
  if (typeof header !== "string" || !/^basic\s/i.test(header)) return undefined;
  const challenge = { "www-authenticate": `Basic realm="${realm}", charset="UTF-8"` };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  const decoded = m ? Buffer.from(m[1], "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  if (colon < 0) return { status: 401, text: "Bad credentials", headers: challenge };
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const jid = jidPrep(user.includes("@") ? user : `${user}@${defaultDomain}`);
  const addr = clientAddress(req);
  const throttle = module.authThrottle;
  const gone = () => throttle.cancel(res);
  res.once("close", gone);
  const turn = await throttle.acquire(addr, res);
  res.off("close", gone);
  if (!turn) return { status: 429, text: "Too many failed logins", headers: { "retry-after": "30" } };
  const at = jid?.indexOf("@") ?? -1;
  const accounts = jid && at > 0 && !jid.includes("/") ? module.accountsOf(jid.slice(at + 1)) : undefined;
  if (jid && accounts && (await accounts.verify(jid.slice(0, at), password))) {
    throttle.release(addr);
    return { jid: jidBare(jid) };
  }
  return { status: 401, text: "Bad credentials", headers: challenge };
}
