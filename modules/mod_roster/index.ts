// mod_roster: the roster protocol (RFC 6121 §2) with versioning (XEP-0237, RFC 6121 §2.6).
//
// Provides the "roster" service (../lib/roster/service.ts): the roster store and cache of the host.
// Modules of the host get it with `await module.depends("roster")` (mod_presence for subscriptions,
// mod_mam, mod_pep, mod_blocklist, mod_lastactivity to read items), a component with
// `module.serviceOn("<user's host>", "roster")`; nobody reads the "roster" store itself. Other
// modules read items as RosterItem = { jid: string; name?: string; subscription: "none" | "to" |
// "from" | "both"; ask?: "subscribe"; groups: string[]; approved?: true } (`jid` is the contact's
// bare JID; `approved`: a pre-approval, RFC 6121 §3.4): `contact(username, jid)`, `items(username)`.
//
// Fired here (by the roster manager, also for changes made through the service by mod_presence):
//   "roster-item-changed" { username, jid, item: RosterItem | null (after), previous: RosterItem | null }
//
// Options: roster_max_items (default 1000), roster_max_name_length and roster_max_group_length
// (1023), roster_max_groups (100).

import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession } from "../../src/router/router.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { NS_ROSTER, NS_ROSTERVER, contactSeesUser, itemElement, parseRosterSet, upgradeRosterRecord, userSeesContact, type StoredItem } from "../lib/roster/roster.js";
import { ROSTER_STORE, type StoredRecord } from "../lib/roster/store.js";
import type { RosterItemChanged } from "../lib/roster/service.js";
import "../lib/im/presence.js";
import { RosterManager, rosterRequested } from "./manager.js";
import { ELEMENT_JSON_VERSION } from "../../src/xml/json.js";
import type { EventSpec } from "../../src/events/bus.js";

/** RFC 6121 §2.5.2: a removed item's subscriptions end both ways (unavailable first where the contact saw the user, §3.2.2). */
async function cancelSubscriptions(module: ModuleApi, username: string, contact: string, removed: { item?: StoredItem; pendingIn: boolean }): Promise<void> {
  const from = `${username}@${module.host}`;
  const sub = removed.item?.subscription;
  if (contactSeesUser(sub) || removed.pendingIn) {
    if (contactSeesUser(sub)) {
      for (const s of module.serviceOn(module.host, "presence")?.availableSessions(username) ?? []) {
        await module.post(new Element("presence", { type: "unavailable", from: s.fullJid!, to: contact }));
      }
    }
    await module.post(new Element("presence", { type: "unsubscribed", from, to: contact }));
  }
  if (userSeesContact(sub) || removed.item?.ask) {
    await module.post(new Element("presence", { type: "unsubscribe", from, to: contact }));
  }
}

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return; // rosters belong to accounts
    await module.upgradeStore("map", ROSTER_STORE, ELEMENT_JSON_VERSION, upgradeRosterRecord);
    const roster = new RosterManager(module.openMap<StoredRecord>(ROSTER_STORE), module, module.log);
    module.provides("roster", roster);
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
    module.iq.get(
      NS_ROSTER,
      "query",
      async ({ origin, payload }) => {
        if (!isClientSession(origin) || !origin.username) return new StanzaError("auth", "forbidden");
        const st = await roster.roster(origin.username);
        rosterRequested.set(origin, true); // from now on this resource is "interested" (§2.1.6)
        if (RosterManager.upToDate(st, payload.attrs.ver)) return null; // §2.6.3: unchanged
        const q = new Element("query", { xmlns: NS_ROSTER, ver: RosterManager.versionString(st) });
        for (const [jid, item] of st.items) q.children.push(itemElement(jid, item));
        return q;
      },
      { to: "self" },
    );

    // RFC 6121 §2.3–§2.5: roster set (add, update, remove); the push follows the result (§2.3.2).
    module.iq.set(
      NS_ROSTER,
      "query",
      async ({ origin, payload, afterReply }) => {
        if (!isClientSession(origin) || !origin.username) return new StanzaError("auth", "forbidden");
        const username = origin.username;
        const req = parseRosterSet(payload, origin.bareJid!, limits);
        if (!req.ok) return new StanzaError(req.type, req.condition, req.text);
        if (req.action === "update") {
          const r = await roster.setItem(username, req.jid, req.name, req.groups, { maxItems, pushAfter: afterReply });
          return r.ok ? null : new StanzaError("cancel", r.condition, r.text);
        }
        // §2.5.2: remove (result, push); then cancel the subscriptions both ways.
        const removed = await roster.removeItem(username, req.jid, afterReply);
        if (!removed) return new StanzaError("cancel", "item-not-found"); // §2.5.3
        afterReply(() => cancelSubscriptions(module, username, req.jid, removed));
        return null;
      },
      { to: "self" },
    );

    // §2.3.3: another user's roster is not yours to read or change.
    const forbidden = () => new StanzaError("auth", "forbidden");
    module.iq.get(NS_ROSTER, "query", forbidden, { to: "bare" });
    module.iq.set(NS_ROSTER, "query", forbidden, { to: "bare" });

    // The account's data was purged by the core before this event; drop what is cached.
    module.hookGlobal("user-deleted", ({ host, username }) => {
      if (host === module.host) roster.forget(username);
    });
  },
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** After every stored roster item change (also those made by mod_presence). */
    "roster-item-changed": EventSpec<RosterItemChanged, never>;
  }
}
