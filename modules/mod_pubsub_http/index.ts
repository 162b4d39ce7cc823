// mod_pubsub_http: a pubsub service's nodes on the web, read-only, on the server's HTTP(S) listeners.
// Load it on a pubsub component, next to mod_pubsub:
//   Component "pubsub.example.com" "pubsub"
//     modules_enabled = { "pubsub_http" }
//
//   GET /pubsub/<service>                the nodes the requester may read (JSON)
//   GET /pubsub/<service>/<node>         the items, newest first: Atom 1.0, RSS 2.0 (?format=rss),
//                                        JSON Feed 1.1 (?format=json) or by Accept; ?max=N, and
//                                        ?before=<item id> for the next (older) page; ETag /
//                                        If-None-Match and Last-Modified / If-Modified-Since
//   GET /pubsub/<service>/<node>/events  Server-Sent Events: "publish" (id = item id, data = the
//                                        JSON Feed item), "retract", "purge", "delete";
//                                        Last-Event-ID resumes from the node's items
//
// On a VirtualHost it serves the PEP nodes of the host's accounts (XEP-0163), where the owner allows:
//   VirtualHost "example.com"
//     modules_enabled = { "pep"; "pubsub_http" }
//   GET /pubsub/<user@host>/<node> and /pubsub/<user@host>/<node>/events, as above; the node's
//   access model decides as for XMPP items retrieval: open nodes are public, presence / roster /
//   whitelist nodes need HTTP Basic of an account the model admits (a contact with a presence
//   subscription, ...). The account's node list (GET /pubsub/<user@host>) is served likewise.
//   Options as on a component, read from the VirtualHost (event streams counted per account).
//
// Access is that of XMPP items retrieval (the service's getItems with the requester's JID): open
// nodes are public, others need HTTP Basic authentication ("user@host" or, for the component's
// parent domain, "user") of an account the node's access model lets retrieve items; otherwise 401 or
// 403 and nothing of the items. Password failures are throttled per address like SASL
// (limit_auth_max, limit_auth_period; the server's one throttle, shared with SASL and pubsub_post). Live streams end when the node's configuration or
// affiliations change (the client reconnects with Last-Event-ID and is checked again).
//
// Options (on the component):
//   pubsub_http_max_items (100)          the largest page (?max); the default page is 20 items
//   pubsub_http_rate_limit (60)          unauthenticated feed and SSE requests per address and minute
//                                        (a burst of that many, then refilled evenly); 0 = no limit
//   pubsub_http_sse_buffer (262144)      bytes an event stream may have unsent before it is dropped
//   pubsub_http_sse_max_streams (10000)  event streams at once on this service
//   pubsub_http_sse_max_streams_per_ip (20)  event streams at once from one client address, on
//                                        every service of the server together (429 beyond)
//   pubsub_http_sse_keepalive (30 s)     comment lines that keep idle streams open
// CORS (global, as for BOSH): http_default_cors_enabled (true), access_control_allow_origins (any),
// http_cors_override = { pubsub_http = { enabled = false; origins = { ... } } }.

import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpHandler } from "../../src/net/http-routes.js";
import { defineModule } from "../../src/modules/api.js";
import { corsAllows, corsPolicy } from "../../src/net/cors.js";
import { clientAddress } from "../../src/net/http-routes.js";
import { errorSpec, type ItemPage, type PubsubFailure, type Result } from "../../src/util/pubsub/index.js";
import { jidPrep } from "../../src/util/jid.js";
import { normalizeAddress } from "../../src/util/ip.js";
import "../lib/pubsub/services.js";
import { publisherAttr } from "../lib/pubsub/xml.js";
import { basicLogin, holdStream, servePubsubWeb } from "../lib/pubsub/web.js";
import { CONTENT_TYPES, feedItemOf, jsonItem, pickFormat, render, type FeedItem } from "./feeds.js";
import { EventStreams, type StreamSource } from "./sse.js";

/** The requester without authentication: no account, so only `open` nodes let it retrieve. */
export const ANONYMOUS = "anonymous.pubsub-http.invalid";
const DEFAULT_PAGE = 20;

