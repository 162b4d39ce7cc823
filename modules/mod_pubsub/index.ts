// mod_pubsub: a XEP-0060 publish-subscribe service as a component (layer 3 of ARCHITECTURE.md §7):
//   Component "pubsub.example.com" "pubsub"
//
// Options (Prosody's names where Prosody has one):
//   pubsub_max_items (256)        upper bound of pubsub#max_items, and the value of "max"
//   expose_publisher (unset)      true: items always carry `publisher`; false: never; unset: per node
//   pubsub_create_node ("admins") who may create nodes: "admins" | "local" | "anyone" (the embedded
//                                 default configuration sets "local")
//   autocreate_on_publish, autocreate_on_subscribe (false)
//   node_defaults ({})            default node configuration, e.g. { max_items = 10; access_model = "whitelist" }
//   admins                        the server's admins and the component's own act as owners of every node
//   pubsub_max_payload_size (65536 bytes), pubsub_max_lease (seconds, unset), pubsub_max_item_expire
//   pubsub_max_nodes, pubsub_max_subscriptions (per JID and node), pubsub_access_models (all five)
//   pubsub_notify_affiliations (true): XEP-0060 §8.9.4 notifications to entities whose affiliation changed
//   pubsub_full_config_form (false): configure forms list every option, not only Prosody's and changed ones
//   pubsub_sweep_interval (60 s): how often ended leases and expired items are removed
//   name ("Herald PubSub Service"): the disco identity's name
//   pubsub_max_directed_presences (10000): full JIDs whose directed presence is remembered (the
//                                 oldest is forgotten beyond that)
//   max_archive_query_results (50): the largest page of a node archive query (XEP-0313, ./mam.ts)
//
// Storage: nodes, subscriptions and items in this host's stores (pubsub_nodes, pubsub_subscriptions,
// pubsub_items); a publish is answered once its item is written. Presence: directed presence to the
// service (RFC 6121 §4.6) drives send_last_published_item = on_sub_and_presence and ends
// pubsub#expire = presence subscriptions; roster and presence questions go to mod_roster and
// mod_presence through events on the user's host.

import { randomBytes } from "node:crypto";
import { defineModule } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { ACCESS_MODELS, PubsubService, type AccessModel } from "../../src/util/pubsub/index.js";
import { jidBare, jidPrep } from "../../src/util/jid.js";
import { errorReply } from "../../src/xml/stanza.js";
import { DIRECTED_PRESENCE_LIMIT, DirectedPresence, eventAccessOracle } from "./access.js";
import { handleAuthorizationAnswer, handleGetPending, isAuthorizationAnswer } from "./adhoc.js";
import { StanzaBroadcaster } from "./broadcaster.js";
import type { ProtocolResult, PubsubContext } from "./context.js";
import { handleDiscoInfo, handleDiscoItems } from "./disco.js";
import { registerInstance } from "./instances.js";
import { Notifier } from "./notifications.js";
import { nodeArchiveForm, nodeArchiveQuery } from "./mam.js";
import { handlePubsubIq } from "./protocol.js";
import { creationPolicy, readNodeDefaults, type CreatePolicy } from "./settings.js";
import { HeraldPubsubStore, STORE_NAMES } from "./store.js";
import { NS_MAM } from "../lib/mam/protocol.js";
import { NS_COMMANDS, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PUBSUB, NS_PUBSUB_OWNER } from "./xml.js";
import { pubsubShellCommand } from "./shell.js";
import { registerPubsubMetrics } from "./metrics.js";

/** A hook on another host's bus, if the core offers one (ModuleApi has no such call yet). */

