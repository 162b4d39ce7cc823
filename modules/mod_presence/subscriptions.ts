// Presence subscriptions (RFC 6121 §3) and probes (§4.3): what the user's server does with the
// subscription stanzas a client sends (outbound) and with those addressed to its users (inbound).
// The state machine itself is in ../lib/roster/subscription.ts; the rosters are mod_roster's "roster"
// service.

import type { ModuleApi } from "../../src/modules/api.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { jidBare, jidNode } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { contactSeesUser, userSeesContact } from "../lib/roster/roster.js";
import type { RosterService } from "../lib/roster/service.js";
import type { SubscriptionEvent, Transition } from "../lib/roster/subscription.js";
import { currentPresence, readdress, withDelay, type SessionPresence } from "./presence.js";

export interface PresenceContext {
  module: ModuleApi;
  roster: RosterService;
  state(session: ClientSession): SessionPresence;
  /** The last unavailable presence of users with no available resource (for probe answers). */
  lastUnavailable: {
    get(username: string): { stanza: Element; when: number } | undefined;
    set(username: string, last: { stanza: Element; when: number }): void;
  };
  /** At most this many unanswered subscription requests are kept per user. */
  maxPending: number;
  /** Roster size limit (roster_max_items, as for roster sets). */
  maxItems: number;
}

function presence(attrs: Record<string, string>): Element {
  return new Element("presence", attrs);
}

function available(ctx: PresenceContext, username: string): ClientSession[] {
  return ctx.module.sessionsOf(username).filter((s) => currentPresence(s) !== undefined);
}

/**
 * Send the stored presence of each available resource of `username` to `to` (RFC 6121 §3.1.5,
 * §4.3.2). With none available and `unavailableIfNone`, an unavailable presence instead. Returns
 * how many resources were available.
 */
export async function sendAvailableResources(ctx: PresenceContext, username: string, to: string, unavailableIfNone: boolean): Promise<number> {
  const sessions = available(ctx, username);
  for (const s of sessions) {
    const st = ctx.state(s);
    await ctx.module.post(withDelay(readdress(st.current!, s.fullJid!, to), st.receivedAt, ctx.module.host));
  }
  if (sessions.length === 0 && unavailableIfNone) {
    const bare = `${username}@${ctx.module.host}`;
    const last = ctx.lastUnavailable.get(username);
    // §4.3.2: the last unavailable presence received from the contact, or a plain one.
    const stanza = last ? withDelay(readdress(last.stanza, bare, to), last.when, ctx.module.host) : presence({ type: "unavailable", from: bare, to });
    await ctx.module.post(stanza);
  }
  return sessions.length;
}

/** Unavailable presence from each available resource of `username` to `to` (§3.2.2, §3.3.3). */
async function sendUnavailableResources(ctx: PresenceContext, username: string, to: string): Promise<void> {
  for (const s of available(ctx, username)) {
    await ctx.module.post(presence({ type: "unavailable", from: s.fullJid!, to }));
  }
}

/** Deliver an inbound subscription stanza to the user's interested resources (§3.1.6, §3.2.3, §3.3.3). */
function deliverToInterested(ctx: PresenceContext, username: string, stanza: Element): void {
  for (const s of ctx.roster.interested(username)) s.send(stanza);
}

/** A subscription stanza a client sent to its own account: the user always sees its own presence. */
export async function handleSelfSubscription(ctx: PresenceContext, session: ClientSession, type: string): Promise<void> {
  // Nothing is stored: the user's own bare JID is never a roster item. A request is answered as
  // §3.1.3 answers one from an entity that is already subscribed; the other types change nothing.
  if (type === "subscribe") session.send(presence({ type: "subscribed", from: session.bareJid!, to: session.fullJid! }));
}

/** RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2: a subscription stanza from one of our clients. */
export async function handleOutbound(ctx: PresenceContext, session: ClientSession, stanza: Element, contact: string): Promise<void> {
  const username = session.username!;
  const userBare = session.bareJid!;
  const type = stanza.attrs.type!;
  // §3.1.2: stamped with the user's bare JID, addressed to the contact's bare JID; children kept.
  const routed = readdress(stanza, userBare, contact);
  if (type === "subscribe" || type === "subscribed") {
    // These may add an item: the roster size limit applies as it does to roster sets.
    const st = await ctx.roster.roster(username);
    if (!st.items.has(contact) && st.items.size >= ctx.maxItems) {
      throw new StanzaError("cancel", "not-allowed", `A roster holds at most ${ctx.maxItems} items`);
    }
  }
  const r = await ctx.roster.applySubscription(username, contact, `out-${type}` as SubscriptionEvent);
  if (!r.forward) return;
  switch (type) {
    case "subscribe":
    case "unsubscribe":
      await ctx.module.post(routed);
      return;
    case "subscribed":
      await ctx.module.post(routed);
      // §3.1.5: the contact now sees the user: the presence of each available resource.
      await sendAvailableResources(ctx, username, contact, false);
      // COMPAT: Prosody probes the contact once the subscription is mutual, so the user gets the
      // contact's presence at once (its scansion tests expect this presence).
      if (userSeesContact(r.next.subscription)) {
        await ctx.module.post(presence({ type: "probe", from: userBare, to: contact }));
      }
      return;
    case "unsubscribed":
      // §3.2.2: while the contact is still subscribed, unavailable from every available resource.
      if (contactSeesUser(r.before.subscription)) await sendUnavailableResources(ctx, username, contact);
      await ctx.module.post(routed);
      return;
  }
}

/** RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3: a subscription stanza for one of our users. */
export async function handleInbound(ctx: PresenceContext, username: string, stanza: Element): Promise<void> {
  const type = stanza.attrs.type!;
  const contact = jidBare(stanza.attrs.from ?? "");
  if (contact === "" || jidNode(stanza.attrs.to ?? "") === undefined) return;
  const userBare = `${username}@${ctx.module.host}`;
  if (contact === userBare) return; // the user's own stanzas never change its roster
  if (!(await ctx.module.accounts.exists(username))) {
    // §3.1.3: a request for an account that does not exist is answered "unsubscribed".
    if (type === "subscribe") await ctx.module.post(presence({ type: "unsubscribed", from: userBare, to: contact }));
    return;
  }
  const delivered = readdress(stanza, contact, userBare);
  if (type === "subscribe") {
    const r = await ctx.roster.applySubscription(username, contact, "in-subscribe", { request: delivered, maxPending: ctx.maxPending });
    if (r.autoApprove) {
      // §3.1.3 (already subscribed) and §3.4.2 (pre-approved): approve on the user's behalf.
      await ctx.module.post(presence({ type: "subscribed", from: userBare, to: contact }));
      await sendAvailableResources(ctx, username, contact, true);
      return;
    }
    // COMPAT: Prosody acknowledges a request it keeps with an unavailable presence from the user's
    // bare JID; its scansion tests expect it.
    await ctx.module.post(presence({ type: "unavailable", from: userBare, to: contact }));
    if (r.forward) {
      // §3.1.3: to the available resources now; the others get it at their next initial presence.
      for (const s of available(ctx, username)) s.send(delivered);
    }
    return;
  }
  const deliver = (t: Transition) => {
    if (t.forward) deliverToInterested(ctx, username, delivered);
  };
  // §3.1.6, §3.2.3, §3.3.3: delivered to the interested resources before the roster push.
  const r = await ctx.roster.applySubscription(username, contact, `in-${type}` as SubscriptionEvent, { beforePush: deliver });
  if (type === "unsubscribe" && contactSeesUser(r.before.subscription) && !contactSeesUser(r.next.subscription)) {
    // §3.3.3: the contact no longer sees the user.
    await sendUnavailableResources(ctx, username, contact);
  }
}

/** RFC 6121 §4.3.2: a presence probe for one of our users. */
export async function answerProbe(ctx: PresenceContext, username: string, probe: Element): Promise<void> {
  const requester = probe.attrs.from;
  if (requester === undefined) return;
  const requesterBare = jidBare(requester);
  const userBare = `${username}@${ctx.module.host}`;
  let allowed = requesterBare === userBare;
  if (!allowed && (await ctx.module.accounts.exists(username))) {
    allowed = contactSeesUser((await ctx.roster.item(username, requesterBare))?.subscription);
  }
  if (!allowed) {
    await ctx.module.post(presence({ type: "unsubscribed", from: userBare, to: requesterBare }));
    return;
  }
  await sendAvailableResources(ctx, username, requester, true);
}

/** Presence for the server itself: it is "available" to anyone who asks, and approves any subscription. */
export async function answerServerPresence(ctx: PresenceContext, stanza: Element): Promise<void> {
  const from = stanza.attrs.from;
  if (from === undefined || stanza.attrs.to === undefined) return;
  const { module } = ctx;
  const to = jidBare(from);
  if (stanza.attrs.type === "probe") {
    await module.post(presence({ from: module.host, to }));
  } else if (stanza.attrs.type === "subscribe") {
    await module.post(presence({ type: "subscribed", from: module.host, to }));
    await module.post(presence({ from: module.host, to }));
  }
}

/** An account was deleted (its sessions gone unavailable, its data purged): tell the contacts still known, then forget. */
export async function cancelSubscriptionsOf(ctx: PresenceContext, username: string): Promise<void> {
  const { module, roster } = ctx;
  const bare = `${username}@${module.host}`;
  const r = await roster.roster(username);
  for (const [jid, item] of r.items) {
    if (contactSeesUser(item.subscription)) await module.post(presence({ type: "unsubscribed", from: bare, to: jid }));
    if (userSeesContact(item.subscription) || item.ask) await module.post(presence({ type: "unsubscribe", from: bare, to: jid }));
  }
  for (const jid of r.pending.keys()) await module.post(presence({ type: "unsubscribed", from: bare, to: jid }));
  roster.forget(username);
}
