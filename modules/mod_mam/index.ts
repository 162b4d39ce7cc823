// mod_mam: XEP-0313 Message Archive Management for the accounts of a VirtualHost, with XEP-0359
// stanza ids (Prosody's module name and options).
//
// Archiving: what a local client sends (`pre-message/*`, priority 0) goes into the sender's
// archive; what arrives for an account (`message/bare`, `message/full`, priority 0, before carbons
// at -0.5 and delivery at -1) into the recipient's, whether it is delivered, copied by carbons or
// kept offline, so it is archived exactly once per account (also when stream management hands on
// what a session never acknowledged: see `archivedBefore`). Which messages: ./archiving.ts
// (Prosody's rules); whose: the account's preferences (./prefs.ts, XEP-0313 §5.1). An archived
// message goes on with <stanza-id by='user@host' id='archive id'/>; a <stanza-id/> that claims to
// be by the account is removed on the way in (XEP-0359 §3), and the sender's own is removed before
// the message leaves (priority -1, after carbons has copied it with the id). A message is delivered
// only once it is written (./writer.ts): a client never receives a message its archive lacks, not
// after a crash either. The sender's write runs while the message travels to a local recipient, whose
// own write it waits for with (one sync for both); see `inFlight` below. A write that fails is logged
// and the message goes on without that stanza id.
//
// Each message written fires `archive-message-added` { origin, username, id, stanza, incoming }
// (Prosody's event; mod_cloud_notify wakes devices with it); a message for the account fires it
// before it is delivered.
//
// Queries (to the own bare JID): XEP-0313 §4 with the data form, XEP-0059 paging, flip-page,
// before-id/after-id/ids and metadata (urn:xmpp:mam:2#extended); the query form; preferences.
//
// Options (Prosody's names and defaults):
//   archive_store ("archive")            the archive store's name
//   default_archive_policy (true)        true/"always", false/"never" or "roster"
//   mam_smart_enable (false)             archive only for accounts that used MAM (a query or prefs)
//   max_archive_query_results (50)       the largest page; 20 when the client does not say
//   mam_include_total (true; false when archive_expires_after is "never"): RSM <count/>
//   dont_archive_namespaces ({ "http://jabber.org/protocol/chatstates" }): removed before archiving
//   archive_expires_after ("1w")         age at which messages are deleted; "never" keeps them
//   archive_cleanup_interval (14400 s)   how often expired messages are deleted

