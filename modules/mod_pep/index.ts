// mod_pep: the Personal Eventing Protocol (XEP-0163). Every account is a pubsub service at its
// bare JID (services.ts): the one pubsub library (modules/lib/pubsub) with PEP's defaults and
// recipient filter (lib/pubsub/pep.ts), notifications going also to the entities that asked for a
// node through Entity Capabilities (presence.ts, interest.ts).
//
// Options (Prosody's names):
//   pep_max_items (256)              upper bound of pubsub#max_items, and the value of "max"
//   pep_service_cache_size (1000)    services kept in memory (least recently used go first)
//   pep_info_cache_size (10000)      accounts with remembered "+notify" recipients, caps hashes
//                                    (and caps queries in flight)
//   pep_caps_query_timeout (30 s)    a caps query to a remote entity is shared by every account its
//                                    presence reaches; unanswered this long, a repeated presence asks again
//   pep_max_payload_size (262144)    bytes of one item's payload
//   pep_sweep_interval (60 s)        how often ended leases and expired items are removed (on the
//                                    cached services and on accounts with expiring data; services.ts)
//   max_archive_query_results (50)   the largest page of an archive query on a node (XEP-0313)
//
// Provides "pep" (lib/pubsub/services.ts): an account's service by username, for mod_vcard_legacy,
// mod_vcard4, mod_bookmarks and mod_pubsub_http. Fires "pep-service-added" { username, service, jid }
// on the host bus when an account's service is made, before its first use (mod_bookmarks listens to
// its events). Storage: lib/pubsub/pep-store.ts; deleting an account removes its PEP data with the
// account's other data, and "user-deleted" drops what is cached of it.

