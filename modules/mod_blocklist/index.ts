// XEP-0191: Blocking Command.
//
// The blocklist of each account lives in the keyval store "blocklist" (./blocklist.ts). Every
// stanza to a local account, and every presence one sends through the server, is checked against
// it, so lists are cached: those of accounts with a bound session for as long as they are online
// (dropped to the LRU on the last unbind), others in an LRU of `blocklist_cache_size` accounts
// (default 10000). "No list" is cached too (a shared empty list).
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
// Asks mod_roster (host bus): `roster-get-item` { username, jid } → { item: { subscription, ... } | null }.

import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidBare, jidHost, jidNode, jidResource } from "../../src/util/jid.js";
import { Element, errorReply, reply } from "../../src/xml/stanza.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { Lru } from "../../src/util/lru.js";
import { seesPresence } from "../mod_roster/roster.js";
import { Blocklist, NS_BLOCKING, NS_BLOCKING_ERRORS, readItems, type StoredBlocklist } from "./blocklist.js";
import type { EventSpec } from "../../src/events/bus.js";

/** Data of `blocklist-is-blocked`. */
export interface BlocklistQuery {
  username: string;
  jid: string;
}

const GATE = 100;

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    module.addFeature(NS_BLOCKING);

    const store = module.openKeyval<StoredBlocklist>("blocklist");
    const bounceMessages = module.options.boolean("bounce_blocked_messages", false);
    const cacheSize = module.options.integer("blocklist_cache_size", 10000, { min: 1 });
    // Lists of accounts with bound sessions stay cached while they are online (every stanza to
    // them, and every presence they send through the server, is checked); others go to an LRU.
    // An account without a list is cached too (as the shared EMPTY list), so it costs no read.
    const online = new Map<string, Blocklist>();
    const boundSessions = new Map<string, Set<ClientSession>>();
    const others = new Lru<string, Blocklist>(cacheSize);
    const edits = new KeyedLock<string>();
    /** Reads in flight, so that concurrent misses for one account share one storage read. */
    const reading = new Map<string, Promise<Blocklist>>();
    /** Bumped on every write or purge: a read that started before one must not cache what it read. */
    let writes = 0;
    let pushCounter = 0;
    /** Stanzas this module sends on the user's behalf, which its own gates let through. */
    const ownStanzas = new WeakSet<Element>();

    const cached = (username: string): Blocklist | undefined => online.get(username) ?? others.get(username);
    const remember = (username: string, list: Blocklist) => {
      if (boundSessions.has(username)) {
        online.set(username, list);
        others.delete(username);
      } else {
        others.set(username, list);
      }
    };
    const load = async (username: string): Promise<Blocklist> => {
      const hit = cached(username);
      if (hit) return hit;
      let p = reading.get(username);
      if (!p) {
        const startedAt = writes;
        p = (async () => {
          const list = Blocklist.from(await store.get(username));
          if (writes === startedAt && !cached(username)) remember(username, list);
          return cached(username) ?? list;
        })().finally(() => reading.delete(username));
        reading.set(username, p);
      }
      return p;
    };
    const write = async (username: string, list: Blocklist) => {
      writes++;
      await store.set(username, list.toStored());
      remember(username, list);
    };
    const isBlocked = async (username: string, jid: string) => (await load(username)).blocks(jid);

    // Online accounts: pin their list (moved out of the LRU) until their last session unbinds.
    const bound = (session: ClientSession) => {
      const username = session.username;
      if (username === undefined || session.host !== module.host) return;
      let set = boundSessions.get(username);
      if (!set) {
        set = new Set();
        boundSessions.set(username, set);
        const list = others.peek(username);
        if (list) remember(username, list);
      }
      set.add(session);
    };
    for (const s of module.allSessions()) bound(s);
    module.hook("resource-bind", ({ session }) => {
      bound(session);
      return undefined;
    });
    module.hook("resource-unbind", ({ session }) => {
      const username = session.username;
      const set = username === undefined ? undefined : boundSessions.get(username);
      if (!set || username === undefined) return undefined;
      set.delete(session);
      if (set.size > 0) return undefined;
      boundSessions.delete(username);
      const list = online.get(username);
      online.delete(username);
      if (list) others.set(username, list);
      return undefined;
    }, 100); // before other handlers, so that one failing cannot leave the list pinned

    module.hookGlobal("user-deleted", ({ host, username }) => {
      if (host !== module.host) return undefined;
      online.delete(username);
      others.delete(username);
      writes++;
      return undefined;
    });

    module.hook("blocklist-is-blocked", ({ username, jid }) => isBlocked(username, jid));

    // ---- protocol ----

    module.hook(`iq-get/self/${NS_BLOCKING}:blocklist`, async (ev) => {
      if (!isClientSession(ev.origin) || ev.origin.username === undefined) return undefined;
      const list = await load(ev.origin.username);
      const r = reply(ev.stanza).tag("blocklist", { xmlns: NS_BLOCKING });
      for (const jid of list.jids()) r.textTag("item", undefined, { jid });
      // XEP-0191: pushes go to the resources that requested the list.
      ev.origin.data.set(module.name, true);
      return module.reply(ev, r);
    });

    const edit = async (ev: StanzaEvent) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined) return undefined;
      const username = origin.username;
      const action = ev.stanza.firstElement()!;
      const verb = action.name as "block" | "unblock";
      const items = readItems(action);
      if (!items.ok) return module.reply(ev, errorReply(ev.stanza, "modify", items.condition));

      // One edit at a time per account (two resources editing at once must not lose an update).
      return edits.run(username, () => applyEdit(username, verb, items.jids, ev));
    };

    const applyEdit = async (username: string, verb: "block" | "unblock", jids: string[], ev: StanzaEvent): Promise<true> => {
      const before = await load(username);
      const after = before.edit(verb, jids, Date.now());
      await write(username, after);
      module.reply(ev, reply(ev.stanza));

      const userBare = `${username}@${module.host}`;
      if (verb === "block") {
        // XEP-0191: unavailable presence to a newly blocked contact that may see the user's presence.
        const available = module.sessionsOf(username).filter((s) => s.presence !== undefined && s.fullJid !== undefined);
        for (const jid of jids) {
          if (before.has(jid) || available.length === 0 || !(await mayReceivePresence(module, username, jid))) continue;
          for (const s of available) {
            const unavailable = new Element("presence", { type: "unavailable", to: jid, from: s.fullJid! });
            ownStanzas.add(unavailable);
            module.send(unavailable);
          }
        }
      } else {
        // XEP-0191: current presence to an unblocked contact that may see it: a probe on the
        // contact's behalf, which mod_presence answers with every available resource's presence.
        const unblocked = jids.length ? jids.filter((j) => before.has(j)) : before.jids();
        for (const jid of unblocked) {
          if (await mayReceivePresence(module, username, jid)) module.send(new Element("presence", { type: "probe", to: userBare, from: jid }));
        }
      }

      // XEP-0191: pushes to every resource that requested the list.
      const pushPayload = new Element(verb, { xmlns: NS_BLOCKING });
      for (const jid of jids) pushPayload.textTag("item", undefined, { jid });
      for (const s of module.sessionsOf(username)) {
        if (s.data.get(module.name) !== true || s.fullJid === undefined) continue;
        const push = new Element("iq", { type: "set", id: `blocklist-push-${(++pushCounter).toString(36)}`, to: s.fullJid });
        push.add(pushPayload.clone());
        s.send(push);
      }
      return true;
    };
    module.hook(`iq-set/self/${NS_BLOCKING}:block`, edit);
    module.hook(`iq-set/self/${NS_BLOCKING}:unblock`, edit);

    // ---- inbound: stanzas from a JID the recipient blocked ----

    /** Does the recipient account block the sender? */
    const inboundBlocked = async (ev: StanzaEvent): Promise<boolean> => {
      const { to, from } = ev.stanza.attrs;
      if (to === undefined || from === undefined) return false;
      const username = jidNode(to);
      if (username === undefined) return false;
      return isBlocked(username, from);
    };

    /**
     * Presence a local account sends through the server (mod_presence's broadcasts and probe
     * answers are posted by the host, so no pre-presence gate sees them): availability and probes
     * are dropped when that account blocks the recipient. The unavailable presence this module
     * sends on block is exempt.
     */
    const senderBlocks = async (ev: StanzaEvent): Promise<boolean> => {
      const { to, from, type } = ev.stanza.attrs;
      if (to === undefined || from === undefined || ownStanzas.has(ev.stanza)) return false;
      // Subscription management still reaches the contact (as in Prosody), so both rosters agree.
      if (type !== undefined && type !== "unavailable" && type !== "probe") return false;
      const username = jidNode(from);
      if (username === undefined) return false;
      const host = jidHost(from);
      if (host === module.host) return isBlocked(username, to);
      if (!module.hostNames().includes(host)) return false;
      return (await module.fireOn(host, "blocklist-is-blocked", { username, jid: to })) === true;
    };

    // XEP-0191: presence from a blocked JID: no answer, no error; none to a blocked JID either.
    const dropPresence = async (ev: StanzaEvent) => ((await inboundBlocked(ev)) || (await senderBlocks(ev)) ? true : undefined);
    module.hook("presence/bare", dropPresence, GATE);
    module.hook("presence/full", dropPresence, GATE);

    // XEP-0191: iq get/set: service-unavailable; other iqs dropped.
    const gateIq = async (ev: StanzaEvent) => {
      if (!(await inboundBlocked(ev))) return undefined;
      const type = ev.stanza.attrs.type;
      if (type === "get" || type === "set") module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      return true;
    };
    module.hook("iq/bare", gateIq, GATE);
    module.hook("iq/full", gateIq, GATE);

    // XEP-0191: messages SHOULD get service-unavailable (Prosody: only with bounce_blocked_messages);
    // never for one to a connected resource, nor for types other than chat and normal.
    const gateMessage = async (ev: StanzaEvent) => {
      if (!(await inboundBlocked(ev))) return undefined;
      const type = ev.stanza.attrs.type;
      if (bounceMessages && (type === undefined || type === "normal" || type === "chat") && !toConnectedResource(module, ev.stanza.attrs.to!)) {
        module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      }
      return true;
    };
    module.hook("message/bare", gateMessage, GATE);
    module.hook("message/full", gateMessage, GATE);

    // ---- outbound: stanzas from the user to a JID they blocked ----

    const gateOutbound = async (ev: StanzaEvent) => {
      const origin = ev.origin;
      const to = ev.stanza.attrs.to;
      // No 'to': the user's own account, never blocked.
      if (!isClientSession(origin) || origin.username === undefined || to === undefined) return undefined;
      if (!(await isBlocked(origin.username, to))) return undefined;
      const type = ev.stanza.attrs.type;
      if (type === "error" || (ev.stanza.name === "iq" && type === "result")) return true;
      module.reply(
        ev,
        errorReply(ev.stanza, "cancel", "not-acceptable", "You have blocked this JID", new Element("blocked", { xmlns: NS_BLOCKING_ERRORS })),
      );
      return true;
    };
    for (const t of ["bare", "full", "host"] as const) {
      module.hook(`pre-message/${t}`, gateOutbound, GATE);
      module.hook(`pre-iq/${t}`, gateOutbound, GATE);
    }
    module.hook("pre-presence/full", gateOutbound, GATE);
    module.hook("pre-presence/bare", gateOutbound, -1);
    module.hook("pre-presence/host", gateOutbound, -1);
  },
});

function toConnectedResource(module: ModuleApi, to: string): boolean {
  const node = jidNode(to);
  const resource = jidResource(to);
  return node !== undefined && resource !== undefined && module.session(node, resource) !== undefined;
}

/** May `jid` see `username`'s presence (subscription from or both, RFC 6121 §3)? Asked of mod_roster. */
async function mayReceivePresence(module: ModuleApi, username: string, jid: string): Promise<boolean> {
  return seesPresence(await module.fire("roster-get-item", { username, jid: jidBare(jid) }));
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** Does the account block this JID (XEP-0191)? */
    "blocklist-is-blocked": EventSpec<{ username: string; jid: string }, boolean>;
  }
}