import { defineModule, type IqHandler, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { EventSpec } from "../../src/events/bus.js";
import type { ArchiveStore, Json } from "../../src/storage/types.js";
import { jidBare, jidHost, jidNode } from "../../src/util/jid.js";
import { Lru } from "../../src/util/lru.js";
import { generateId } from "../../src/storage/memory.js";
import { ELEMENT_JSON_VERSION, elementFromJson, upgradeElementJson } from "../../src/xml/json.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { queryPage, type ArchiveSource } from "../lib/mam/pager.js";
import {
  finElement,
  metadataElement,
  NS_MAM,
  NS_MAM_EXTENDED,
  NS_STANZA_ID,
  parseQuery,
  queryFormReply,
  resultMessage,
} from "../lib/mam/protocol.js";
import { archivedCopy, archiveValue, DEFAULT_ARCHIVE_STORE, shouldArchive, stanzaIdBy, withoutStanzaIdsBy, withStanzaId } from "./archiving.js";
import { ArchiveWriter } from "./writer.js";
import { allows, parsePrefs, policyOf, prefsElement, prefsFromJson, type ArchivePrefs, type Policy } from "./prefs.js";
import { NS_CHATSTATES, NS_CLIENT } from "../../src/xml/ns.js";

const DEFAULT_PAGE = 20;
const PREFS_CACHE = 10_000;

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const o = module.options;
    const storeName = o.string("archive_store", DEFAULT_ARCHIVE_STORE);
    await module.upgradeStore("archive", storeName, ELEMENT_JSON_VERSION, upgradeElementJson);
    const store = module.openArchive<Json>(storeName);
    const prefsStore = module.openKeyval<Json>("archive_prefs");
    const rawPolicy = o.raw("default_archive_policy");
    const globalPolicy: Policy = rawPolicy === undefined ? "always" : (policyOf(rawPolicy) ?? "always");
    if (rawPolicy !== undefined && policyOf(rawPolicy) === undefined) {
      module.log.warn(`default_archive_policy must be true, false or "roster"; using true`);
    }
    const smartEnable = o.boolean("mam_smart_enable", false);
    const maxResults = o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 });
    const dontArchive = o.set("dont_archive_namespaces", [NS_CHATSTATES]);
    const expiresAfter = o.period("archive_expires_after", 7 * 86400, { min: 1 });
    const includeTotal = o.boolean("mam_include_total", Number.isFinite(expiresAfter));
    const cleanupInterval = o.period("archive_cleanup_interval", 4 * 3600, { min: 0.05 });

    // XEP-0313 §6, XEP-0359 §4: on the account's disco#info.
    module.hook("account-disco-info", (ev) => {
      if (ev.node !== undefined) return undefined;
      for (const f of [NS_MAM, NS_MAM_EXTENDED, NS_STANZA_ID]) ev.reply.add(new Element("feature", { var: f }));
      return undefined;
    });

    // ---- preferences ----

    const cache = new Lru<string, ArchivePrefs | null>(PREFS_CACHE);
    const storedPrefs = async (username: string): Promise<ArchivePrefs | undefined> => {
      const hit = cache.lookup(username);
      if (hit) return hit.value ?? undefined;
      const prefs = prefsFromJson(await prefsStore.get(username));
      cache.set(username, prefs ?? null);
      return prefs;
    };
    const savePrefs = async (username: string, prefs: ArchivePrefs) => {
      await prefsStore.set(username, { default: prefs.default, always: prefs.always, never: prefs.never });
      cache.set(username, prefs);
    };
    /**
     * The account's preferences; `explicit`: a MAM client is asking (mam_smart_enable then turns
     * archiving on with the server's default, as Prosody does).
     */
    const prefsOf = async (username: string, explicit: boolean): Promise<ArchivePrefs> => {
      const stored = await storedPrefs(username);
      if (stored) return stored;
      const prefs: ArchivePrefs = { default: globalPolicy, always: [], never: [] };
      if (!smartEnable) return prefs;
      if (explicit) {
        await savePrefs(username, prefs);
        return prefs;
      }
      return { default: "never", always: [], never: [] };
    };
    module.hookGlobal("user-deleted", ({ host, username }) => {
      if (host === module.host) cache.delete(username);
    });

    // default_archive_policy "roster" (and "roster" preferences) ask mod_roster's service.
    const roster = await module.depends("roster");
    const inRoster = async (username: string, peer: string): Promise<boolean> => (await roster.contact(username, peer)) !== null;

    // ---- archiving ----

    const writer = new ArchiveWriter((user, err) =>
      module.log.error(`Archiving a message of ${user} failed: ${(err as Error)?.message ?? err}`),
    );
    module.onUnload(() => writer.flush());

    /**
     * Start archiving `stanza` for `username` (chatting with `peer`) once the preferences allow it:
     * the archive id and the write (true once written), or undefined when it is not archived.
     */
    const startArchive = async (username: string, peer: string, stanza: Element): Promise<{ id: string; written: Promise<boolean> } | undefined> => {
      if (!shouldArchive(stanza).archive) return undefined;
      const copy = archivedCopy(stanza, dontArchive);
      if (!copy) return undefined;
      if (!(await allows(await prefsOf(username, false), peer, () => inRoster(username, peer)))) return undefined;
      // Whole seconds, as the stamps clients see (Prosody's archive times are seconds too).
      const when = Math.floor(Date.now() / 1000) * 1000;
      const id = generateId();
      const value = archiveValue(copy);
      return { id, written: writer.write(username, () => store.append(username, value, { id, when, with: peer })) };
    };

    /** `archive-message-added` (Prosody's event): a handler's failure is logged by the bus and disturbs nothing else. */
    const announce = (added: ArchiveMessageAdded): Promise<void> =>
      module.fire("archive-message-added", added).then(
        () => undefined,
        () => undefined,
      );

    // A sent message's write into the sender's archive runs while the message goes on to its
    // recipient; whatever delivers it first waits for that write: the recipient's archive step when
    // the recipient is an account of a host of this server with mod_mam (both writes then share a
    // sync), this module before carbons copy it to the sender's other sessions, or before it leaves
    // for anywhere else. Keyed by the stanza the router hands on (shared by the hosts' instances).
    const inFlight = module.shared("sender-writes", () => ({ writes: new WeakMap<Element, Promise<boolean>>(), hosts: new Set<string>() }));
    inFlight.hosts.add(module.host);
    module.onUnload(() => void inFlight.hosts.delete(module.host));

    // What a local client sends.
    const outbound = async (ev: StanzaEvent) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined || origin.bareJid === undefined) return undefined;
      const own = origin.bareJid;
      ev.stanza = withoutStanzaIdsBy(ev.stanza, own);
      const to = ev.stanza.attrs.to;
      // To the own account: archived once, when it arrives.
      if (to === undefined || jidBare(to) === own) return undefined;
      const started = await startArchive(origin.username, jidBare(to), ev.stanza);
      if (started === undefined) return undefined;
      ev.stanza = withStanzaId(ev.stanza, own, started.id);
      inFlight.writes.set(ev.stanza, started.written);
      const added: ArchiveMessageAdded = { origin, username: origin.username, id: started.id, stanza: ev.stanza, incoming: false };
      void started.written.then((ok) => (ok ? announce(added) : undefined));
      return undefined;
    };
    /** Wait for the sender's write of this stanza; without it (it failed) the sender's stanza-id goes. */
    const senderWritten = async (ev: StanzaEvent, own: string) => {
      const written = inFlight.writes.get(ev.stanza);
      if (written === undefined) return;
      inFlight.writes.delete(ev.stanza);
      if (!(await written)) ev.stanza = withoutStanzaIdsBy(ev.stanza, own);
    };
    // Before carbons (-0.5) copies it to the sender's other sessions.
    const beforeCopies = async (ev: StanzaEvent) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined || origin.bareJid === undefined) return undefined;
      if (module.sessionsOf(origin.username).some((s) => s !== origin)) await senderWritten(ev, origin.bareJid);
      return undefined;
    };
    // The sender's stanza-id stays on this server (carbons of the sent message have it by now).
    const stripOutbound = async (ev: StanzaEvent) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.bareJid === undefined) return undefined;
      const written = inFlight.writes.get(ev.stanza);
      ev.stanza = withoutStanzaIdsBy(ev.stanza, origin.bareJid);
      if (written === undefined) return undefined;
      const to = ev.stanza.attrs.to!;
      if (jidNode(to) !== undefined && inFlight.hosts.has(jidHost(to))) inFlight.writes.set(ev.stanza, written);
      else await written;
      return undefined;
    };
    for (const t of ["bare", "full"] as const) {
      module.hook(`pre-message/${t}`, outbound, 0);
      module.hook(`pre-message/${t}`, beforeCopies, -0.25);
      module.hook(`pre-message/${t}`, stripOutbound, -1);
    }

    /**
     * A message this host hands on again after one of the account's sessions had it (stream
     * management's unacknowledged messages of a session that was not resumed, routed to the bare
     * JID) carries the <stanza-id/> this module gave it then. It goes on with that id and is not
     * archived a second time. Trusted only from this host itself (XEP-0359 §3: anything from a
     * client, a component or another server loses such ids) and only when the archive holds that id.
     */
    const archivedBefore = async (ev: StanzaEvent, username: string, ownBare: string): Promise<boolean> => {
      const origin = ev.origin;
      if (origin.type !== "local" || !("host" in origin) || origin.host !== module.host) return false;
      const id = stanzaIdBy(ev.stanza, ownBare);
      if (id === undefined) return false;
      await writer.settled(username);
      return (await store.get(username, id)) !== undefined;
    };

    // What arrives for an account of this host: archived (together with the sender's write of a
    // message sent from here) before anything delivers it.
    const inbound = async (ev: StanzaEvent) => {
      const senderWrite = inFlight.writes.get(ev.stanza);
      if (senderWrite !== undefined) inFlight.writes.delete(ev.stanza);
      try {
        const to = ev.stanza.attrs.to ?? (isClientSession(ev.origin) ? ev.origin.bareJid : undefined);
        if (to === undefined) return undefined;
        const username = jidNode(to);
        if (username === undefined) return undefined;
        const ownBare = jidBare(to);
        // Archived already, on its way to one of the account's sessions: goes on as it is.
        if (await archivedBefore(ev, username, ownBare)) return undefined;
        ev.stanza = withoutStanzaIdsBy(ev.stanza, ownBare);
        if (!shouldArchive(ev.stanza).archive || !(await module.accounts.exists(username))) return undefined;
        const from = ev.stanza.attrs.from;
        const started = await startArchive(username, from === undefined ? ownBare : jidBare(from), ev.stanza);
        if (started !== undefined && (await started.written)) {
          ev.stanza = withStanzaId(ev.stanza, ownBare, started.id);
          // Before anything delivers it: a handler sees the account's sessions as delivery will.
          await announce({ origin: ev.origin, username, id: started.id, stanza: ev.stanza, incoming: true });
        }
        return undefined;
      } finally {
        await senderWrite;
      }
    };
    module.hook("message/bare", inbound, 0);
    module.hook("message/full", inbound, 0);

    // ---- preferences protocol (§5.1) ----

    const prefsHandler: IqHandler = async (ev) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined) return undefined;
      const username = origin.username;
      let prefs = await prefsOf(username, true);
      if (ev.stanza.attrs.type === "set") {
        const parsed = parsePrefs(ev.payload, prefs);
        if (!parsed.ok) return new StanzaError("modify", "bad-request", parsed.text);
        await savePrefs(username, parsed.prefs);
        prefs = parsed.prefs;
      }
      return prefsElement(prefs);
    };
    module.iq.get(NS_MAM, "prefs", prefsHandler, { to: "self" });
    module.iq.set(NS_MAM, "prefs", prefsHandler, { to: "self" });

    // ---- queries (§4) ----

    const queryForm: IqHandler = async (ev) => {
      if (!isClientSession(ev.origin) || ev.origin.username === undefined) return undefined;
      await prefsOf(ev.origin.username, true);
      return queryFormReply();
    };
    module.iq.get(NS_MAM, "query", queryForm, { to: "self" });

    const query: IqHandler = async (ev) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined || origin.fullJid === undefined) return undefined;
      const username = origin.username;
      const parsed = parseQuery(ev.payload);
      if (!parsed.ok) return new StanzaError("modify", "bad-request", parsed.text);
      const q = parsed.query;
      // An account's archive has no nodes: a node query is for a PEP node (mod_pep answers those
      // before this handler runs) or for the pubsub service.
      if (q.node !== undefined) return new StanzaError("cancel", "item-not-found", "This archive has no nodes");
      await prefsOf(username, true);
      await writer.settled(username);
      const limit = Math.min(q.max ?? DEFAULT_PAGE, maxResults);
      const page = await queryPage(userSource(store, username), q, { limit, includeTotal });
      if (!page.ok) return new StanzaError("cancel", "item-not-found", page.text);
      const own = jidBare(origin.fullJid);
      const results = q.flip ? [...page.items].reverse() : page.items;
      // XEP-0313 §4.2: the results, then the iq's result with <fin/>.
      for (const item of results) {
        const msg = elementFromJson(item.value);
        if (!msg) {
          module.log.warn(`Skipping an unreadable archived message ${item.id} of ${username}`);
          continue;
        }
        msg.attrs.xmlns = NS_CLIENT;
        origin.send(resultMessage(origin.fullJid, own, q.queryid, item.id, item.when, msg));
      }
      return finElement(q.queryid, page.info);
    };
    module.iq.set(NS_MAM, "query", query, { to: "self" });

    // §7 (extended): the first and last archived messages.
    const metadata: IqHandler = async (ev) => {
      if (!isClientSession(ev.origin) || ev.origin.username === undefined) return undefined;
      const username = ev.origin.username;
      await writer.settled(username);
      const [first] = await store.find(username, { limit: 1 });
      const [last] = await store.find(username, { limit: 1, reverse: true });
      return metadataElement(first, last);
    };
    module.iq.get(NS_MAM, "metadata", metadata, { to: "self" });

    // ---- expiry ----

    if (Number.isFinite(expiresAfter)) {
      const interval = cleanupInterval * 1000;
      module.addTimer(Math.min(interval, 5000), async () => {
        await expire(module, store, Date.now() - expiresAfter * 1000);
        return interval;
      });
    }
  },
});