import { randomBytes } from "node:crypto";
import { defineModule, type IqEvent } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidBare, jidSplit } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { DirectedPresence, serviceAccessOracle } from "../lib/pubsub/access.js";
import { iqAnswerOf } from "../lib/pubsub/context.js";
import { addItemList, addNodeInfo, addNodeList, addServiceToAccountInfo } from "../lib/pubsub/disco.js";
import { nodeArchiveForm, nodeArchiveQuery } from "../lib/pubsub/mam.js";
import { handlePubsubIq } from "../lib/pubsub/protocol.js";
import { NS_MAM } from "../lib/mam/protocol.js";
import { NS_DISCO_INFO, NS_PUBSUB, NS_PUBSUB_OWNER } from "../lib/pubsub/xml.js";
import "../lib/pubsub/services.js";
import { InterestTable, PendingQueries, SharedCapsQueries } from "./interest.js";
import { Lru } from "../../src/util/lru.js";
import { capsAnswerTarget, contactsSeen, PepPresence, presenceTarget, usernameOf } from "./presence.js";
import { PepServices, type PepAccount } from "./services.js";

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return; // PEP services are accounts
    const o = module.options;
    const host = module.host;
    const infoCacheSize = o.integer("pep_info_cache_size", 10000, { min: 1, max: 10_000_000 });
    const interest = new InterestTable(infoCacheSize);
    const pending = new PendingQueries(infoCacheSize);
    const caps = new Lru<string, ReadonlySet<string>>(infoCacheSize);
    // One caps query per remote entity and ver across the host, whatever the number of accounts its
    // presence reaches; unanswered this long, it is sent again when the entity repeats its presence.
    const capsQueryTimeoutMs = o.period("pep_caps_query_timeout", 30, { min: 0.05 }) * 1000;
    const shared = new SharedCapsQueries(infoCacheSize, capsQueryTimeoutMs);
    // The roster of the accounts here (their contacts' subscriptions and groups, XEP-0060 §4.5 access
    // models); the oracle asks the roster and presence services of each account's host.
    const roster = await module.depends("roster");
    const access = serviceAccessOracle(
      module.serviceOn,
      (h) => module.hostNames().includes(h),
      new DirectedPresence(),
    );
    const idPrefix = randomBytes(4).toString("hex");
    let counter = 0;

    const services = new PepServices({
      host,
      storage: { openMap: (name) => module.openMap(name), openArchive: (name) => module.openArchive(name) },
      access,
      interest,
      accountExists: (username) => module.accounts.exists(username),
      post: (stanza, opts) => module.post(stanza, opts),
      maxItems: o.integer("pep_max_items", 256, { min: 1, max: 1_000_000 }),
      maxPayloadSize: o.integer("pep_max_payload_size", 256 * 1024, { min: 1, max: 64 * 1024 * 1024 }),
      cacheSize: o.integer("pep_service_cache_size", 1000, { min: 1, max: 10_000_000 }),
      nextId: () => `${idPrefix}-${(++counter).toString(36)}`,
      onError: (err) => module.log.warn(`PEP notification not sent: ${(err as Error).message}`),
      // Accounts with bound sessions keep their service (no second instance beside one in use).
      pinned: (username) => module.sessionsOf(username).length > 0,
      // Handlers of "pep-service-added" must attach their listeners synchronously.
      onBuilt: (account) => void module.fire("pep-service-added", { username: account.username, service: account.service, jid: account.jid }),
    });

    /** A full JID's own session when it is here (the caps query must precede the presence echo). */
    const sendTo = async (jid: string, stanza: Element) => {
      const parts = jidSplit(jid);
      if (parts?.domain === host && parts.node !== undefined && parts.resource !== undefined) {
        const session = module.session(parts.node, parts.resource);
        if (session && !session.closed) {
          session.send(stanza);
          return;
        }
      }
      await module.post(stanza);
    };

    const presence = new PepPresence({
      host,
      services,
      interest,
      pending,
      shared,
      caps,
      sendTo,
      isContactSubscribed: (username, jid) => access.isSubscribedToPresence(`${username}@${host}`, jid),
      localContactsSeen: async (username) => contactsSeen(await roster.items(username), username, host),
    });

    const fail = (what: string, err: unknown) => module.log.error(`PEP ${what}: ${(err as Error)?.stack ?? err}`);

    // ---- presence: caps, +notify, last items (XEP-0163 §4.3) ----

    // Above mod_presence (0), so the caps query reaches the sender before its presence echo.
    module.hook(
      "presence/bare",
      async ({ stanza, origin }) => {
        const target = presenceTarget(stanza, origin, host);
        if (!target) return undefined;
        const { username, from, self } = target;
        const type = stanza.attrs.type;
        try {
          if (type === undefined) await presence.available(username, from, stanza, self);
          else if (type === "unavailable" || type === "error") await presence.unavailable(username, from);
          else if (type === "unsubscribe" && !self) await presence.unsubscribed(username, jidBare(from));
        } catch (err) {
          fail("presence", err);
        }
        return undefined;
      },
      10,
    );

    // A session that ends without saying so; and the account's last resource going offline.
    module.hook("presence-unavailable", async ({ session }) => {
      const { username, fullJid } = session;
      if (!username || !fullJid) return;
      try {
        await presence.unavailable(username, fullJid);
        const others = (module.serviceOn(module.host, "presence")?.availableSessions(username) ?? []).filter((s) => s !== session);
        await presence.ownResourceGone(username, fullJid, others.length > 0);
      } catch (err) {
        fail("presence", err);
      }
    });

    // The answers to the caps queries (Prosody's id 'disco').
    const discoAnswer = (ev: StanzaEvent) => capsAnswerTarget(ev, host);
    module.hook("iq-result/bare/disco", async (ev) => {
      const query = ev.stanza.getChild("query", NS_DISCO_INFO);
      const who = discoAnswer(ev);
      if (!query || !who) return undefined;
      return (await presence.discoResult(who.username, who.from, query, who.self)) ? true : undefined;
    });
    module.hook("iq-error/bare/disco", (ev) => {
      const who = discoAnswer(ev);
      if (!who) return undefined;
      presence.discoError(who.username, who.from);
      return undefined;
    });

    // ---- XEP-0060 requests to the account's bare JID ----

    /** The account an iq is addressed to (its own, without `to`). */
    const accountOf = (ev: StanzaEvent): string | undefined => {
      const to = ev.stanza.attrs.to;
      return to === undefined ? (isClientSession(ev.origin) ? ev.origin.username : undefined) : usernameOf(to, host);
    };
    const handle = async (ev: IqEvent) => {
      const username = accountOf(ev);
      if (username === undefined) return undefined;
      const account = await services.get(username);
      // RFC 6121 §8.5.1: no such account.
      if (!account) return new StanzaError("cancel", "service-unavailable");
      const result = await handlePubsubIq(account.ctx, ev.stanza);
      const after = result.after;
      if (after) ev.afterReply(() => void after().catch((err: unknown) => fail("after reply", err)));
      return iqAnswerOf(result.reply);
    };
    for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      module.iq.get(ns, "pubsub", handle, { to: ["self", "bare"] });
      module.iq.set(ns, "pubsub", handle, { to: ["self", "bare"] });
    }

    // ---- XEP-0313 on PEP nodes (§5): a node's item history, under the rules of items retrieval ----

    // `<query node='…'/>` to the account's bare JID; without a node it is the account's own
    // message archive (mod_mam, which runs after this).
    const maxArchiveResults = o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 });
    const nodeArchive = (type: "get" | "set") => async (ev: IqEvent) => {
      if (ev.payload.attrs.node === undefined) return undefined;
      const username = accountOf(ev);
      if (username === undefined) return undefined;
      const account = await services.get(username);
      if (!account) return new StanzaError("cancel", "service-unavailable");
      if (type === "get") return iqAnswerOf(nodeArchiveForm(ev.stanza));
      const answer = await nodeArchiveQuery(account.ctx, ev.stanza, maxArchiveResults);
      // The result messages go to the requester before the iq's result (XEP-0313 §4.2).
      for (const result of answer.results) module.reply(ev, result);
      return iqAnswerOf(answer.reply);
    };
    module.iq.get(NS_MAM, "query", nodeArchive("get"), { to: ["self", "bare"], priority: 1 });
    module.iq.set(NS_MAM, "query", nodeArchive("set"), { to: ["self", "bare"], priority: 1 });

    // ---- service discovery of the account (XEP-0163 §1, XEP-0060 §5) ----

    module.hook("account-disco-info", async (data) => {
      const account = await services.get(data.username);
      if (!account) return undefined;
      if (data.node === undefined) {
        addServiceToAccountInfo(data.reply, account.ctx);
        return undefined;
      }
      // XEP-0060 §5.3/§5.4: a node of the account.
      const meta = await account.service.getNodeMeta(data.node, data.requester);
      if (!meta.ok) return undefined;
      addNodeInfo(data.reply, meta.value, [NS_MAM]);
      return true;
    });

    module.hook("account-disco-items", async (data) => {
      const account = await services.get(data.username);
      if (!account) return undefined;
      if (data.node === undefined) {
        // §5.2: the nodes the requester may see, named by their titles.
        const listed = await account.service.listNodes(data.requester);
        if (listed.ok) addNodeList(data.reply, account.jid, listed.value.nodes);
        return undefined;
      }
      // §5.5: a node's items, named by id.
      const got = await account.service.getItems(data.node, data.requester);
      if (!got.ok) return undefined;
      addItemList(data.reply, account.jid, got.value.items);
      return true;
    });

    // ---- for other modules ----

    module.provides("pep", {
      async service(username) {
        const account: PepAccount | undefined = await services.get(username);
        return account ? { service: account.service, jid: account.jid } : undefined;
      },
    });

    // The account's data went with the account (store.ts); forget what is cached of it.
    module.hookGlobal("user-deleted", ({ host: h, username }) => {
      if (h !== host) return;
      services.forget(username);
      interest.forgetAccount(username);
    });

    // Leases (XEP-0060 §12.18) and pubsub#item_expire: on the services in memory and on every
    // account with expiring data (found in storage at start, noted when a service leaves the cache).
    services.scanStorage().then(
      (n) => module.log.debug(`${n} accounts with expiring PEP data`),
      (err: unknown) => fail("storage scan", err),
    );
    const sweepMs = o.period("pep_sweep_interval", 60, { min: 0.05 }) * 1000;
    module.addTimer(sweepMs, async () => {
      await services.sweep((username, err) => fail(`sweep of ${username}`, err));
      return sweepMs;
    });
  },
});
