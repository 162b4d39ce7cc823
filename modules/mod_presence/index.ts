// mod_presence: presence (RFC 6121 §4) and presence subscriptions (§3), with pre-approval (§3.4).
//
// What it keeps on each ClientSession: `presence` (the last available presence the client
// broadcast, `from` = its full JID, no `to`; undefined while unavailable) and `priority`
// (§4.7.2.3). mod_message and others read them; only this module writes them.
//
// Contract for other modules (events on the user's host bus):
//
//   "presence-get-available"  data { username: string }
//        → { resources: Array<{ jid: string; priority: number; show: Show; presence: Element }> }
//          (available resources only; `show` is the <show/> value, "online" when none). `presence`
//          IS session.presence, not a copy (pubsub asks this per subscriber during fan-out):
//          callers must not mutate it (clone it first, or readdress it, to send or change it).
//
// Fired here on the host bus:
//   "presence-available"   { session: ClientSession; stanza: Element; initial: boolean }
//        after a broadcast of available presence went out (initial: the session's first one, after
//        the probes and the pending subscription requests; offline delivery and PEP hook this).
//        A broadcast held back by the flood policy fires when it finally goes out.
//   "presence-unavailable" { session: ClientSession; stanza: Element }
//        after the unavailable broadcast of a session that was available (also when it ends).
//
// A module that must act before the presence echo (PEP's caps disco) hooks "presence/bare" at a
// priority above 0 and returns undefined; a client's broadcast presence has no `to` there.
//
// Options: presence_broadcast_burst (20) and presence_broadcast_rate (2 per second): beyond that,
// updates from one session are coalesced (the sender still sees each echo; contacts get the latest
// when the rate allows). max_pending_subscriptions (1000) per user; roster_max_items (1000, shared
// with mod_roster) also limits the items that subscribe/subscribed stanzas create.
// max_directed_presences (1000) per session: RFC 6121 §4.6.3 has the server remember every JID a
// session sent directed available presence to (so it can send them unavailable later); beyond that
// many, further directed available presence to new JIDs is refused with a policy-violation error
// (type modify) rather than sent untracked, since an untracked recipient would keep showing the
// user as available forever. Updates to JIDs already tracked, and directed unavailable presence
// (which frees a slot), always go through.