/** Data of `archive-message-added`. */
export interface ArchiveMessageAdded {
  /** Where the message came from (the sender's session for a sent message). */
  origin: StanzaEvent["origin"];
  /** The account whose archive it is in. */
  username: string;
  /** Its archive id (the <stanza-id/> it carries on). */
  id: string;
  /** The message as it goes on, with that <stanza-id/>. */
  stanza: Element;
  /** true: a message for the account; false: one the account sent. */
  incoming: boolean;
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    /**
     * A message is written (synced) into an account's archive (Prosody's event name). For a message
     * to the account, fired before anything delivers it.
     */
    "archive-message-added": EventSpec<ArchiveMessageAdded, never>;
  }
}

/** A user's archive as the pager sees it. */
function userSource(store: ArchiveStore<Json>, username: string): ArchiveSource<Json> {
  return {
    find: (q) => store.find(username, q),
    get: (id) => store.get(username, id),
    count: (q) => store.count(username, q),
  };
}

/** Delete messages archived before `cutoff` (ms), every account. */
async function expire(module: ModuleApi, store: ArchiveStore<Json>, cutoff: number): Promise<void> {
  let deleted = 0;
  let users = 0;
  for (const user of await store.users()) {
    const n = await store.delete(user, { end: cutoff - 1 });
    if (n > 0) {
      deleted += n;
      users++;
    }
  }
  if (deleted > 0) module.log.info(`Deleted ${deleted} expired archived messages of ${users} accounts`);
}

