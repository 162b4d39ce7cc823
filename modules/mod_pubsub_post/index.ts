// mod_pubsub_post: publishing to a pubsub component over HTTP, and webhooks out of its nodes.
// Loaded on a pubsub component next to mod_pubsub (`Component "pubsub.example" "pubsub"` with
// `modules_enabled = { "pubsub_post" }`).
//
// In:  POST /pubsub/<service>/<node>          publish (the service picks the item id)
//      PUT  /pubsub/<service>/<node>/<item>   publish with that item id
//      DELETE /pubsub/<service>/<node>/<item> retract
// The body is XML (application/xml, text/xml, application/atom+xml: one element) or JSON
// (application/json: wrapped as XEP-0335 <json xmlns='urn:xmpp:json:0'/>), at most
// c2s_stanza_size_limit bytes (and http_max_content_size). The request is authenticated either with HTTP Basic of an account
// (`user@host` and its password; the account publishes as itself, so publish_model and
// notifications are exactly those of an XMPP publish), or with an HMAC-SHA256 signature of the
// body (`X-Hub-Signature-256: sha256=<hex>`, as GitHub and GitLab-style webhooks send) with the
// node's secret (pubsub_post_secrets[node], else pubsub_post_secret); a signed request publishes
// as pubsub_post_actors[node], else pubsub_post_default_actor, else the service itself (an owner
// of every node). Answers: 201 with Location (publish), 204 (retract), 400/401/403/404/413/415.
//
// Out: webhooks (./webhooks.ts), configured by node owners with the ad-hoc command
// `urn:herald:pubsub:webhooks`.

import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { ConfigTable } from "../../src/config/values.js";
import { corsAllows, corsPolicy } from "../../src/net/cors.js";
import type { PubsubFailure } from "../../src/util/pubsub/index.js";
import { XmlStream } from "../../src/xml/parser.js";
import { Element } from "../../src/xml/stanza.js";
import "../lib/pubsub/services.js";
import { itemPayload } from "../lib/pubsub/protocol.js";
import { basicLogin, servePubsubWeb } from "../lib/pubsub/web.js";
import { startWebhooks } from "./webhooks.js";


export const NS_JSON = "urn:xmpp:json:0";

/** The HTTP status of a service failure. */
function statusOf(f: PubsubFailure): number {
  switch (f.error) {
    case "item-not-found":
      return 404;
    case "forbidden":
    case "registration-required":
    case "closed-node":
    case "presence-subscription-required":
    case "not-in-roster-group":
      return 403;
    case "payload-too-big":
      return 413;
    case "conflict":
      return 409;
    case "not-allowed":
    case "feature-not-implemented":
    case "unsupported":
      return 405;
    default:
      return 400;
  }
}

/** Read a request body of at most `max` bytes; undefined when it is larger. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) {
      resolve(undefined);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

/** One XML element from a request body (an XML declaration before it is allowed). */
async function parseXmlPayload(text: string, maxSize: number): Promise<Element | string> {
  const body = text.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, "").trim();
  const found: Element[] = [];
  let error: string | undefined;
  const parser = new XmlStream(
    { stanza: (el) => found.push(el), error: (_c, t) => (error ??= t || "malformed XML") },
    { framing: "framed", maxStanzaSize: maxSize },
  );
  parser.write(body);
  await parser.idle();
  parser.stop();
  if (error) return `Malformed XML: ${error}`;
  if (found.length !== 1) return "The body must be exactly one XML element";
  return found[0];
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A string-valued option table (`{ node = "value" }`), or a single string for every node. */
function stringTable(module: ModuleApi, name: string): Map<string, string> {
  const out = new Map<string, string>();
  const t = module.options.table(name);
  if (t instanceof ConfigTable) for (const k of t.keys()) if (typeof t.hash[k] === "string") out.set(k, t.hash[k] as string);
  return out;
}

