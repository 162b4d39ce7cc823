// mod_pep: the Personal Eventing Protocol (XEP-0163). Every account is a pubsub service at its
// bare JID (services.ts), answering XEP-0060 requests through mod_pubsub's protocol layer, with
// notifications filtered by Entity Capabilities (presence.ts, broadcaster.ts).
//
// Options (Prosody's names):
//   pep_max_items (256)              upper bound of pubsub#max_items, and the value of "max"
//   pep_service_cache_size (1000)    services kept in memory (least recently used go first)
//   pep_info_cache_size (10000)      accounts with remembered "+notify" recipients, caps hashes
//   pep_max_payload_size (262144)    bytes of one item's payload
//   pep_sweep_interval (60 s)        how often ended leases and expired items are removed (on the
//                                    cached services and on accounts with expiring data; services.ts)
//   max_archive_query_results (50)   the largest page of an archive query on a node (XEP-0313)
//
// Events on the host bus: "pep-get-service" { username } -> { service, jid } | undefined
// (mod_vcard_legacy, mod_vcard4); "pep-service-added" { username, service, jid } when an account's
// service is made, before its first use (mod_bookmarks listens to its events). Storage: see store.ts; deleting an account removes its PEP data
// with the account's other data, and "user-deleted" drops what is cached of it.

import { randomBytes } from "node:crypto";
import { defineModule } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidBare, jidHost, jidSplit } from "../../src/util/jid.js";
import { Element, errorReply } from "../../src/xml/stanza.js";
import { DirectedPresence, eventAccessOracle } from "../mod_pubsub/access.js";
import { serviceFeatures } from "../mod_pubsub/disco.js";
import { metaDataForm } from "../mod_pubsub/forms.js";
import { nodeArchiveForm, nodeArchiveQuery } from "../mod_pubsub/mam.js";
import { handlePubsubIq } from "../mod_pubsub/protocol.js";
import { NS_MAM } from "../lib/mam/protocol.js";
import { NS_DISCO_INFO, NS_PUBSUB, NS_PUBSUB_OWNER } from "../mod_pubsub/xml.js";
import { PEP_SERVICE_ADDED_EVENT, PEP_SERVICE_EVENT, type PepServiceHandle } from "./api.js";
import { InterestTable, PendingQueries } from "./interest.js";
import { Lru } from "../../src/util/lru.js";
import { PepPresence, usernameOf } from "./presence.js";
import { PepServices, type PepAccount } from "./services.js";

