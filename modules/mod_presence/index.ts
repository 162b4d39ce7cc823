// mod_presence: presence (RFC 6121 §4) and presence subscriptions (§3), with pre-approval (§3.4).
//
// What it keeps on each session (its SessionSlot "presence", ./presence.ts): the last available
// presence the client broadcast (`from` = its full JID, no `to`; undefined while unavailable) and
// its priority (§4.7.2.3). Only this module reads and writes it; other modules ask the "presence"
// service it provides (../lib/im/presence.ts: current, priority, availableSessions, available), with
// `module.depends("presence")` on the host or `module.serviceOn(host, "presence")` from a component
// (pubsub's presence access model and presence-based delivery).
// It uses mod_roster's "roster" service (loaded with `module.depends("roster")`) for subscriptions.
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

import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { jidBare, jidNode } from "../../src/util/jid.js";
import { Lru } from "../../src/util/lru.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import type { PresenceService } from "../lib/im/presence.js";
import { NS_PREAPPROVAL, contactSeesUser } from "../lib/roster/roster.js";
import { Broadcaster } from "./broadcast.js";
import { SUBSCRIPTION_TYPES, availableResources, currentPresence, newSessionPresence, presenceSlot, trackDirected } from "./presence.js";
import { answerProbe, answerServerPresence, cancelSubscriptionsOf, handleInbound, handleOutbound, handleSelfSubscription, type PresenceContext } from "./subscriptions.js";

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const burst = module.options.integer("presence_broadcast_burst", 20, { min: 1, max: 100000 });
    const ratePerSecond = module.options.number("presence_broadcast_rate", 2, { min: 0.01, max: 100000 });
    const maxDirected = module.options.integer("max_directed_presences", 1000, { min: 1, max: 1_000_000 });
    const ctx: PresenceContext = {
      module,
      roster: await module.depends("roster"),
      state: (session) => presenceSlot.ensure(session, () => newSessionPresence(burst, ratePerSecond)),
      lastUnavailable: new Lru<string, { stanza: Element; when: number }>(10000),
      maxPending: module.options.integer("max_pending_subscriptions", 1000, { min: 1, max: 1_000_000 }),
      maxItems: module.options.integer("roster_max_items", 1000, { min: 1, max: 1_000_000 }),
    };
    const broadcaster = new Broadcaster(ctx);
    const goneUnavailable = (session: ClientSession) =>
      broadcaster.serial(session, () => broadcaster.unavailable(session, new Element("presence", { type: "unavailable" }), false));
    module.provides("presence", presenceService(module));

    // RFC 6121 §3.4.1: pre-approvals are supported (announced once authenticated).
    module.hook("stream-features", (ev) => {
      if (ev.state === "authenticated") ev.features.add(new Element("sub", { xmlns: NS_PREAPPROVAL }));
    });
    // Stanzas from our clients with a `to`: subscriptions (§3) and directed presence (§4.6).
    for (const t of ["bare", "full", "host"] as const) module.hook(`pre-presence/${t}`, (ev) => outbound(ctx, maxDirected, ev));
    // Broadcast presence from our clients, and presence for our users' bare JIDs.
    module.hook("presence/bare", (ev) => toBareJid(ctx, broadcaster, ev));
    module.hook("presence/full", (ev) => toFullJid(ctx, ev));
    module.hook("presence/host", async (ev) => {
      await answerServerPresence(ctx, ev.stanza);
      return true;
    });
    // A session ended (also a dropped connection): unavailable for everyone who saw it (§4.5.2).
    module.hook("resource-unbind", async ({ session }) => {
      if (session.username) await goneUnavailable(session);
    });
    // The admin shell's status column (c2s:show()): the <show/> of an available session.
    module.hook("session-status", ({ session }) => {
      const current = presenceSlot.get(session)?.current;
      return current === undefined ? undefined : (current.getChildText("show") ?? "online");
    });
    // Account deleted (its data already purged): tell the contacts we still know of, then forget.
    module.hookGlobal(
      "user-deleted",
      async ({ host, username }) => {
        if (host !== module.host) return;
        for (const s of module.sessionsOf(username)) await goneUnavailable(s);
        await cancelSubscriptionsOf(ctx, username);
      },
      10,
    );
  },
});

