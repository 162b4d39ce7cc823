// Webhooks out of a pubsub component: each event of a node (an item published or retracted, the node
// purged or deleted: "event" is item-published, item-retracted, node-purged, node-deleted) is POSTed as JSON
// to the HTTP endpoints the node's owner registered, signed with the node's webhook secret
// (`X-Herald-Signature-256: sha256=<hex HMAC-SHA256 of the body>`).
//
// Registration: the ad-hoc command `urn:herald:pubsub:webhooks` (XEP-0050) on the component, owners
// only: fields pubsub#node, webhook_urls (http/https URLs; empty removes the hooks) and
// webhook_secret (empty: a random one, shown in the result). The result also lists the node's recent
// delivery failures; deleting the node removes its hooks (after its node-deleted event). A delivery that gives up is also reported to the node's owners in a message.
//
// Deliveries wait in a queue in the component's storage (`pubsub_webhook_queue`), so they survive
// a restart; a refused one (not 2xx, or no answer within pubsub_webhook_timeout) is retried after
// pubsub_webhook_retry_delay seconds, doubling each time (at most an hour apart), until
// pubsub_webhook_max_attempts; at most pubsub_webhook_max_in_flight requests per endpoint at once.
//
// Endpoints must be on the public Internet (src/net/outgoing-http.ts): a URL whose host is, or
// resolves only to, loopback, private, link-local (cloud metadata), unique local or other non-public
// addresses is refused when it is configured (not-acceptable, saying why), and checked again on the
// address each delivery connects to (a delivery refused there is given up at once and reported).
// pubsub_webhook_allow_private = true lifts that; pubsub_webhook_allow_cidr lists addresses and
// ranges allowed anyway (an internal receiver). Redirects are not followed.

import { createHmac, randomBytes, randomUUID } from "node:crypto";
import type { ModuleApi } from "../../src/modules/api.js";
import type { DeleteEvent, ItemsEvent, PurgeEvent, RetractEvent } from "../../src/util/pubsub/index.js";
import { Element, StanzaError, serialize } from "../../src/xml/stanza.js";
import { findForm, rawFormValues } from "../../src/util/dataforms.js";
import "../lib/pubsub/services.js";
import { NS_COMMANDS } from "../lib/pubsub/xml.js";
import { NS_DATA } from "../../src/xml/ns.js";
import { BlockedAddressError, addressPolicy, guardedPost, refusedTarget } from "../../src/net/outgoing-http.js";

export const NODE_WEBHOOKS = "urn:herald:pubsub:webhooks";
const MAX_FAILURES_KEPT = 20;

interface NodeHooks {
  urls: string[];
  secret: string;
}

interface Delivery {
  url: string;
  node: string;
  body: string;
  attempts: number;
  due: number;
  /** The signing secret when the event was queued (a deleted node's hooks are gone). */
  secret?: string;
}

interface Failure {
  url: string;
  at: string;
  attempts: number;
  error: string;
}

function field(v: string, type: string, label: string, values: string[] = []): Element {
  return new Element(
    "field",
    { var: v, type, label },
    values.map((x) => new Element("value", {}, [x])),
  );
}

function validUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