interface RosterItemAnswer {
  items: Array<{ jid: string; subscription: "none" | "to" | "from" | "both" }>;
}

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return; // PEP services are accounts
    const o = module.options;
    const host = module.host;
    const infoCacheSize = o.integer("pep_info_cache_size", 10000, { min: 1, max: 10_000_000 });
    const interest = new InterestTable(infoCacheSize);
    const pending = new PendingQueries(infoCacheSize);
    const caps = new Lru<string, ReadonlySet<string>>(infoCacheSize);
    const access = eventAccessOracle(
      module.fireOn,
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
      post: (stanza) => module.post(stanza),
      maxItems: o.integer("pep_max_items", 256, { min: 1, max: 1_000_000 }),
      maxPayloadSize: o.integer("pep_max_payload_size", 256 * 1024, { min: 1, max: 64 * 1024 * 1024 }),
      cacheSize: o.integer("pep_service_cache_size", 1000, { min: 1, max: 10_000_000 }),
      nextId: () => `${idPrefix}-${(++counter).toString(36)}`,
      onError: (err) => module.log.warn(`PEP notification not sent: ${(err as Error).message}`),
      // Accounts with bound sessions keep their service (no second instance beside one in use).
      pinned: (username) => module.sessionsOf(username).length > 0,
      // Handlers of "pep-service-added" must attach their listeners synchronously.
      onBuilt: (account) => void module.fire(PEP_SERVICE_ADDED_EVENT, { username: account.username, service: account.service, jid: account.jid }),
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
      caps,
      sendTo,
      isContactSubscribed: (username, jid) => access.isSubscribedToPresence(`${username}@${host}`, jid),
      localContactsSeen: async (username) => {
        const answer = (await module.fire("roster-get", { username })) as RosterItemAnswer | undefined;
        const out: string[] = [];
        for (const item of answer?.items ?? []) {
          // RFC 6121: to/both -- the user receives the contact's presence, so may receive its PEP.
          if ((item.subscription === "to" || item.subscription === "both") && jidHost(item.jid) === host) {
            const contact = item.jid.slice(0, item.jid.indexOf("@"));
            if (contact !== username) out.push(contact);
          }
        }
        return out;
      },
    });

    const fail = (what: string, err: unknown) => module.log.error(`PEP ${what}: ${(err as Error)?.stack ?? err}`);

    // ---- presence: caps, +notify, last items (XEP-0163 §4.3) ----

    // Above mod_presence (0), so the caps query reaches the sender before its presence echo.
    module.hook(
      "presence/bare",
      async (ev) => {
        const { stanza, origin } = ev;
        const from = stanza.attrs.from;
        if (from === undefined) return undefined;
        const to = stanza.attrs.to;
        let username: string | undefined;
        let self = false;
        if (to === undefined) {
          if (!isClientSession(origin) || !origin.username) return undefined;
          username = origin.username;
          self = true;
        } else {
          username = usernameOf(to, host);
          self = username !== undefined && jidBare(from) === `${username}@${host}`;
        }
        if (username === undefined) return undefined;
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
        const others = module.sessionsOf(username).filter((s) => s !== session && !s.closed && s.presence !== undefined);
        if (others.length === 0) await presence.allGone(username);
      } catch (err) {
        fail("presence", err);
      }
    });

    // The answers to the caps queries (Prosody's id 'disco').
    const discoAnswer = (ev: StanzaEvent): { username: string; from: string; self: boolean } | undefined => {
      const from = ev.stanza.attrs.from;
      if (from === undefined) return undefined;
      if (ev.toSelf && isClientSession(ev.origin) && ev.origin.username) return { username: ev.origin.username, from, self: true };
      const username = usernameOf(ev.stanza.attrs.to, host);
      return username === undefined ? undefined : { username, from, self: false };
    };
    module.hook("iq-result/bare/disco", async (ev) => {
      const query = ev.stanza.getChild("query", NS_DISCO_INFO);
      const who = discoAnswer(ev);
      if (!query || !who) return undefined;
      return (await presence.discoResult(who.username, who.from, query, who.self)) ? true : undefined;
    });
    module.hook("iq-error/bare/disco", (ev) => {
      const who = discoAnswer(ev);
      if (who) pending.forget(who.username, who.from);
      return undefined;
    });

    // ---- XEP-0060 requests to the account's bare JID ----

    const handle = async (ev: StanzaEvent) => {
      const to = ev.stanza.attrs.to;
      const username = to === undefined ? (isClientSession(ev.origin) ? ev.origin.username : undefined) : usernameOf(to, host);
      if (username === undefined) return undefined;
      const account = await services.get(username);
      // RFC 6121 §8.5.1: no such account.
      if (!account) return module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      const result = await handlePubsubIq(account.ctx, ev.stanza);
      module.reply(ev, result.reply);
      if (result.after) await result.after();
      return true;
    };
    for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      for (const type of ["get", "set"] as const) {
        module.hook(`iq-${type}/self/${ns}:pubsub`, handle);
        module.hook(`iq-${type}/bare/${ns}:pubsub`, handle);
      }
    }

    // ---- XEP-0313 on PEP nodes (§5): a node's item history, under the rules of items retrieval ----

    // `<query node='…'/>` to the account's bare JID; without a node it is the account's own
    // message archive (mod_mam, which runs after this).
    const maxArchiveResults = o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 });
    const nodeArchive = (type: "get" | "set") => async (ev: StanzaEvent) => {
      if (ev.stanza.firstElement()?.attrs.node === undefined) return undefined;
      const to = ev.stanza.attrs.to;
      const username = to === undefined ? (isClientSession(ev.origin) ? ev.origin.username : undefined) : usernameOf(to, host);
      if (username === undefined) return undefined;
      const account = await services.get(username);
      if (!account) return module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      if (type === "get") return module.reply(ev, nodeArchiveForm(ev.stanza));
      const answer = await nodeArchiveQuery(account.ctx, ev.stanza, maxArchiveResults);
      for (const result of answer.results) module.reply(ev, result);
      return module.reply(ev, answer.reply);
    };
    for (const type of ["get", "set"] as const) {
      for (const to of ["self", "bare"] as const) module.hook(`iq-${type}/${to}/${NS_MAM}:query`, nodeArchive(type), 1);
    }

    // ---- service discovery of the account (XEP-0163 §1, XEP-0060 §5) ----

    module.hook("account-disco-info", async (data) => {
      const account = await services.get(data.username);
      if (!account) return undefined;
      if (data.node === undefined) {
        const q = data.reply;
        // After the account's identities, then every feature not already listed.
        const identity = new Element("identity", { category: "pubsub", type: "pep" });
        let at = 0;
        q.children.forEach((c, i) => {
          if (typeof c !== "string" && c.name === "identity") at = i + 1;
        });
        q.children.splice(at, 0, identity);
        const listed = new Set(q.childElements("feature").map((f) => f.attrs.var));
        for (const f of serviceFeatures(account.ctx)) if (!listed.has(f)) q.add(new Element("feature", { var: f }));
        return undefined;
      }
      // XEP-0060 §5.3/§5.4: a node of the account.
      const meta = await account.service.getNodeMeta(data.node, data.requester);
      if (!meta.ok) return undefined;
      data.reply.add(new Element("identity", { category: "pubsub", type: meta.value.nodeType }));
      data.reply.add(new Element("feature", { var: NS_DISCO_INFO })).add(new Element("feature", { var: NS_PUBSUB }));
      data.reply.add(new Element("feature", { var: NS_MAM }));
      data.reply.add(metaDataForm(meta.value));
      return true;
    });

    module.hook("account-disco-items", async (data) => {
      const account = await services.get(data.username);
      if (!account) return undefined;
      if (data.node === undefined) {
        // §5.2: the nodes the requester may see, named by their titles.
        const listed = await account.service.listNodes(data.requester);
        if (!listed.ok) return undefined;
        for (const n of listed.value.nodes) {
          data.reply.add(new Element("item", n.title === undefined ? { jid: account.jid, node: n.node } : { jid: account.jid, node: n.node, name: n.title }));
        }
        return undefined;
      }
      // §5.5: a node's items, named by id.
      const got = await account.service.getItems(data.node, data.requester);
      if (!got.ok) return undefined;
      for (const item of got.value.items) data.reply.add(new Element("item", { jid: account.jid, name: item.id }));
      return true;
    });

    // ---- for other modules ----

    module.hook(PEP_SERVICE_EVENT, async ({ username }) => {
      const account: PepAccount | undefined = await services.get(username);
      return account ? ({ service: account.service, jid: account.jid } satisfies PepServiceHandle) : undefined;
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