/** Requests per address: a token bucket of `perMinute` tokens, refilled evenly. */
class RateLimit {
  private buckets = new Map<string, { balance: number; t: number }>();
  constructor(private readonly perMinute: number) {}
  /** undefined when allowed, else the seconds to wait. */
  take(addr: string, now = Date.now()): number | undefined {
    if (this.perMinute <= 0) return undefined;
    const key = normalizeAddress(addr);
    const rate = this.perMinute / 60_000;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 10_000) {
        for (const [k, v] of this.buckets) if (v.balance + (now - v.t) * rate >= this.perMinute) this.buckets.delete(k);
        if (this.buckets.size >= 10_000) this.buckets.delete(this.buckets.keys().next().value!);
      }
      b = { balance: this.perMinute, t: now };
      this.buckets.set(key, b);
    }
    b.balance = Math.min(this.perMinute, b.balance + (now - b.t) * rate);
    b.t = now;
    if (b.balance < 1) return Math.ceil((1 - b.balance) / rate / 1000);
    b.balance -= 1;
    return undefined;
  }
}

export default defineModule({
  async load(module) {
    const o = module.options;
    const maxPage = o.integer("pubsub_http_max_items", 100, { min: 1, max: 10_000 });
    const limiter = new RateLimit(o.integer("pubsub_http_rate_limit", 60, { min: 0, max: 1_000_000 }));
    const cors = corsPolicy(module.globalOptions, "pubsub_http");
    const service = module.host;
    const pep = module.hostKind === "local";
    const prefix = `/pubsub/${service}`;
    // A bare "user" in Basic credentials: an account of the component's parent domain, or of this host.
    const parent = pep || !service.includes(".") ? service : service.slice(service.indexOf(".") + 1);

    // On a component: mod_pubsub's service, looked up at each request (it may be reloaded).
    if (!pep) await module.depends("pubsub");
    const instance = (): StreamSource | undefined => module.serviceOn(service, "pubsub");

    const corsHeaders = (req: IncomingMessage): Record<string, string> => {
      const origin = req.headers.origin;
      if (!corsAllows(cors, origin)) return {};
      return {
        "access-control-allow-origin": origin ?? "*",
        "access-control-allow-methods": "GET, HEAD, OPTIONS",
        "access-control-allow-headers": "Authorization, Last-Event-ID, If-None-Match, If-Modified-Since",
        "access-control-expose-headers": "ETag, Last-Modified",
        "access-control-max-age": "7200",
        vary: "Origin",
      };
    };

    const plain = (req: IncomingMessage, res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { ...corsHeaders(req), ...extra, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(text + "\n");
    };

    /**
     * The requester's JID: the anonymous one without credentials, the account's bare JID with
     * valid Basic credentials; a string is the refusal already sent.
     */
    const requester = async (req: IncomingMessage, res: ServerResponse): Promise<string | undefined> => {
      const addr = clientAddress(req);
      const header = req.headers.authorization;
      if (header === undefined) {
        const wait = limiter.take(addr);
        if (wait !== undefined) {
          plain(req, res, 429, "Too many requests", { "retry-after": String(wait) });
          return undefined;
        }
        return ANONYMOUS;
      }
      const login = await basicLogin(module, req, res, parent, service);
      if (login && "jid" in login) return login.jid;
      plain(req, res, login?.status ?? 401, login?.text ?? "Bad credentials", login?.headers ?? { "www-authenticate": `Basic realm="${service}", charset="UTF-8"` });
      return undefined;
    };

    /** A refused retrieval: nothing of the items, 401 to ask for credentials, 403 when they do not help. */
    const refuse = (req: IncomingMessage, res: ServerResponse, actor: string, failure: PubsubFailure) => {
      const spec = errorSpec(failure);
      if (spec.condition === "item-not-found") return plain(req, res, 404, "No such node or item");
      if (spec.type === "auth" || ["forbidden", "not-authorized", "not-allowed"].includes(spec.condition)) {
        if (actor === ANONYMOUS) {
          return plain(req, res, 401, "Authentication required", { "www-authenticate": `Basic realm="${service}", charset="UTF-8"` });
        }
        return plain(req, res, 403, "Not allowed to retrieve the items of this node");
      }
      return plain(req, res, 404, `Not available: ${failure.error}`);
    };

    const maxStreamsPerAddress = o.integer("pubsub_http_sse_max_streams_per_ip", 20, { min: 1, max: 1_000_000 });
    const streamOptions = {
      maxBuffered: o.integer("pubsub_http_sse_buffer", 262_144, { min: 1024, max: 64 * 1024 * 1024 }),
      maxStreams: o.integer("pubsub_http_sse_max_streams", 10_000, { min: 1, max: 1_000_000 }),
      keepaliveMs: o.period("pubsub_http_sse_keepalive", 30, { min: 0.05, max: 3600 }) * 1000,
      log: module.log,
    };

    /** One pubsub service served: the component's, or one account's PEP service. */
    interface Target {
      name: string;
      prefix: string;
      inst: StreamSource;
      streams: () => EventStreams;
      /** May another event stream open (the limit counts every stream of this module)? */
      admit: () => boolean;
    }

    const toFeedItems = (page: ItemPage, inst: StreamSource): FeedItem[] =>
      page.items.map((i) => feedItemOf(i, publisherAttr(inst.ctx.exposePublisher, page.itemreply, page.owners, i.publisher)));

    async function feed(req: IncomingMessage, res: ServerResponse, url: URL, node: string, actor: string, t: Target) {
      const inst = t.inst;
      const format = pickFormat(url.searchParams.get("format"), req.headers.accept);
      if (!format) return plain(req, res, 400, "format must be atom, rss or json");
      const maxParam = url.searchParams.get("max");
      const max = maxParam === null ? DEFAULT_PAGE : Number(maxParam);
      if (!Number.isInteger(max) || max < 1) return plain(req, res, 400, "max must be a positive integer");
      const before = url.searchParams.get("before") ?? "";
      const got: Result<ItemPage> = await inst.service.getItems(node, actor, { rsm: { before, max: Math.min(max, maxPage) } });
      if (!got.ok) return refuse(req, res, actor, got);
      const page = got.value;
      const items = toFeedItems(page, inst).reverse();
      const oldest = page.items[0];
      const hasOlder = page.rsm?.count !== undefined && oldest !== undefined && page.items.length === Math.min(max, maxPage) && (await olderExists(inst, node, actor, oldest.id));
      const self = new URL(url.pathname + url.search, baseOf(req));
      let nextUrl: string | undefined;
      if (hasOlder) {
        const next = new URL(self);
        next.searchParams.set("before", oldest.id);
        nextUrl = next.toString();
      }
      const etag = `"${createHash("sha256")
        .update(JSON.stringify([format, page.rsm?.count, items.map((i) => [i.id, i.published, i.publisher]), nextUrl]))
        .digest("base64url")
        .slice(0, 27)}"`;
      const newest = items.length > 0 ? Math.max(...items.map((i) => i.published)) : undefined;
      const headers: Record<string, string> = {
        ...corsHeaders(req),
        etag,
        vary: [corsHeaders(req).vary, "Accept", "Authorization"].filter(Boolean).join(", "),
        "cache-control": actor === ANONYMOUS ? "public, no-cache" : "private, no-cache",
      };
      if (newest !== undefined) headers["last-modified"] = new Date(newest).toUTCString();
      const inm = req.headers["if-none-match"];
      const ims = req.headers["if-modified-since"];
      const notModified =
        inm !== undefined
          ? inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag || t.trim() === "*")
          : ims !== undefined && newest !== undefined && Math.floor(newest / 1000) * 1000 <= Date.parse(ims);
      if (notModified) return void res.writeHead(304, headers).end();
      const title = (await inst.service.getNodeMeta(node, actor).then((m) => (m.ok ? m.value.config.title : undefined), () => undefined)) || node;
      const body = render(format, { service: t.name, node, title, selfUrl: self.toString(), nextUrl, items });
      res.writeHead(200, { ...headers, "content-type": CONTENT_TYPES[format], "content-length": String(Buffer.byteLength(body)) });
      res.end(req.method === "HEAD" ? undefined : body);
    }

    async function listNodes(req: IncomingMessage, res: ServerResponse, actor: string, t: Target) {
      const inst = t.inst;
      const list = await inst.service.listNodes(actor);
      if (!list.ok) return refuse(req, res, actor, list);
      const nodes: Array<{ node: string; title?: string; url: string }> = [];
      const base = baseOf(req);
      for (const n of list.value.nodes) {
        const may = await inst.service.may(n.node, actor, "retrieve-items");
        if (!may.ok) continue;
        const entry: { node: string; title?: string; url: string } = { node: n.node, url: new URL(`${t.prefix}/${encodeURIComponent(n.node)}`, base).toString() };
        if (n.title) entry.title = n.title;
        nodes.push(entry);
      }
      const body = JSON.stringify({ service: t.name, nodes }) + "\n";
      res.writeHead(200, { ...corsHeaders(req), "content-type": "application/json; charset=utf-8", "cache-control": "no-cache", "content-length": String(Buffer.byteLength(body)) });
      res.end(body);
    }

    async function events(req: IncomingMessage, res: ServerResponse, node: string, actor: string, t: Target) {
      const inst = t.inst;
      // The same check as a feed request, and the items to resume with.
      const last = req.headers["last-event-id"];
      const lastId = typeof last === "string" && last !== "" ? last : undefined;
      let replay: FeedItem[] = [];
      const check = await inst.service.getItems(node, actor, { rsm: { before: "", max: 1 } });
      if (!check.ok) return refuse(req, res, actor, check);
      if (lastId !== undefined) {
        const after = await inst.service.getItems(node, actor, { rsm: { after: lastId, max: maxPage } });
        if (after.ok) replay = toFeedItems(after.value, inst);
      }
      if (!t.admit()) return plain(req, res, 503, "Too many event streams", { "retry-after": "10" });
      if (!holdStream(module, req, res, maxStreamsPerAddress)) return plain(req, res, 429, "Too many event streams from this address", { "retry-after": "10" });
      res.writeHead(200, {
        ...corsHeaders(req),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      });
      res.flushHeaders();
      t.streams().open(node, res, replay.map((i) => ({ id: i.id, event: "publish", data: JSON.stringify(jsonItem({ service: t.name, node }, i)) })));
    }

    /** A request for `t` ("<node>", "<node>/events", "" for the node list). */
    const serve = async (req: IncomingMessage, res: ServerResponse, rest: string, t: Target): Promise<void> => {
      const url = new URL(req.url ?? "/", "http://x");
      let path = rest.replace(/^\/+/, "");
      let live = false;
      if (path.endsWith("/events")) {
        path = path.slice(0, -"/events".length);
        live = true;
      }
      path = path.replace(/\/+$/, "");
      let node: string;
      try {
        node = decodeURIComponent(path);
      } catch {
        return plain(req, res, 400, "Bad node name");
      }
      const actor = await requester(req, res);
      if (actor === undefined) return;
      if (node === "" && !live) return listNodes(req, res, actor, t);
      if (node === "") return plain(req, res, 404, "No such node");
      if (live) return events(req, res, node, actor, t);
      return feed(req, res, url, node, actor, t);
    };
    const guard = (h: HttpHandler) => (req: IncomingMessage, res: ServerResponse, rest: string) =>
      Promise.resolve(h(req, res, rest)).catch((err: unknown) => {
        module.log.error(`pubsub_http: ${(err as Error)?.stack ?? err}`);
        plain(req, res, 500, "Internal error");
      });

    if (!pep) {
      const streams = new EventStreams({ ...streamOptions, service, instance });
      module.onUnload(() => streams.close());
      const handler = async (req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> => {
        const inst = instance();
        if (!inst) return plain(req, res, 503, "The pubsub service is not running");
        return serve(req, res, rest, { name: service, prefix, inst, streams: () => streams, admit: () => streams.admit() });
      };
      const guarded = guard(handler);
      // GET and HEAD under /pubsub/<this service>/ (shared with mod_pubsub_post, lib/pubsub/web.ts).
      servePubsubWeb(module, { service }, { methods: ["GET", "HEAD"], cors: corsHeaders, serve: async (req, res, _first, rest) => guarded(req, res, rest) });
      return;
    }

    // ---- on a VirtualHost: the PEP services of its accounts, at /pubsub/<user@host>/… ----

    /** Event streams by account; made on an account's first stream, closed when its last one ends. */
    const accountStreams = new Map<string, { streams: EventStreams; source: StreamSource }>();
    const openStreams = () => {
      let n = 0;
      for (const a of accountStreams.values()) n += a.streams.size;
      return n;
    };
    const endAccount = (username: string) => {
      const a = accountStreams.get(username);
      if (!a) return;
      accountStreams.delete(username);
      a.streams.close();
    };
    // A PEP service made anew (it had left mod_pep's cache): streams on the old one would hear
    // nothing more, so they end and their readers reconnect (Last-Event-ID) to the new one.
    module.hook("pep-service-added", ({ username }) => {
      endAccount(username);
      return undefined;
    });
    module.onUnload(() => {
      for (const username of accountStreams.keys()) endAccount(username);
    });

    const pepHandler = async (req: IncomingMessage, res: ServerResponse, first: string, rest: string): Promise<void> => {
      const owner = jidPrep(first);
      const at = owner?.indexOf("@") ?? -1;
      if (!owner || at <= 0 || owner.includes("/") || owner.slice(at + 1) !== service) return plain(req, res, 404, "No such pubsub service");
      const username = owner.slice(0, at);
      // mod_pep's service when it is loaded on this host.
      const handle = await module.serviceOn(service, "pep")?.service(username);
      // No such account, or no PEP here: the same answer as an unknown service.
      if (!handle) return plain(req, res, 404, "No such pubsub service");
      let entry = accountStreams.get(username);
      if (entry && entry.source.service !== handle.service) {
        endAccount(username);
        entry = undefined;
      }
      const source: StreamSource = entry?.source ?? {
        service: handle.service,
        ctx: { jid: handle.jid, exposePublisher: undefined },
        // PEP notifications are posted before the publish completes: nothing to wait for.
        broadcaster: { idle: () => Promise.resolve() },
      };
      const name = handle.jid;
      const target: Target = {
        name,
        prefix: `/pubsub/${encodeURIComponent(name)}`,
        inst: source,
        admit: () => openStreams() < streamOptions.maxStreams,
        streams: () => {
          let a = accountStreams.get(username);
          if (!a || a.source !== source) {
            if (a) endAccount(username);
            a = { streams: new EventStreams({ ...streamOptions, service: name, instance: () => source }), source };
            accountStreams.set(username, a);
          }
          const mine = a;
          // The account's last stream gone: its listeners and keep-alive timer go too.
          res.once("close", () => {
            if (accountStreams.get(username) === mine && mine.streams.size === 0) endAccount(username);
          });
          return a.streams;
        },
      };
      return serve(req, res, rest, target);
    };

    // GET and HEAD under /pubsub/<user@this host>/ (lib/pubsub/web.ts hands each request to its host).
    servePubsubWeb(module, { accountsOf: service }, {
      methods: ["GET", "HEAD"],
      cors: corsHeaders,
      serve: (req, res, first, rest) =>
        pepHandler(req, res, first, rest).catch((err: unknown) => {
          module.log.error(`pubsub_http: ${(err as Error)?.stack ?? err}`);
          plain(req, res, 500, "Internal error");
        }),
    });
  },
});

/** Is there an item older than `id` the requester may see? */
async function olderExists(inst: StreamSource, node: string, actor: string, id: string): Promise<boolean> {
  const got = await inst.service.getItems(node, actor, { rsm: { before: id, max: 1 } });
  return got.ok && got.value.items.length > 0;
}

/** The origin the client used, for absolute links (the Host header; the scheme of the socket). */
function baseOf(req: IncomingMessage): string {
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${tls ? "https" : "http"}://${req.headers.host ?? "localhost"}`;
}
