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
//   max_archive_query_results (50): the largest page of a node archive query (XEP-0313, lib/pubsub/mam.ts)
//
// Storage: nodes, subscriptions and items in this host's stores (pubsub_nodes, pubsub_subscriptions,
// pubsub_items); a publish is answered once its item is written. Presence: directed presence to the
// service (RFC 6121 §4.6) drives send_last_published_item = on_sub_and_presence and ends
// pubsub#expire = presence subscriptions; roster and presence questions go to mod_roster and
// mod_presence through events on the user's host.
//
// The protocol, forms, disco, notifications, store and access code is modules/lib/pubsub, shared
// with mod_pep; this file wires it. Provides "pubsub" (lib/pubsub/services.ts) for mod_pubsub_http
// and mod_pubsub_post. Every request is an iq handler that returns its reply; the replies to
// XEP-0060 sets wait in the durable reply chain (lib/pubsub/replies.ts) until what they wrote is on
// disk, as a LaterAnswer, so a publisher's next stanzas are not held while its item is written.

import { randomBytes } from "node:crypto";
import { defineModule, LaterAnswer, type IqEvent } from "../../src/modules/api.js";
import { PubsubService } from "../../src/util/pubsub/index.js";
import { errorReply } from "../../src/xml/stanza.js";
import { DirectedPresence, serviceAccessOracle } from "../lib/pubsub/access.js";
import { handleAuthorizationAnswer, handleGetPending, isAuthorizationAnswer } from "../lib/pubsub/adhoc.js";
import { FANOUT_CHUNK, StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";
import { REMOTE_QUEUE_LIMIT } from "../lib/pubsub/peer-queues.js";
import { iqAnswerOf, type ProtocolResult, type PubsubContext } from "../lib/pubsub/context.js";
import { handleDiscoInfo, handleDiscoItems } from "../lib/pubsub/disco.js";
import "../lib/pubsub/services.js";
import { Notifier } from "../lib/pubsub/notifications.js";
import { nodeArchiveForm, nodeArchiveQuery } from "../lib/pubsub/mam.js";
import { handlePubsubIq } from "../lib/pubsub/protocol.js";
import { componentSettings } from "../lib/pubsub/settings.js";
import { DurableReplies } from "../lib/pubsub/replies.js";
import { HeraldPubsubStore, STORE_NAMES } from "../lib/pubsub/store.js";
import { NS_MAM } from "../lib/mam/protocol.js";
import { NS_COMMANDS, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PUBSUB, NS_PUBSUB_OWNER } from "../lib/pubsub/xml.js";
import { pubsubShellCommand } from "./shell.js";
import { registerPubsubMetrics } from "./metrics.js";

export default defineModule({
  async load(module) {
    const o = module.options;
    const settings = componentSettings(o, { host: module.host, isServerAdmin: (jid) => module.isAdmin(jid), hostNames: () => module.hostNames() });
    for (const warning of settings.warnings) module.log.warn(warning);
    const { maxItems, exposePublisher, policy } = settings;

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
    const directed = new DirectedPresence(settings.directedPresenceLimit);
    const isLocalHost = (host: string) => host !== module.host && module.hostNames().includes(host);
    const access = serviceAccessOracle(module.serviceOn, isLocalHost, directed);

    const idPrefix = randomBytes(4).toString("hex");
    let counter = 0;
    const notifier = new Notifier({
      from: module.host,
      exposePublisher,
      maxItems,
      nextId: () => `${idPrefix}-${(++counter).toString(36)}`,
    });
    const broadcaster = new StanzaBroadcaster(notifier, {
      post: (stanza, opts) => module.post(stanza, opts),
      notifyAffiliations: settings.notifyAffiliations,
      onError: (err) => module.log.warn(`notification not sent: ${(err as Error).message}`),
      gate: () => store.written(),
      chunk: o.integer("pubsub_fanout_chunk", FANOUT_CHUNK, { min: 1, max: 1_000_000 }),
      remoteQueueLimit: o.integer("pubsub_remote_queue_limit", REMOTE_QUEUE_LIMIT, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
      onRemoteOverflow: (domain, stanzas, bytes) =>
        module.log.warn(`${stanzas} notifications (${bytes} bytes) waited for ${domain}, more than pubsub_remote_queue_limit: sent without waiting for it to read`),
    });

    const service = new PubsubService({ store, broadcaster, access, config: settings.service });

    const ctx: PubsubContext = {
      service,
      jid: module.host,
      exposePublisher,
      fullConfigForm: settings.fullConfigForm,
      broadcast: (event) => broadcaster.notify(event),
      send: (stanza) => module.post(stanza),
      identity: { category: "pubsub", type: "service", name: settings.name },
      presenceEvents: true,
      presenceAware: true,
      adhocCommands: true,
    };
    // For mod_pubsub_http, mod_pubsub_post (module.depends("pubsub")), tests and benchmarks.
    module.provides("pubsub", { service, broadcaster, ctx });
    module.onUnload(async () => {
      // Queued items go to disk before the store closes.
      await store.written();
    });
    module.hook("admin-shell/pubsub", (ev) => pubsubShellCommand(service, module.host, maxItems, ev));
    registerPubsubMetrics(module, service, broadcaster, module.host);

    // Replies wait until what their request wrote is durable (lib/pubsub/replies.ts).
    const replies = new DurableReplies({
      store,
      broadcaster,
      failure: (request, err) => {
        module.log.error(`pubsub: items not stored: ${(err as Error)?.stack ?? err}`);
        return errorReply(request, "wait", "internal-server-error");
      },
      onError: (err) => module.log.error(`pubsub reply: ${(err as Error)?.stack ?? err}`),
    });
    /**
     * A request that may write: its reply waits until what it wrote is durable, in request order,
     * without holding up the sender's next requests (a publisher's publishes in flight share syncs).
     */
    const write = async (ev: IqEvent, run: () => Promise<ProtocolResult>) => {
      const r = await replies.reply(ev.stanza, run);
      if ("now" in r) {
        const after = r.now.after;
        if (after) ev.afterReply(after);
        return iqAnswerOf(r.now.reply);
      }
      ev.afterReply(r.afterSent);
      return new LaterAnswer(r.later.then((done) => iqAnswerOf(done.reply)));
    };
    /** A request that writes nothing: answered after the replies before it, by returning. */
    const read = async (ev: IqEvent, run: () => Promise<ProtocolResult>) => {
      await replies.settled();
      const result = await run();
      const after = result.after;
      if (after) ev.afterReply(() => void after().catch((err: unknown) => module.log.error(`pubsub after reply: ${(err as Error)?.stack ?? err}`)));
      return iqAnswerOf(result.reply);
    };
    for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      module.iq.get(ns, "pubsub", (ev) => read(ev, () => handlePubsubIq(ctx, ev.stanza)));
      module.iq.set(ns, "pubsub", (ev) => write(ev, () => handlePubsubIq(ctx, ev.stanza)));
    }

    // XEP-0313 on nodes: the item history as an archive (lib/pubsub/mam.ts).
    const maxArchiveResults = settings.maxArchiveResults;
    module.addFeature(NS_MAM);
    module.iq.get(NS_MAM, "query", (ev) => iqAnswerOf(nodeArchiveForm(ev.stanza)));
    module.iq.set(NS_MAM, "query", async (ev) => {
      const answer = await nodeArchiveQuery(ctx, ev.stanza, maxArchiveResults);
      // The result messages go to the requester before the iq's result (XEP-0313 §4.2).
      for (const result of answer.results) module.reply(ev, result);
      return iqAnswerOf(answer.reply);
    });

    // Components do not load mod_disco: the service answers disco itself (XEP-0060 §5). Features
    // other modules add to this host are included.
    module.iq.get(
      NS_DISCO_INFO,
      "query",
      (ev) => read(ev, () => handleDiscoInfo(ctx, ev.stanza, { features: module.discoInfo().features, nodeFeatures: [NS_MAM] })),
      { priority: 10 },
    );
    module.iq.get(NS_DISCO_ITEMS, "query", (ev) => read(ev, () => handleDiscoItems(ctx, ev.stanza)), { priority: 10 });
    // §8.7 get-pending reads the pending requests; its forms follow the result.
    module.iq.set(NS_COMMANDS, "command", (ev) => read(ev, () => handleGetPending(ctx, ev.stanza)));

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
    const { sweepMs } = settings;
    module.addTimer(sweepMs, async () => {
      await service.sweep();
      return sweepMs;
    });

    const warmed = await service.warm();
    if (warmed.ok) module.log.debug(`${warmed.value} pubsub nodes loaded; nodes are created by ${policy}`);
  },
});
