// mod_roster: the roster protocol (RFC 6121 §2) with versioning (XEP-0237, RFC 6121 §2.6).
//
// Contract for other modules (events on the user's host bus; call them with module.fire, or from a
// component with module.fireOn("<user's host>", ...); never read the "roster" store yourself):
//
//   "roster-get-item"  data { username: string; jid: string }
//                      → { item: RosterItem | null }
//   "roster-get"       data { username: string }
//                      → { items: RosterItem[] }
//   where RosterItem = { jid: string; name?: string; subscription: "none" | "to" | "from" | "both";
//                        ask?: "subscribe"; groups: string[]; approved?: true }
//                      (`jid` is the contact's bare JID; `approved`: a pre-approval, RFC 6121 §3.4)
//
// Fired here (via the shared roster manager, also for changes made by mod_presence):
//   "roster-item-changed" { username, jid, item: RosterItem | null (after), previous: RosterItem | null }
//
// Options: roster_max_items (default 1000), roster_max_name_length and roster_max_group_length
// (1023), roster_max_groups (100).

import { defineModule } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { jidPrepBare } from "../../src/util/jid.js";
import { Element, errorReply, reply } from "../../src/xml/stanza.js";
import { RosterManager, rosterManager } from "./manager.js";
import { NS_ROSTER, NS_ROSTERVER, contactSeesUser, itemElement, parseRosterSet, publicItem, upgradeRosterRecord, userSeesContact, type RosterItem } from "./roster.js";
import { ELEMENT_JSON_VERSION } from "../../src/xml/json.js";
import type { RosterItemChanged } from "./manager.js";
import type { EventSpec } from "../../src/events/bus.js";

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return; // rosters belong to accounts
    await module.upgradeStore("map", "roster", ELEMENT_JSON_VERSION, upgradeRosterRecord);
    const roster = rosterManager(module);
    const limits = {
      maxNameLength: module.options.integer("roster_max_name_length", 1023, { min: 1, max: 65535 }),
      maxGroupLength: module.options.integer("roster_max_group_length", 1023, { min: 1, max: 65535 }),
      maxGroups: module.options.integer("roster_max_groups", 100, { min: 1, max: 10000 }),
    };
    const maxItems = module.options.integer("roster_max_items", 1000, { min: 1, max: 1_000_000 });

    // XEP-0237 §2 / RFC 6121 §2.6.1: the stream feature, once authenticated.
    module.hook("stream-features", (ev) => {
      if (ev.state === "authenticated") ev.features.add(new Element("ver", { xmlns: NS_ROSTERVER }));
    });

    // RFC 6121 §2.1.3: roster get.
    module.hook(`iq-get/self/${NS_ROSTER}:query`, async (ev) => {
      if (!isClientSession(ev.origin) || !ev.origin.username) return module.reply(ev, errorReply(ev.stanza, "auth", "forbidden"));
      const session = ev.origin;
      const st = await roster.roster(session.username!);
      const clientVer = ev.stanza.firstElement()!.attrs.ver;
      session.rosterRequested = true; // from now on this resource is "interested" (§2.1.6)
      const r = reply(ev.stanza);
      if (RosterManager.upToDate(st, clientVer)) return module.reply(ev, r); // §2.6.3: unchanged
      const q = new Element("query", { xmlns: NS_ROSTER, ver: RosterManager.versionString(st) });
      for (const [jid, item] of st.items) q.children.push(itemElement(jid, item));
      r.children.push(q);
      return module.reply(ev, r);
    });

    // RFC 6121 §2.3–§2.5: roster set (add, update, remove).
    module.hook(`iq-set/self/${NS_ROSTER}:query`, async (ev) => {
      if (!isClientSession(ev.origin) || !ev.origin.username) return module.reply(ev, errorReply(ev.stanza, "auth", "forbidden"));
      const session = ev.origin;
      const username = session.username!;
      const req = parseRosterSet(ev.stanza.firstElement()!, session.bareJid!, limits);
      if (!req.ok) return module.reply(ev, errorReply(ev.stanza, req.type, req.condition, req.text));
      const result = reply(ev.stanza);
      if (req.action === "update") {
        const r = await roster.setItem(username, req.jid, req.name, req.groups, { maxItems, beforePush: () => module.reply(ev, result) });
        if (!r.ok) module.reply(ev, errorReply(ev.stanza, "cancel", r.condition, r.text));
        return true;
      }
      // §2.5.2: remove; then cancel the subscriptions both ways.
      const removed = await roster.removeItem(username, req.jid, () => module.reply(ev, result));
      if (!removed) return module.reply(ev, errorReply(ev.stanza, "cancel", "item-not-found")); // §2.5.3
      const from = session.bareJid!;
      const sub = removed.item?.subscription;
      if (contactSeesUser(sub) || removed.pendingIn) {
        // The contact stops seeing the user: unavailable from each available resource first (§3.2.2).
        if (contactSeesUser(sub)) {
          for (const s of module.sessionsOf(username)) {
            if (!s.presence || s.closed) continue;
            await module.post(new Element("presence", { type: "unavailable", from: s.fullJid!, to: req.jid }));
          }
        }
        await module.post(new Element("presence", { type: "unsubscribed", from, to: req.jid }));
      }
      if (userSeesContact(sub) || removed.item?.ask) {
        await module.post(new Element("presence", { type: "unsubscribe", from, to: req.jid }));
      }
      return true;
    });

    // §2.3.3: another user's roster is not yours to read or change.
    const forbidden = (ev: StanzaEvent) => module.reply(ev, errorReply(ev.stanza, "auth", "forbidden"));
    module.hook(`iq-get/bare/${NS_ROSTER}:query`, forbidden);
    module.hook(`iq-set/bare/${NS_ROSTER}:query`, forbidden);

    // ---- the query API for other modules ----

    module.hook("roster-get-item", async ({ username, jid }) => {
      const bare = jidPrepBare(jid);
      if (bare === undefined) return { item: null };
      const item = await roster.item(username, bare);
      return { item: item ? publicItem(bare, item) : null } satisfies { item: RosterItem | null };
    });

    module.hook("roster-get", async ({ username }) => {
      return { items: await roster.items(username) } satisfies { items: RosterItem[] };
    });

    // The account's data was purged by the core before this event; drop what is cached.
    module.hookGlobal("user-deleted", ({ host, username }) => {
      if (host === module.host) roster.forget(username);
    });
  },
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** An account's roster item for a contact (any host may ask with fireOn). */
    "roster-get-item": EventSpec<{ username: string; jid: string }, { item: RosterItem | null }>;
    "roster-get": EventSpec<{ username: string }, { items: RosterItem[] }>;
    /** After every stored roster item change (also those made by mod_presence). */
    "roster-item-changed": EventSpec<RosterItemChanged, never>;
  }
}
