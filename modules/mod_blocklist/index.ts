// XEP-0191: Blocking Command.
//
// The blocklist of each account lives in the keyval store "blocklist" (./blocklist.ts). Every
// stanza to a local account, and every presence one sends through the server, is checked against
// it, so lists are cached (./cache.ts): those of accounts with a bound session for as long as they
// are online (dropped to the LRU on the last unbind), others in an LRU of `blocklist_cache_size`
// accounts (default 10000). "No list" is cached too (a shared empty list). The rules for blocked
// stanzas are in ./gates.ts.
//
// Protocol: <blocklist/> get (the asking resource then gets pushes), <block/> and <unblock/>
// sets (an empty <unblock/> empties the list), pushes to every resource that asked for the list.
// On block, contacts that may see the user's presence get unavailable presence from each available
// resource; on unblock they get the current presence (a probe on their behalf, answered by
// mod_presence).
//
// Gates (priority 100 unless noted):
//  - inbound (`message|presence|iq/bare|full` for an account whose list blocks the sender):
//    presence and iq results/errors dropped; iq get/set answered service-unavailable; chat and
//    normal messages answered service-unavailable when `bounce_blocked_messages` is true (Prosody's
//    option, default false: dropped), other messages dropped;
//  - outbound (`pre-message|iq/*`, `pre-presence/full`; `pre-presence/bare|host` at -1 so that
//    subscription handling comes first): not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>
//    (errors and iq results to a blocked JID are dropped).
//
// Availability presence and probes that an account which blocks the recipient sends through the
// server (mod_presence's broadcasts and probe answers) are dropped at `presence/bare|full` too.
//
// Query for other modules (host bus):
//   `blocklist-is-blocked` { username, jid } → boolean: does `username`'s list block `jid`
//   (a prepped JID, full or bare)? mod_presence asks it before sending presence broadcasts and
//   probe answers to contacts.
//
// Uses mod_roster's "roster" service (whether a contact sees the account's presence) and mod_presence's
// "presence" service for the account's available sessions.

import { defineModule, type IqEvent, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidHost, jidNode, jidResource } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import "../lib/im/presence.js";
import { seesPresence } from "../lib/roster/roster.js";
import type { RosterService } from "../lib/roster/service.js";
import { NS_BLOCKING, NS_BLOCKING_ERRORS, readItems, type Blocklist, type StoredBlocklist } from "./blocklist.js";
import { BlocklistCache } from "./cache.js";
import { inboundAction, outboundAction, senderListApplies, type StanzaKind } from "./gates.js";
import type { EventSpec } from "../../src/events/bus.js";

/** Data of `blocklist-is-blocked`. */
export interface BlocklistQuery {
  username: string;
  jid: string;
}

const GATE = 100;

