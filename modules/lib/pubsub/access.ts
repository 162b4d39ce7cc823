// The AccessOracle of a pubsub service on this server: the presence and roster access models ask
// mod_roster's "roster" service, presence-based delivery and pubsub#show-values mod_presence's
// "presence" service, both of the owner's (or subscriber's) host. An owner or subscriber that is not an
// account here (a remote JID, a component, an unknown host) has no roster here: it is not
// subscribed to anyone's presence and in no roster group (XEP-0060 §6.1.3.2/.3: not-authorized).
// Its availability is what it told this service by directed presence (tracked in DirectedPresence).

import type { ModuleApi } from "../../../src/modules/api.js";
import type { AccessOracle } from "../../../src/util/pubsub/index.js";
import { jidBare, jidSplit } from "../../../src/util/jid.js";
import type { Element } from "../../../src/xml/stanza.js";

/** A service of a host of this server, if loaded there (ModuleApi.serviceOn). */
export type ServiceOn = ModuleApi["serviceOn"];

/** The default bound of DirectedPresence (full JIDs remembered). */
export const DIRECTED_PRESENCE_LIMIT = 10000;

/**
 * Presence received by the service itself (directed presence, RFC 6121 §4.6): bare JID -> full JID
 * -> show. Bounded: a sender that never says unavailable (a remote server that lost track, a
 * flood of resources) cannot grow it without limit; past `limit` full JIDs, the one whose presence
 * is oldest is forgotten (it then counts as unavailable until it sends presence again).
 */
export class DirectedPresence {
  private readonly byBare = new Map<string, Map<string, string>>();
  /** full JID -> bare JID, oldest presence first (the eviction order). */
  private readonly order = new Map<string, string>();

  constructor(readonly limit: number = DIRECTED_PRESENCE_LIMIT) {}

  /** Full JIDs remembered. */
  get size(): number {
    return this.order.size;
  }

  /** Available presence from `jid`; true when it was already available (an update, not a new arrival). */
  available(jid: string, presence: Element): boolean {
    const bare = jidBare(jid);
    let resources = this.byBare.get(bare);
    if (!resources) {
      resources = new Map();
      this.byBare.set(bare, resources);
    }
    const known = resources.has(jid);
    resources.set(jid, showOf(presence));
    this.order.delete(jid);
    this.order.set(jid, bare);
    while (this.order.size > this.limit) {
      const [oldest] = this.order.keys();
      this.remove(oldest);
    }
    return known;
  }

  /** Unavailable presence from `jid` (a bare JID: every resource of it). */
  unavailable(jid: string): void {
    const bare = jidBare(jid);
    if (jid !== bare) {
      this.remove(jid);
      return;
    }
    const resources = this.byBare.get(bare);
    if (!resources) return;
    for (const full of resources.keys()) this.order.delete(full);
    this.byBare.delete(bare);
  }

  /** Shows of the resources of `jid` (bare: all of them; full: that one). */
  showsOf(jid: string): string[] {
    const bare = jidBare(jid);
    const resources = this.byBare.get(bare);
    if (!resources) return [];
    if (jid !== bare) {
      const s = resources.get(jid);
      return s === undefined ? [] : [s];
    }
    return [...resources.values()];
  }

  private remove(full: string): void {
    const bare = this.order.get(full) ?? jidBare(full);
    this.order.delete(full);
    const resources = this.byBare.get(bare);
    if (!resources) return;
    resources.delete(full);
    if (resources.size === 0) this.byBare.delete(bare);
  }
}

/** RFC 6121 §4.7.2.1: no <show/> is plain availability, "online" in pubsub#show-values. */
export function showOf(presence: Element): string {
  const show = presence.getChildText("show")?.trim();
  return show === undefined || show === "" ? "online" : show;
}

/** Rank shows so a bare JID's most available resource speaks for it. */
const SHOW_RANK: Record<string, number> = { chat: 0, online: 1, away: 2, xa: 3, dnd: 4 };

export function serviceAccessOracle(serviceOn: ServiceOn, isLocalHost: (host: string) => boolean, directed: DirectedPresence): AccessOracle {
  async function rosterItem(owner: string, jid: string) {
    const parts = jidSplit(owner);
    if (!parts?.node || !isLocalHost(parts.domain)) return null;
    return (await serviceOn(parts.domain, "roster")?.contact(parts.node, jidBare(jid))) ?? null;
  }

  /** Shows of the available resources of `jid`, or undefined when nobody here can tell. */
  async function shows(jid: string): Promise<string[] | undefined> {
    const parts = jidSplit(jid);
    if (!parts) return [];
    if (parts.node !== undefined && isLocalHost(parts.domain)) {
      const available = serviceOn(parts.domain, "presence")?.available(parts.node);
      if (available) {
        const resources = parts.resource === undefined ? available : available.filter((r) => r.jid === jid);
        return resources.map((r) => r.show ?? showOf(r.presence));
      }
    }
    return directed.showsOf(jid);
  }

  return {
    // XEP-0060 §4.5 presence: the entity has a subscription to the owner's presence (from/both).
    async isSubscribedToPresence(owner, jid) {
      const item = await rosterItem(owner, jid);
      // RFC 6121 §3: "from" and "both" let the contact see the user's presence.
      return item?.subscription === "from" || item?.subscription === "both";
    },
    // §4.5 roster: the groups the owner put the entity in.
    async rosterGroups(owner, jid) {
      const item = await rosterItem(owner, jid);
      return item ? item.groups : null;
    },
    async isAvailable(jid) {
      const s = await shows(jid);
      return s === undefined || s.length > 0;
    },
    async presenceShow(jid) {
      const s = await shows(jid);
      if (!s || s.length === 0) return undefined;
      return [...s].sort((a, b) => (SHOW_RANK[a] ?? 5) - (SHOW_RANK[b] ?? 5))[0];
    },
  };
}