/** The "presence" service: who is available, at which priority, with which presence. */
function presenceService(module: ModuleApi): PresenceService {
  return {
    current: (session) => presenceSlot.get(session)?.current,
    priority: (session) => {
      const st = presenceSlot.get(session);
      return st?.current === undefined ? undefined : st.priority;
    },
    availableSessions: (username) => module.sessionsOf(username).filter((s) => currentPresence(s) !== undefined),
    available: (username) => availableResources(module.sessionsOf(username)),
  };
}

/** Presence with a `to` from one of our clients: subscriptions (§3) and directed presence (§4.6). */
async function outbound(ctx: PresenceContext, maxDirected: number, ev: StanzaEvent): Promise<true | StanzaError | undefined> {
  if (!isClientSession(ev.origin) || !ev.origin.username) return undefined;
  const session = ev.origin;
  const { stanza } = ev;
  const { type, to } = stanza.attrs;
  if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
    const contact = to === undefined ? session.bareJid! : jidBare(to);
    if (contact === session.bareJid) await handleSelfSubscription(ctx, session, type);
    else await handleOutbound(ctx, session, stanza, contact);
    return true;
  }
  if (to === undefined) return undefined; // broadcast presence: presence/bare
  if ((type === undefined || type === "unavailable") && jidBare(to) !== session.bareJid) {
    // §4.6.1: presence to an entity that does not see the user is tracked for §4.6.3.
    const item = await ctx.roster.item(session.username!, jidBare(to));
    if (!contactSeesUser(item?.subscription) && trackDirected(ctx.state(session).directed, to, type, maxDirected) === "refused") {
      // RFC 6121 §4.6.3 cannot be kept for more: refuse rather than send untracked.
      return new StanzaError("modify", "policy-violation", `Directed presence is limited to ${maxDirected} recipients per session`);
    }
  }
  return undefined; // routed as usual
}

/** A presence error: the sender is left out of later broadcasts of this session (§4.4.2). */
function noteError(ctx: PresenceContext, username: string, stanza: Element, resource?: string): void {
  const from = stanza.attrs.from;
  if (from === undefined) return;
  for (const s of ctx.module.sessionsOf(username)) if (resource === undefined || s.resource === resource) ctx.state(s).errored.add(jidBare(from));
}

async function toBareJid(ctx: PresenceContext, broadcaster: Broadcaster, ev: StanzaEvent): Promise<true> {
  const { stanza, origin } = ev;
  const { to, type } = stanza.attrs;
  if (to === undefined) {
    // §4.2, §4.4, §4.5: a client's broadcast presence.
    if (!isClientSession(origin) || !origin.fullJid) return true;
    if (type === undefined) await broadcaster.serial(origin, () => broadcaster.available(origin, stanza));
    else if (type === "unavailable") await broadcaster.serial(origin, () => broadcaster.unavailable(origin, stanza, true));
    return true;
  }
  const username = jidNode(to)!;
  if (type === "probe") await answerProbe(ctx, username, stanza);
  else if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) await handleInbound(ctx, username, stanza);
  else {
    // RFC 6121 §8.5.2.1.1: to every available resource; none: silently dropped.
    if (type === "error") noteError(ctx, username, stanza);
    for (const s of ctx.module.sessionsOf(username)) if (currentPresence(s) !== undefined) s.send(stanza);
  }
  return true;
}

async function toFullJid(ctx: PresenceContext, ev: StanzaEvent): Promise<true | undefined> {
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
  if (type === "error") noteError(ctx, username, stanza, to.slice(to.indexOf("/") + 1));
  return undefined; // delivered to the resource by the core (or dropped, §8.5.3.2.3)
}