import { defineModule } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { jidBare, jidNode } from "../../src/util/jid.js";
import { Lru } from "../../src/util/lru.js";
import { Element, errorReply } from "../../src/xml/stanza.js";
import { rosterManager } from "../mod_roster/manager.js";
import { NS_PREAPPROVAL, contactSeesUser, userSeesContact } from "../mod_roster/roster.js";
import { SUBSCRIPTION_TYPES, newSessionPresence, parsePriority, parseShow, readdress, withDelay, type AvailableResource, type SessionPresence } from "./presence.js";
import { answerProbe, handleInbound, handleOutbound, handleSelfSubscription, type PresenceContext } from "./subscriptions.js";
import type { EventSpec } from "../../src/events/bus.js";

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const roster = rosterManager(module);
    const burst = module.options.integer("presence_broadcast_burst", 20, { min: 1, max: 100000 });
    const ratePerSecond = module.options.number("presence_broadcast_rate", 2, { min: 0.01, max: 100000 });
    const maxDirected = module.options.integer("max_directed_presences", 1000, { min: 1, max: 1_000_000 });
    const lastUnavailable = new Lru<string, { stanza: Element; when: number }>(10000);
    /** Broadcasts of a session run one after another (handlers and deferred flushes alike). */
    const sessionLock = new KeyedLock<ClientSession>();
    const timers = new Set<NodeJS.Timeout>();
    module.onUnload(() => {
      for (const t of timers) clearTimeout(t);
    });

    // RFC 6121 §3.4.1: pre-approvals are supported (announced once authenticated).
    module.hook("stream-features", (ev) => {
      if (ev.state === "authenticated") ev.features.add(new Element("sub", { xmlns: NS_PREAPPROVAL }));
    });

    const state = (session: ClientSession): SessionPresence => {
      let st = session.data.get("presence") as SessionPresence | undefined;
      if (!st) {
        st = newSessionPresence(burst, ratePerSecond);
        session.data.set("presence", st);
      }
      return st;
    };

    const ctx: PresenceContext = {
      module,
      roster,
      state,
      lastUnavailable,
      maxPending: module.options.integer("max_pending_subscriptions", 1000, { min: 1, max: 1_000_000 }),
      maxItems: module.options.integer("roster_max_items", 1000, { min: 1, max: 1_000_000 }),
    };

    /** Run a session's broadcasts one after another (handlers and deferred flushes alike). */
    const serial = (session: ClientSession, fn: () => Promise<void>): Promise<void> =>
      sessionLock.run(session, fn).catch((err: unknown) => module.log.error(`presence of ${session.fullJid}: ${(err as Error)?.stack ?? err}`));

    const otherAvailable = (session: ClientSession) =>
      module.sessionsOf(session.username!).filter((s) => s !== session && s.presence !== undefined && !s.closed);

    /** Contacts that see the user (subscription from/both), minus those that answered with errors. */
    const audience = async (session: ClientSession): Promise<string[]> => {
      const st = state(session);
      const r = await roster.roster(session.username!);
      const out: string[] = [];
      for (const [jid, item] of r.items) if (contactSeesUser(item.subscription) && !st.errored.has(jid)) out.push(jid);
      return out;
    };

    /** RFC 6121 §4.2.2, §4.4.2: to the user's other available resources and to its contacts. */
    const broadcast = async (session: ClientSession, stanza: Element, others: ClientSession[]) => {
      for (const s of others) await module.post(readdress(stanza, session.fullJid!, s.fullJid!));
      for (const jid of await audience(session)) await module.post(readdress(stanza, session.fullJid!, jid));
    };

    const broadcastAvailable = async (session: ClientSession, initial: boolean) => {
      const stanza = session.presence;
      if (!stanza) return;
      await broadcast(session, stanza, otherAvailable(session));
      if (initial) {
        // §4.2.2: probe the contacts the user sees...
        const r = await roster.roster(session.username!);
        for (const [jid, item] of r.items) {
          if (userSeesContact(item.subscription)) await module.post(new Element("presence", { type: "probe", from: session.fullJid!, to: jid }));
        }
        // ...give the new resource the presence of the user's other resources...
        for (const s of otherAvailable(session)) {
          await module.post(withDelay(readdress(s.presence!, s.fullJid!, session.fullJid!), state(s).receivedAt, module.host));
        }
        // ...and the subscription requests still waiting for an answer (§3.1.3).
        for (const req of await roster.pendingRequests(session.username!)) session.send(req);
      }
      await module.fire("presence-available", { session, stanza, initial });
    };

    const scheduleFlush = (session: ClientSession) => {
      const st = state(session);
      if (st.timer) return;
      const t = setTimeout(() => {
        timers.delete(t);
        st.timer = undefined;
        void serial(session, async () => {
          if (!st.deferred || !session.presence || session.closed) return;
          if (!st.bucket.take()) return scheduleFlush(session);
          st.deferred = false;
          await broadcastAvailable(session, false);
        });
      }, Math.max(10, st.bucket.wait()));
      t.unref?.();
      timers.add(t);
      st.timer = t;
    };

    const cancelFlush = (st: SessionPresence) => {
      st.deferred = false;
      if (st.timer) {
        clearTimeout(st.timer);
        timers.delete(st.timer);
        st.timer = undefined;
      }
    };

    /** A client's presence with no `to` and no type: available (initial or update). */
    const onAvailable = async (session: ClientSession, stanza: Element) => {
      const st = state(session);
      const initial = session.presence === undefined;
      const stored = readdress(stanza, session.fullJid!, undefined);
      session.presence = stored;
      session.priority = parsePriority(stanza);
      st.receivedAt = Date.now();
      // §4.2.2, §4.4.2: the sender's own resource gets it too.
      session.send(readdress(stored, session.fullJid!, session.fullJid!));
      if (!st.bucket.take() && !initial) {
        st.deferred = true; // held back: contacts get the latest when the rate allows
        scheduleFlush(session);
        return;
      }
      st.deferred = false;
      await broadcastAvailable(session, initial);
    };

    /** Unavailable, sent by the client (`reflect`) or because the session ended. */
    const goUnavailable = async (session: ClientSession, stanza: Element, reflect: boolean) => {
      const st = state(session);
      cancelFlush(st);
      const out = readdress(stanza, session.fullJid!, undefined);
      const wasAvailable = session.presence !== undefined;
      const covered = new Set<string>();
      if (wasAvailable) {
        session.presence = undefined;
        session.priority = 0;
        if (reflect && !session.closed) session.send(readdress(out, session.fullJid!, session.fullJid!));
        const others = module.sessionsOf(session.username!).filter((s) => s !== session && s.presence !== undefined && !s.closed);
        for (const s of others) covered.add(s.fullJid!);
        const contacts = await audience(session);
        for (const jid of contacts) covered.add(jid);
        await broadcast(session, out, others);
        if (others.length === 0) lastUnavailable.set(session.username!, { stanza: out, when: Date.now() });
      }
      // §4.6.3: and to everyone that got directed presence from this resource.
      for (const jid of st.directed) {
        if (covered.has(jid) || covered.has(jidBare(jid))) continue;
        await module.post(readdress(out, session.fullJid!, jid));
      }
      st.directed.clear();
      if (wasAvailable) await module.fire("presence-unavailable", { session, stanza: out });
    };

    // ---- stanzas from our clients ----

    // Outbound presence with a `to`: subscriptions (§3) and directed presence (§4.6).
    const outbound = async (ev: StanzaEvent) => {
      if (!isClientSession(ev.origin) || !ev.origin.username) return undefined;
      const session = ev.origin;
      const stanza = ev.stanza;
      const type = stanza.attrs.type;
      const to = stanza.attrs.to;
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
        const contact = to === undefined ? session.bareJid! : jidBare(to);
        if (contact === session.bareJid) await handleSelfSubscription(ctx, session, type);
        else await handleOutbound(ctx, session, stanza, contact);
        return true;
      }
      if (to === undefined) return undefined; // broadcast presence: presence/bare below
      if (type === undefined || type === "unavailable") {
        const bare = jidBare(to);
        if (bare !== session.bareJid) {
          const item = await roster.item(session.username!, bare);
          // §4.6.1: presence to an entity that does not see the user is tracked for §4.6.3.
          if (!contactSeesUser(item?.subscription)) {
            const directed = state(session).directed;
            if (type === "unavailable") directed.delete(to);
            else if (!directed.has(to)) {
              if (directed.size >= maxDirected) {
                // RFC 6121 §4.6.3 cannot be kept for more: refuse rather than send untracked.
                return module.reply(
                  ev,
                  errorReply(stanza, "modify", "policy-violation", `Directed presence is limited to ${maxDirected} recipients per session`),
                );
              }
              directed.add(to);
            }
          }
        }
      }
      return undefined; // routed as usual
    };
    for (const t of ["bare", "full", "host"] as const) module.hook(`pre-presence/${t}`, outbound);

    // ---- stanzas for our users ----

    /** A presence error: the sender is left out of later broadcasts of this session (§4.4.2). */
    const noteError = (username: string, stanza: Element, resource?: string) => {
      const from = stanza.attrs.from;
      if (from === undefined) return;
      for (const s of module.sessionsOf(username)) if (resource === undefined || s.resource === resource) state(s).errored.add(jidBare(from));
    };

    module.hook("presence/bare", async (ev) => {
      const { stanza, origin } = ev;
      const to = stanza.attrs.to;
      const type = stanza.attrs.type;
      if (to === undefined) {
        // §4.2, §4.4, §4.5: a client's broadcast presence.
        if (!isClientSession(origin) || !origin.fullJid) return true;
        if (type === undefined) await serial(origin, () => onAvailable(origin, stanza));
        else if (type === "unavailable") await serial(origin, () => goUnavailable(origin, stanza, true));
        return true;
      }
      const username = jidNode(to)!;
      if (type === "probe") await answerProbe(ctx, username, stanza);
      else if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) await handleInbound(ctx, username, stanza);
      else {
        // RFC 6121 §8.5.2.1.1: to every available resource; none: silently dropped.
        if (type === "error") noteError(username, stanza);
        for (const s of module.sessionsOf(username)) if (s.presence !== undefined && !s.closed) s.send(stanza);
      }
      return true;
    });

    module.hook("presence/full", async (ev) => {
      const { stanza } = ev;
      const to = stanza.attrs.to!;
      const type = stanza.attrs.type;
      const username = jidNode(to)!;
      // RFC 6121 §8.5.3.1: subscription stanzas and probes are handled for the account.
      if (type === "probe") {
        await answerProbe(ctx, username, stanza);
        return true;
      }
      if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
        await handleInbound(ctx, username, stanza);
        return true;
      }
      if (type === "error") noteError(username, stanza, to.slice(to.indexOf("/") + 1));
      return undefined; // delivered to the resource by the core (or dropped, §8.5.3.2.3)
    });

    // Presence for the server itself: it is "available" to anyone who asks.
    module.hook("presence/host", async (ev) => {
      const { stanza } = ev;
      const from = stanza.attrs.from;
      if (from === undefined || stanza.attrs.to === undefined) return true;
      const to = jidBare(from);
      if (stanza.attrs.type === "probe") {
        await module.post(new Element("presence", { from: module.host, to }));
      } else if (stanza.attrs.type === "subscribe") {
        await module.post(new Element("presence", { type: "subscribed", from: module.host, to }));
        await module.post(new Element("presence", { from: module.host, to }));
      }
      return true;
    });

    // A session ended (also a dropped connection): unavailable for everyone who saw it (§4.5.2).
    module.hook("resource-unbind", async ({ session }) => {
      if (!session.username) return;
      await serial(session, () => goUnavailable(session, new Element("presence", { type: "unavailable" }), false));
    });

    // ---- the query API for other modules ----

    module.hook("presence-get-available", ({ username }): { resources: AvailableResource[] } => {
      const resources = module
        .sessionsOf(username)
        .filter((s) => s.presence !== undefined && !s.closed)
        .map((s) => ({ jid: s.fullJid!, priority: s.priority, show: parseShow(s.presence!), presence: s.presence! }));
      return { resources };
    });

    // Account deleted (its data already purged): tell the contacts we still know of, then forget.
    module.hookGlobal(
      "user-deleted",
      async ({ host, username }) => {
        if (host !== module.host) return;
        for (const s of module.sessionsOf(username)) {
          await serial(s, () => goUnavailable(s, new Element("presence", { type: "unavailable" }), false));
        }
        const bare = `${username}@${module.host}`;
        const r = await roster.roster(username);
        for (const [jid, item] of r.items) {
          if (contactSeesUser(item.subscription)) await module.post(new Element("presence", { type: "unsubscribed", from: bare, to: jid }));
          if (userSeesContact(item.subscription) || item.ask) await module.post(new Element("presence", { type: "unsubscribe", from: bare, to: jid }));
        }
        for (const jid of r.pending.keys()) await module.post(new Element("presence", { type: "unsubscribed", from: bare, to: jid }));
        roster.forget(username);
      },
      10,
    );
  },
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** A session sent available presence (initial: its first). */
    "presence-available": EventSpec<{ session: ClientSession; stanza: Element; initial: boolean }, never>;
    /** A session that was available became unavailable. */
    "presence-unavailable": EventSpec<{ session: ClientSession; stanza: Element }, never>;
    /** The account's available resources. */
    "presence-get-available": EventSpec<{ username: string }, { resources: AvailableResource[] }>;
  }
}