export function startWebhooks(module: ModuleApi): void {
  const o = module.options;
  const maxAttempts = o.integer("pubsub_webhook_max_attempts", 8, { min: 1, max: 100 });
  const maxInFlight = o.integer("pubsub_webhook_max_in_flight", 4, { min: 1, max: 1000 });
  const retryDelayMs = o.number("pubsub_webhook_retry_delay", 5, { min: 0.01, max: 86400 }) * 1000;
  const timeoutMs = o.number("pubsub_webhook_timeout", 10, { min: 0.1, max: 600 }) * 1000;
  const policy = addressPolicy({
    allowPrivate: o.boolean("pubsub_webhook_allow_private", false),
    allowed: o.array("pubsub_webhook_allow_cidr", []),
    hint: "webhooks may only reach public addresses (pubsub_webhook_allow_private, pubsub_webhook_allow_cidr)",
  });
  for (const bad of policy.invalid) module.log.warn(`pubsub_webhook_allow_cidr: '${bad}' is not an address or a CIDR range`);
  const hooksStore = module.openKeyval<NodeHooks>("pubsub_webhooks");
  const queue = module.openKeyval<Delivery>("pubsub_webhook_queue");
  const failures = module.openKeyval<Failure[]>("pubsub_webhook_failures");

  const pending = new Map<string, Delivery>();
  const inFlight = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    let next = Infinity;
    for (const d of pending.values()) next = Math.min(next, d.due);
    if (next === Infinity) return;
    timer = setTimeout(pump, Math.max(0, Math.min(next - Date.now(), 2 ** 31 - 1)));
  };

  const recordFailure = async (d: Delivery, error: string) => {
    const list = (await failures.get(d.node)) ?? [];
    list.push({ url: d.url, at: new Date().toISOString(), attempts: d.attempts, error });
    await failures.set(d.node, list.slice(-MAX_FAILURES_KEPT));
    const inst = module.serviceOn(module.host, "pubsub");
    const affs = inst ? await inst.service.getNodeAffiliations(d.node, module.host) : undefined;
    if (!affs?.ok) return;
    for (const a of affs.value) {
      if (a.affiliation !== "owner") continue;
      const text = `Webhook delivery for node '${d.node}' to ${d.url} failed after ${d.attempts} attempts: ${error}`;
      module.send(new Element("message", { from: module.host, to: a.jid, type: "normal", id: randomUUID() }, [new Element("body", {}, [text])]));
    }
  };

  const deliver = async (id: string, d: Delivery) => {
    const hooks = await hooksStore.get(d.node);
    let error: string | undefined;
    let final = false;
    try {
      const headers: Record<string, string> = { "content-type": "application/json", "x-herald-delivery": id };
      const secret = d.secret ?? hooks?.secret;
      if (secret !== undefined) headers["x-herald-signature-256"] = `sha256=${createHmac("sha256", secret).update(d.body).digest("hex")}`;
      const status = await guardedPost(new URL(d.url), { headers, body: d.body, timeoutMs, policy });
      if (status < 200 || status > 299) error = status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
    } catch (err) {
      error = (err as Error)?.message ?? String(err);
      // The endpoint is not one webhooks may reach: trying again would not change that.
      final = err instanceof BlockedAddressError;
    }
    if (stopped) return;
    d.attempts += 1;
    if (error === undefined || final || d.attempts >= maxAttempts) {
      pending.delete(id);
      await queue.set(id, undefined);
      if (error !== undefined) {
        module.log.warn(`webhook ${d.url} for ${d.node}: giving up after ${d.attempts} attempts: ${error}`);
        await recordFailure(d, error);
      }
      return;
    }
    d.due = Date.now() + Math.min(retryDelayMs * 2 ** (d.attempts - 1), 3600_000);
    await queue.set(id, d);
  };

  function pump(): void {
    timer = undefined;
    if (stopped) return;
    const now = Date.now();
    for (const [id, d] of pending) {
      if (d.due > now || d.due === Infinity) continue;
      const busy = inFlight.get(d.url) ?? 0;
      if (busy >= maxInFlight) continue;
      inFlight.set(d.url, busy + 1);
      d.due = Infinity; // taken
      void deliver(id, d)
        .catch((err: unknown) => module.log.error(`webhook: ${(err as Error)?.stack ?? err}`))
        .finally(() => {
          const left = (inFlight.get(d.url) ?? 1) - 1;
          if (left <= 0) inFlight.delete(d.url);
          else inFlight.set(d.url, left);
          if (pending.get(id) === d && d.due === Infinity) d.due = Date.now() + retryDelayMs;
          schedule();
        });
    }
    schedule();
  }

  const enqueue = async (node: string, event: Record<string, unknown>) => {
    const hooks = await hooksStore.get(node);
    if (!hooks || hooks.urls.length === 0) return;
    const body = JSON.stringify({ service: module.host, node, ...event });
    for (const url of hooks.urls) {
      const id = randomUUID();
      const d: Delivery = { url, node, body, attempts: 0, due: Date.now(), secret: hooks.secret };
      await queue.set(id, d);
      pending.set(id, d);
    }
    schedule();
  };

  const payloadJson = (payload: unknown): Record<string, unknown> => {
    if (!(payload instanceof Element)) return {};
    const out: Record<string, unknown> = { payload: serialize(payload) };
    if (payload.name === "json" && payload.attrs.xmlns === "urn:xmpp:json:0") {
      try {
        out.json = JSON.parse(payload.getText());
      } catch {
        // Not JSON after all: the XML is there.
      }
    }
    return out;
  };

  const guarded = (what: string, p: Promise<void>) => void p.catch((err: unknown) => module.log.error(`webhook ${what}: ${(err as Error)?.stack ?? err}`));

  // The bus belongs to the service, which mod_pubsub creates when it loads: attach once it exists.
  let offs: Array<() => void> = [];
  const attach = () => {
    const inst = module.serviceOn(module.host, "pubsub");
    if (!inst || offs.length > 0) return inst !== undefined;
    offs = [
      inst.service.events.on("item-published", (ev: ItemsEvent) =>
        guarded(
          "enqueue",
          enqueue(ev.node, {
            event: "item-published",
            id: ev.item.id,
            publisher: ev.item.publisher,
            published: new Date(ev.item.published).toISOString(),
            ...payloadJson(ev.item.payload),
          }),
        ),
      ),
      inst.service.events.on("item-retracted", (ev: RetractEvent) => guarded("enqueue", enqueue(ev.node, { event: "item-retracted", ids: ev.ids }))),
      inst.service.events.on("node-purged", (ev: PurgeEvent) => guarded("enqueue", enqueue(ev.node, { event: "node-purged" }))),
      inst.service.events.on("node-deleted", (ev: DeleteEvent) =>
        guarded(
          "enqueue",
          (async () => {
            await enqueue(ev.node, ev.redirect ? { event: "node-deleted", redirect: ev.redirect } : { event: "node-deleted" });
            // A node made later under the same name is another node: the hooks went with this one.
            await hooksStore.set(ev.node, undefined);
            await failures.set(ev.node, undefined);
          })(),
        ),
      ),
    ];
    return true;
  };
  const attachTimer = setInterval(() => {
    if (attach()) clearInterval(attachTimer);
  }, 100);
  attachTimer.unref();
  if (attach()) clearInterval(attachTimer);

  // Deliveries left from before a restart.
  guarded(
    "queue",
    (async () => {
      for (const id of await queue.users()) {
        const d = await queue.get(id);
        if (d && !pending.has(id)) pending.set(id, { ...d, due: Math.min(d.due, Date.now()) });
      }
      schedule();
    })(),
  );

  module.onUnload(() => {
    stopped = true;
    clearInterval(attachTimer);
    if (timer) clearTimeout(timer);
    for (const off of offs) off();
  });

  // ---- the ad-hoc command -------------------------------------------------------------------

  const command = (sessionid: string, status: string, children: Element[]) =>
    new Element("command", { xmlns: NS_COMMANDS, node: NODE_WEBHOOKS, sessionid, status }, children);

  module.iq.set(
    NS_COMMANDS,
    "command",
    async (ev) => {
      const stanza = ev.stanza;
      const cmd = ev.payload;
      if (cmd.attrs.node !== NODE_WEBHOOKS) return undefined;
      const sessionid = cmd.attrs.sessionid ?? `webhooks:${randomBytes(6).toString("hex")}`;
      const inst = module.serviceOn(module.host, "pubsub");
      if (!inst) return new StanzaError("wait", "service-unavailable");
      const actor = stanza.attrs.from ?? "";
      if (cmd.attrs.action === "cancel") return command(sessionid, "canceled", []);
      const form = findForm(cmd);
      if (!form || (form.attrs.type ?? "submit") !== "submit") {
        const x = new Element("x", { xmlns: NS_DATA, type: "form" }, [
          new Element("title", {}, ["Node webhooks"]),
          field("pubsub#node", "text-single", "Node"),
          field("webhook_urls", "text-multi", "Endpoints (http/https URLs, one a line; none removes them)"),
          field("webhook_secret", "text-private", "Signing secret (empty: a new random one)"),
        ]);
        return command(sessionid, "executing", [new Element("actions", { execute: "complete" }, [new Element("complete")]), x]);
      }
      const values = rawFormValues(form);
      const node = values.get("pubsub#node")?.[0];
      if (!node) return new StanzaError("modify", "bad-request", "pubsub#node is required");
      // Only the node's owners read its configuration.
      const owned = await inst.service.getConfig(node, actor);
      if (!owned.ok) {
        const condition = owned.error === "item-not-found" ? "item-not-found" : "forbidden";
        return new StanzaError(condition === "forbidden" ? "auth" : "cancel", condition);
      }
      const urls = (values.get("webhook_urls") ?? []).flatMap((v) => v.split(/\s+/)).filter((u) => u !== "");
      const bad = urls.find((u) => !validUrl(u));
      if (bad !== undefined) return new StanzaError("modify", "not-acceptable", `Not an http(s) URL: ${bad}`);
      for (const u of urls) {
        const refused = await refusedTarget(new URL(u), policy);
        if (refused !== undefined) return new StanzaError("modify", "not-acceptable", `Refused ${u}: ${refused}`);
      }
      const secret = values.get("webhook_secret")?.[0] || randomBytes(24).toString("hex");
      await hooksStore.set(node, urls.length === 0 ? undefined : { urls, secret });
      const failed = (await failures.get(node)) ?? [];
      const x = new Element("x", { xmlns: NS_DATA, type: "result" }, [
        field("pubsub#node", "text-single", "Node", [node]),
        field("webhook_urls", "text-multi", "Endpoints", urls),
        field("webhook_secret", "text-single", "Signing secret", urls.length === 0 ? [] : [secret]),
        field(
          "webhook_failures",
          "text-multi",
          "Recent delivery failures",
          failed.map((f) => `${f.at} ${f.url} after ${f.attempts} attempts: ${f.error}`),
        ),
      ]);
      return command(sessionid, "completed", [x]);
    },
    // Before mod_pubsub's commands (get-pending), which answer item-not-found to other nodes.
    { priority: 10 },
  );
}