interface BlocklistContext {
  module: ModuleApi;
  lists: BlocklistCache;
  isBlocked(username: string, jid: string): Promise<boolean>;
  /** Stanzas this module sends on the user's behalf, which its own gates let through. */
  ownStanzas: WeakSet<Element>;
  bounceMessages: boolean;
  roster: RosterService;
}

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const roster = await module.depends("roster");
    module.addFeature(NS_BLOCKING);
    const lists = new BlocklistCache(module.openKeyval<StoredBlocklist>("blocklist"), module.options.integer("blocklist_cache_size", 10000, { min: 1 }));
    const ctx: BlocklistContext = {
      module,
      lists,
      isBlocked: async (username, jid) => (await lists.get(username)).blocks(jid),
      ownStanzas: new WeakSet(),
      bounceMessages: module.options.boolean("bounce_blocked_messages", false),
      roster,
    };
    const edits = new KeyedLock<string>(); // one edit at a time per account: two resources must not lose an update

    // Online accounts: their list is pinned until their last session unbinds.
    const bind = (s: ClientSession) => {
      if (s.username !== undefined && s.host === module.host) lists.bind(s.username, s);
    };
    for (const s of module.allSessions()) bind(s);
    module.hook("resource-bind", ({ session }) => void bind(session));
    // Before other handlers, so that one failing cannot leave the list pinned.
    module.hook("resource-unbind", ({ session }) => void (session.username !== undefined && lists.unbind(session.username, session)), 100);
    module.hookGlobal("user-deleted", ({ host, username }) => void (host === module.host && lists.purge(username)));
    module.hook("blocklist-is-blocked", ({ username, jid }) => ctx.isBlocked(username, jid));

    // Protocol: the list (the asking resource then gets pushes), and edits of it.
    module.iq.get(
      NS_BLOCKING,
      "blocklist",
      async ({ origin }) => {
        if (!isClientSession(origin) || origin.username === undefined) return undefined;
        const list = await lists.get(origin.username);
        origin.data.set(module.name, true);
        const payload = new Element("blocklist", { xmlns: NS_BLOCKING });
        for (const jid of list.jids()) payload.textTag("item", undefined, { jid });
        return payload;
      },
      { to: "self" },
    );
    const edit = async ({ origin, payload, afterReply }: IqEvent) => {
      if (!isClientSession(origin) || origin.username === undefined) return undefined;
      const username = origin.username;
      const items = readItems(payload);
      if (!items.ok) return new StanzaError("modify", items.condition);
      return edits.run(username, () => applyEdit(ctx, username, payload.name as "block" | "unblock", items.jids, afterReply));
    };
    module.iq.set(NS_BLOCKING, "block", edit, { to: "self" });
    module.iq.set(NS_BLOCKING, "unblock", edit, { to: "self" });

    // Inbound: stanzas from a JID the recipient blocked. Presence is also held to the sender's list.
    const dropPresence = async (ev: StanzaEvent) => ((await inboundBlocked(ctx, ev)) || (await senderBlocks(ctx, ev)) ? true : undefined);
    const gateInbound = (kind: StanzaKind) => async (ev: StanzaEvent) => {
      if (!(await inboundBlocked(ctx, ev))) return undefined;
      const toConnected = kind === "message" && toConnectedResource(module, ev.stanza.attrs.to!);
      const action = inboundAction(kind, ev.stanza.attrs.type, { bounceMessages: ctx.bounceMessages, toConnectedResource: toConnected });
      return action === "bounce" ? new StanzaError("cancel", "service-unavailable") : true;
    };
    for (const t of ["bare", "full"] as const) {
      module.hook(`presence/${t}`, dropPresence, GATE);
      module.hook(`iq/${t}`, gateInbound("iq"), GATE);
      module.hook(`message/${t}`, gateInbound("message"), GATE);
    }

    // Outbound: stanzas from the user to a JID they blocked (subscription handling comes first for presence).
    const gateOutbound = (ev: StanzaEvent) => outbound(ctx, ev);
    for (const t of ["bare", "full", "host"] as const) {
      module.hook(`pre-message/${t}`, gateOutbound, GATE);
      module.hook(`pre-iq/${t}`, gateOutbound, GATE);
    }
    module.hook("pre-presence/full", gateOutbound, GATE);
    module.hook("pre-presence/bare", gateOutbound, -1);
    module.hook("pre-presence/host", gateOutbound, -1);
  },
});

let pushCounter = 0;

/**
 * Store a block or unblock; once the (empty) result is out, tell the contacts concerned and push
 * the change to the resources that asked for the list (XEP-0191).
 */
async function applyEdit(ctx: BlocklistContext, username: string, verb: "block" | "unblock", jids: string[], afterReply: IqEvent["afterReply"]): Promise<null> {
  const before: Blocklist = await ctx.lists.get(username);
  await ctx.lists.set(username, before.edit(verb, jids, Date.now()));

  // XEP-0191: once answered, the contacts concerned hear of it, then the interested resources.
  afterReply(async () => {
    await tellContacts(ctx, username, verb, jids, before);
    pushChange(ctx, username, verb, jids);
  });
  return null;
}