export default defineModule({
  async load(module) {
    const o = module.options;
    const maxItems = o.integer("pubsub_max_items", 256, { min: 1, max: 1_000_000 });
    const exposePublisher = o.has("expose_publisher") ? o.boolean("expose_publisher", false) : undefined;
    const policy = o.enum<CreatePolicy>("pubsub_create_node", "admins", ["admins", "local", "anyone"]) ?? "admins";
    const componentAdmins = new Set(
      o.ownArray("admins").flatMap((a) => {
        const j = jidPrep(a);
        return j === undefined ? [] : [jidBare(j)];
      }),
    );
    // The service's own JID acts for the admin shell's pubsub commands (an owner of every node).
    const isAdmin = (jid: string) => jid === module.host || module.isAdmin(jid) || componentAdmins.has(jidBare(jid));
    const defaults = readNodeDefaults(o.table("node_defaults"));
    if (!defaults.ok) module.log.warn(`node_defaults ignored: ${defaults.text ?? defaults.error}`);
    const models = o.array("pubsub_access_models", ACCESS_MODELS).filter((m): m is AccessModel => (ACCESS_MODELS as readonly string[]).includes(m));

    // Write-behind: a node's lock is not held across the fsync; replies and notifications wait
    // for durability below (answer) and in the broadcaster (gate).
    const store = new HeraldPubsubStore(
      {
        nodes: module.openKeyval(STORE_NAMES.nodes),
        subscriptions: module.openMap(STORE_NAMES.subscriptions),
        items: module.openArchive(STORE_NAMES.items),
      },
      { writeBehind: true },
    );
    const directed = new DirectedPresence(o.integer("pubsub_max_directed_presences", DIRECTED_PRESENCE_LIMIT, { min: 1, max: 10_000_000 }));
    const isLocalHost = (host: string) => host !== module.host && module.hostNames().includes(host);
    const access = eventAccessOracle(module.fireOn, isLocalHost, directed);

    const idPrefix = randomBytes(4).toString("hex");
    let counter = 0;
    const notifier = new Notifier({
      from: module.host,
      exposePublisher,
      maxItems,
      nextId: () => `${idPrefix}-${(++counter).toString(36)}`,
    });
    const broadcaster = new StanzaBroadcaster(notifier, {
      post: (stanza) => module.post(stanza),
      notifyAffiliations: o.boolean("pubsub_notify_affiliations", true),
      onError: (err) => module.log.warn(`notification not sent: ${(err as Error).message}`),
      gate: () => store.written(),
    });

    const service = new PubsubService({
      store,
      broadcaster,
      access,
      config: {
        nodeDefaults: defaults.ok ? defaults.value : undefined,
        maxItems,
        maxPayloadSize: o.integer("pubsub_max_payload_size", 65536, { min: 1, max: 64 * 1024 * 1024 }),
        maxItemExpire: finite(o.period("pubsub_max_item_expire")),
        maxLeaseSeconds: finite(o.period("pubsub_max_lease")),
        maxNodes: o.integer("pubsub_max_nodes", undefined, { min: 1 }),
        maxSubscriptionsPerJid: o.integer("pubsub_max_subscriptions", undefined, { min: 1 }),
        accessModels: models.length > 0 ? models : ACCESS_MODELS,
        autocreateOnPublish: o.boolean("autocreate_on_publish", false),
        autocreateOnSubscribe: o.boolean("autocreate_on_subscribe", false),
        canCreate: creationPolicy(policy, isAdmin, () => module.hostNames()),
        isAdmin,
      },
    });

    const ctx: PubsubContext = {
      service,
      jid: module.host,
      exposePublisher,
      fullConfigForm: o.boolean("pubsub_full_config_form", false),
      broadcast: (event) => broadcaster.notify(event),
      send: (stanza) => module.post(stanza),
      identity: { category: "pubsub", type: "service", name: o.string("name", "Herald PubSub Service") },
      presenceEvents: true,
      presenceAware: true,
      adhocCommands: true,
    };
    registerInstance(module.host, { service, broadcaster, ctx });
    module.onUnload(async () => {
      registerInstance(module.host, undefined);
      // Queued items go to disk before the store closes.
      await store.written();
    });
    module.hook("admin-shell/pubsub", (ev) => pubsubShellCommand(service, module.host, maxItems, ev));
    registerPubsubMetrics(module, service, broadcaster, module.host);

    // Replies wait until what their request wrote is durable and its notifications are posted,
    // without holding up the requester's next stanzas (a publisher's publishes in flight go to
    // disk together): they are sent from a chain, in request order. With nothing pending, at once.
    let replies: Promise<void> | undefined;
    const answer = async (ev: StanzaEvent, run: () => Promise<ProtocolResult>) => {
      const mark = store.mark();
      const result = await run();
      if (replies === undefined && store.mark() === mark && !store.busy && !broadcaster.pending) {
        module.reply(ev, result.reply);
        // After the reply: the last item of a fresh subscription (pubsub_resend_on_sub.scs order).
        if (result.after) await result.after();
        return true;
      }
      // Settled at once into a value: a failure waiting behind earlier replies is no unhandled rejection.
      const failure = store.durable(mark).then(
        () => undefined,
        (err: unknown) => ({ err }),
      );
      const posted = broadcaster.idle();
      const send = (replies ?? Promise.resolve()).then(async () => {
        const failed = await failure;
        if (failed) {
          module.log.error(`pubsub: items not stored: ${(failed.err as Error)?.stack ?? failed.err}`);
          module.reply(ev, errorReply(ev.stanza, "wait", "internal-server-error"));
          return;
        }
        await posted;
        module.reply(ev, result.reply);
        if (result.after) await result.after();
      });
      const tail = send.catch((err: unknown) => module.log.error(`pubsub reply: ${(err as Error)?.stack ?? err}`));
      replies = tail;
      void tail.then(() => {
        if (replies === tail) replies = undefined;
      });
      return true;
    };

    for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      for (const type of ["get", "set"] as const) {
        module.hook(`iq-${type}/host/${ns}:pubsub`, (ev) => answer(ev, () => handlePubsubIq(ctx, ev.stanza)));
      }
    }

    // XEP-0313 on nodes: the item history as an archive (./mam.ts).
    const maxArchiveResults = o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 });
    module.addFeature(NS_MAM);
    module.hook(`iq-get/host/${NS_MAM}:query`, (ev) => module.reply(ev, nodeArchiveForm(ev.stanza)));
    module.hook(`iq-set/host/${NS_MAM}:query`, async (ev) => {
      const answer = await nodeArchiveQuery(ctx, ev.stanza, maxArchiveResults);
      for (const result of answer.results) module.reply(ev, result);
      return module.reply(ev, answer.reply);
    });

    // Components do not load mod_disco: the service answers disco itself (XEP-0060 §5). Features
    // other modules add to this host are included.
    module.hook(
      `iq-get/host/${NS_DISCO_INFO}:query`,
      (ev) => answer(ev, () => handleDiscoInfo(ctx, ev.stanza, { features: module.discoInfo().features, nodeFeatures: [NS_MAM] })),
      10,
    );
    module.hook(`iq-get/host/${NS_DISCO_ITEMS}:query`, (ev) => answer(ev, () => handleDiscoItems(ctx, ev.stanza)), 10);
    module.hook(`iq-set/host/${NS_COMMANDS}:command`, (ev) => answer(ev, () => handleGetPending(ctx, ev.stanza)));

    // §8.6: owners answer authorization requests with a message to the service.
    module.hook("message/host", async (ev) => {
      const { stanza } = ev;
      if (stanza.attrs.type === "error") return true; // a notification that could not be delivered
      if (!isAuthorizationAnswer(stanza)) return undefined;
      const error = await handleAuthorizationAnswer(ctx, stanza);
      if (error) module.send(error);
      return true;
    });

    // Presence work runs beside the stanza that caused it; a failure (storage) is logged, never
    // left as an unhandled rejection.
    const guarded = (what: string, run: Promise<unknown>): Promise<void> =>
      run.then(
        () => undefined,
        (err: unknown) => module.log.error(`pubsub ${what}: ${(err as Error)?.stack ?? err}`),
      );
    const background = (what: string, run: Promise<unknown>): void => void guarded(what, run);

    // Directed presence to the service (RFC 6121 §4.6). XEP-0060 on_sub_and_presence: the last
    // item goes to a subscriber when it comes online, so only when this full JID was not already
    // available to the service (a status change is no arrival).
    module.hook("presence/host", async (ev) => {
      const { stanza } = ev;
      const from = stanza.attrs.from;
      if (from === undefined) return true;
      if (stanza.attrs.type === undefined) {
        if (!directed.available(from, stanza)) await guarded(`presence of ${from}`, service.onAvailable(from));
      } else if (stanza.attrs.type === "unavailable") {
        directed.unavailable(from);
        await guarded(`unavailable presence of ${from}`, service.onUnavailable(from));
      }
      return true;
    });
    // Local users' presence: listen on the VirtualHosts' buses. mod_presence fires
    // "presence-available" for every broadcast (status changes too); only the initial one is the
    // user coming online.
    for (const host of module.hostNames()) {
      if (host === module.host) continue;
      module.hookOn(host, "presence-available", (ev) => {
        const jid = ev.session.fullJid;
        if (jid && ev.initial === true) background(`presence of ${jid}`, service.onAvailable(jid));
      });
      module.hookOn(host, "presence-unavailable", (ev) => {
        const jid = ev.session.fullJid;
        if (jid) background(`unavailable presence of ${jid}`, service.onUnavailable(jid));
      });
    }

    // Leases (§12.18) and pubsub#item_expire.
    const sweepMs = o.period("pubsub_sweep_interval", 60, { min: 0.05 }) * 1000;
    module.addTimer(sweepMs, async () => {
      await service.sweep();
      return sweepMs;
    });

    const warmed = await service.warm();
    if (warmed.ok) module.log.debug(`${warmed.value} pubsub nodes loaded; nodes are created by ${policy}`);
  },
});

/** A period option, unset when absent or "never". */
function finite(seconds: number | undefined): number | undefined {
  return seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined;
}