async function load(module: ModuleApi): Promise<void> {
  // The component's pubsub service (looked up at each use: mod_pubsub may be reloaded).
  await module.depends("pubsub");
  const o = module.options;
  const g = module.globalOptions;
  // The item becomes a stanza, so c2s_stanza_size_limit; and never more than any HTTP body may be.
  const maxSize = Math.min(
    g.integer("c2s_stanza_size_limit", 256 * 1024, { min: 10 * 1024, max: 64 * 1024 * 1024 }),
    g.integer("http_max_content_size", 10 * 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
  );
  const secrets = stringTable(module, "pubsub_post_secrets");
  const secret = o.string("pubsub_post_secret", "") || undefined;
  const actors = stringTable(module, "pubsub_post_actors");
  const defaultActor = o.string("pubsub_post_default_actor", "") || module.host;
  // CORS as for Herald's other HTTP services (src/net/cors.ts), with http_cors_override = { pubsub_post = … }.
  const corsPolicyOf = corsPolicy(g, "pubsub_post");
  const cors = (req: IncomingMessage): Record<string, string> => {
    const origin = req.headers.origin;
    if (origin === undefined || !corsAllows(corsPolicyOf, origin)) return {};
    return {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "POST, PUT, DELETE, OPTIONS",
      "access-control-allow-headers": "Authorization, Content-Type, X-Hub-Signature-256",
      "access-control-allow-credentials": "true",
      vary: "Origin",
    };
  };

  const send = (req: IncomingMessage, res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...cors(req), "content-type": "text/plain; charset=utf-8", ...headers });
    res.end(text.endsWith("\n") || text === "" ? text : `${text}\n`);
  };

  /** Who the request acts as, or the reply that refuses it (undefined: already answered). */
  const authenticate = async (req: IncomingMessage, res: ServerResponse, node: string, body: Buffer): Promise<string | undefined> => {
    const sig = req.headers["x-hub-signature-256"];
    if (typeof sig === "string") {
      const key = secrets.get(node) ?? secret;
      const m = /^sha256=([0-9a-f]{64})$/i.exec(sig.trim());
      if (key === undefined || !m || !sameText(m[1].toLowerCase(), hmacHex(key, body))) {
        send(req, res, 403, "Bad signature");
        return undefined;
      }
      return actors.get(node) ?? actors.get("*") ?? defaultActor;
    }
    const login = await basicLogin(module, req, res, module.host.replace(/^[^.]*\./, ""), "pubsub");
    if (login && "jid" in login) return login.jid;
    if (login) {
      send(req, res, login.status, login.text, login.headers);
      return undefined;
    }
    send(req, res, 401, "Authentication required", { "www-authenticate": 'Basic realm="pubsub", charset="UTF-8"' });
    return undefined;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, parts: string[]) => {
    const inst = module.serviceOn(module.host, "pubsub");
    if (!inst) return send(req, res, 503, "The pubsub service is not running");
    const method = req.method ?? "";
    const [node, itemId] = parts;
    if (!node || parts.length > 2 || (method === "POST" && itemId !== undefined) || (method !== "POST" && !itemId)) {
      return send(req, res, 404, method === "POST" ? "POST to /pubsub/<service>/<node>" : `${method} /pubsub/<service>/<node>/<item>`);
    }
    const body = await readBody(req, maxSize);
    if (body === undefined) return send(req, res, 413, `Request body larger than ${maxSize} bytes`, { connection: "close" });
    const actor = await authenticate(req, res, node, body);
    if (actor === undefined) return;
    if (method === "DELETE") {
      const done = await inst.service.retract(node, actor, itemId!);
      if (!done.ok) return send(req, res, statusOf(done), done.text ?? done.error);
      res.writeHead(204, cors(req)).end();
      return;
    }
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    let payload: Element;
    const text = body.toString("utf8");
    if (type === "application/json" || type.endsWith("+json")) {
      try {
        JSON.parse(text);
      } catch {
        return send(req, res, 400, "Malformed JSON");
      }
      payload = new Element("json", { xmlns: NS_JSON }, [text]);
    } else if (type === "application/xml" || type === "text/xml" || type.endsWith("+xml")) {
      const parsed = await parseXmlPayload(text, maxSize);
      if (typeof parsed === "string") return send(req, res, 400, parsed);
      payload = parsed;
    } else {
      return send(req, res, 415, "Send application/json, application/xml or application/atom+xml");
    }
    const item = itemPayload(new Element("item", { xmlns: "http://jabber.org/protocol/pubsub" }, [payload]));
    if ("invalid" in item) return send(req, res, 400, item.invalid);
    const done = await inst.service.publish(node, actor, itemId, item);
    if (!done.ok) return send(req, res, statusOf(done), done.text ?? done.error);
    const id = done.value.id ?? "";
    const path = `/pubsub/${encodeURIComponent(module.host)}/${encodeURIComponent(done.value.node)}/${encodeURIComponent(id)}`;
    send(req, res, 201, id, { location: module.http.url(path) ?? path });
  };

  // POST, PUT and DELETE under /pubsub/<this service>/ (the paths are shared with mod_pubsub_http,
  // which answers GET; CORS preflights are answered for both by lib/pubsub/web.ts).
  servePubsubWeb(module, { service: module.host }, {
    methods: ["POST", "PUT", "DELETE"],
    cors,
    serve: async (req, res, _service, rest) => {
      let parts: string[];
      try {
        parts = rest.split("/").slice(1).map((p) => decodeURIComponent(p));
      } catch {
        return send(req, res, 400, "Malformed path");
      }
      if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
      try {
        await serve(req, res, parts);
      } catch (err) {
        module.log.error(`pubsub_post: ${(err as Error)?.stack ?? err}`);
        if (!res.headersSent) send(req, res, 500, "Internal error");
        else res.end();
      }
    },
  });

  startWebhooks(module);


}

export default defineModule({ load });