/** Unavailable presence to newly blocked contacts that may see the user; current presence (a probe on their behalf) to unblocked ones. */
async function tellContacts(ctx: BlocklistContext, username: string, verb: "block" | "unblock", jids: string[], before: Blocklist): Promise<void> {
  const { module } = ctx;
  const userBare = `${username}@${module.host}`;
  if (verb === "block") {
    // XEP-0191: unavailable presence to a newly blocked contact that may see the user's presence.
    const available = (module.serviceOn(module.host, "presence")?.availableSessions(username) ?? []).filter((s) => s.fullJid !== undefined);
    for (const jid of jids) {
      if (before.has(jid) || available.length === 0 || !(await mayReceivePresence(ctx, username, jid))) continue;
      for (const s of available) {
        const unavailable = new Element("presence", { type: "unavailable", to: jid, from: s.fullJid! });
        ctx.ownStanzas.add(unavailable);
        module.send(unavailable);
      }
    }
  } else {
    // XEP-0191: current presence to an unblocked contact that may see it: a probe on the
    // contact's behalf, which mod_presence answers with every available resource's presence.
    const unblocked = jids.length ? jids.filter((j) => before.has(j)) : before.jids();
    for (const jid of unblocked) {
      if (await mayReceivePresence(ctx, username, jid)) module.send(new Element("presence", { type: "probe", to: userBare, from: jid }));
    }
  }
}

/** XEP-0191: pushes to every resource that requested the list. */
function pushChange(ctx: BlocklistContext, username: string, verb: "block" | "unblock", jids: string[]): void {
  const { module } = ctx;
  const pushPayload = new Element(verb, { xmlns: NS_BLOCKING });
  for (const jid of jids) pushPayload.textTag("item", undefined, { jid });
  for (const s of module.sessionsOf(username)) {
    if (s.data.get(module.name) !== true || s.fullJid === undefined) continue;
    const push = new Element("iq", { type: "set", id: `blocklist-push-${(++pushCounter).toString(36)}`, to: s.fullJid });
    push.add(pushPayload.clone());
    s.send(push);
  }
}
/** Does the recipient account block the sender? */
async function inboundBlocked(ctx: BlocklistContext, ev: StanzaEvent): Promise<boolean> {
  const { to, from } = ev.stanza.attrs;
  if (to === undefined || from === undefined) return false;
  const username = jidNode(to);
  if (username === undefined) return false;
  return ctx.isBlocked(username, from);
}

/**
 * Presence a local account sends through the server (mod_presence's broadcasts and probe
 * answers are posted by the host, so no pre-presence gate sees them): availability and probes
 * are dropped when that account blocks the recipient. The unavailable presence this module
 * sends on block is exempt.
 */
async function senderBlocks(ctx: BlocklistContext, ev: StanzaEvent): Promise<boolean> {
  const { module } = ctx;
  const { to, from, type } = ev.stanza.attrs;
  if (to === undefined || from === undefined || ctx.ownStanzas.has(ev.stanza) || !senderListApplies(type)) return false;
  const username = jidNode(from);
  if (username === undefined) return false;
  const host = jidHost(from);
  if (host === module.host) return ctx.isBlocked(username, to);
  if (!module.hostNames().includes(host)) return false;
  return (await module.fireOn(host, "blocklist-is-blocked", { username, jid: to })) === true;
}

/** A stanza from the user to a JID they blocked: dropped, or refused with not-acceptable. */
async function outbound(ctx: BlocklistContext, ev: StanzaEvent): Promise<true | StanzaError | undefined> {
  const origin = ev.origin;
  const to = ev.stanza.attrs.to;
  // No 'to': the user's own account, never blocked.
  if (!isClientSession(origin) || origin.username === undefined || to === undefined) return undefined;
  if (!(await ctx.isBlocked(origin.username, to))) return undefined;
  if (outboundAction(ev.stanza.name as StanzaKind, ev.stanza.attrs.type) === "refuse") {
    return new StanzaError("cancel", "not-acceptable", "You have blocked this JID", new Element("blocked", { xmlns: NS_BLOCKING_ERRORS }));
  }
  return true;
}

function toConnectedResource(module: ModuleApi, to: string): boolean {
  const node = jidNode(to);
  const resource = jidResource(to);
  return node !== undefined && resource !== undefined && module.session(node, resource) !== undefined;
}

/** May `jid` see `username`'s presence (subscription from or both, RFC 6121 §3)? Asked of mod_roster. */
async function mayReceivePresence(ctx: BlocklistContext, username: string, jid: string): Promise<boolean> {
  return seesPresence(await ctx.roster.contact(username, jid));
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** Does the account block this JID (XEP-0191)? */
    "blocklist-is-blocked": EventSpec<BlocklistQuery, boolean>;
  }
}
