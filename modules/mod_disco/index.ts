// XEP-0030: Service Discovery for the host and for accounts.
//
// The host's disco#info is what its modules registered (features, identities, XEP-0128 forms);
// its disco#items lists the components under it and `disco_items` from the config.
// Other modules can answer for a node with `disco-info-node/<node>` and `disco-items-node/<node>`,
// and add to an account's info with `account-disco-info` (e.g. PEP).

import { defineModule } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { Element, errorReply, reply } from "../../src/xml/stanza.js";
import { jidBare } from "../../src/util/jid.js";
import type { EventSpec } from "../../src/events/bus.js";

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export interface AccountDiscoEvent {
  username: string;
  requester: string;
  query: Element;
  node?: string;
}

export default defineModule({
  load(module) {
    module.addFeature(NS_DISCO_INFO);
    module.addFeature(NS_DISCO_ITEMS);
    if (module.hostKind === "local") module.addIdentity("server", "im", module.options.string("name", "Herald"));

    const hostInfo = async (ev: StanzaEvent) => {
      const node = ev.stanza.firstElement()!.attrs.node;
      if (node !== undefined) {
        const handled = await module.fire(`disco-info-node/${node}`, ev);
        if (handled === undefined) module.reply(ev, errorReply(ev.stanza, "cancel", "item-not-found"));
        return true;
      }
      const r = reply(ev.stanza);
      const q = new Element("query", { xmlns: NS_DISCO_INFO });
      const info = module.discoInfo();
      for (const id of info.identities) q.add(new Element("identity", id.name === undefined ? { category: id.category, type: id.type } : { category: id.category, type: id.type, name: id.name }));
      for (const f of info.features) q.add(new Element("feature", { var: f }));
      for (const x of info.extensions) q.add(x);
      r.add(q);
      return module.reply(ev, r);
    };
    module.hook(`iq-get/host/${NS_DISCO_INFO}:query`, hostInfo);

    const configured = module.options.table?.("disco_items");
    const hostItems = async (ev: StanzaEvent) => {
      const node = ev.stanza.firstElement()!.attrs.node;
      if (node !== undefined) {
        const handled = await module.fire(`disco-items-node/${node}`, ev);
        if (handled === undefined) module.reply(ev, errorReply(ev.stanza, "cancel", "item-not-found"));
        return true;
      }
      const r = reply(ev.stanza);
      const q = new Element("query", { xmlns: NS_DISCO_ITEMS });
      const seen = new Set<string>();
      const add = (jid: string, name?: string) => {
        if (seen.has(jid)) return;
        seen.add(jid);
        q.add(new Element("item", name === undefined ? { jid } : { jid, name }));
      };
      if (module.hostKind === "local") {
        // Components configured under this host's name (Prosody lists subdomains of the host).
        for (const h of module.hostNames()) if (h.endsWith(`.${module.host}`)) add(h);
      }
      for (const item of module.discoItems()) add(item.jid, item.name);
      for (const item of discoItemsOption(configured)) add(item.jid, item.name);
      r.add(q);
      return module.reply(ev, r);
    };
    module.hook(`iq-get/host/${NS_DISCO_ITEMS}:query`, hostItems);

    if (module.hostKind !== "local") return;

    // Accounts (XEP-0030 §3.1 for a user's bare JID).
    const accountInfo = async (ev: StanzaEvent) => {
      const to = ev.stanza.attrs.to ?? ev.stanza.attrs.from!;
      const username = jidBare(to).split("@")[0];
      const requester = jidBare(ev.stanza.attrs.from ?? "");
      const self = ev.toSelf || requester === jidBare(to);
      if (!(await module.accounts.exists(username))) {
        return module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      }
      const query = ev.stanza.firstElement()!;
      const node = query.attrs.node;
      const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_INFO } : { xmlns: NS_DISCO_INFO, node });
      if (node === undefined) {
        q.add(new Element("identity", { category: "account", type: "registered" }));
        q.add(new Element("feature", { var: NS_DISCO_INFO }));
        q.add(new Element("feature", { var: NS_DISCO_ITEMS }));
      }
      const data: AccountDiscoEvent & { self: boolean; reply: Element } = { username, requester, query: q, node, self, reply: q };
      const handled = await module.fire("account-disco-info", data);
      if (node !== undefined && handled === undefined) return module.reply(ev, errorReply(ev.stanza, "cancel", "item-not-found"));
      const r = reply(ev.stanza);
      r.add(q);
      return module.reply(ev, r);
    };
    module.hook(`iq-get/bare/${NS_DISCO_INFO}:query`, accountInfo);

    const accountItems = async (ev: StanzaEvent) => {
      const to = ev.stanza.attrs.to ?? ev.stanza.attrs.from!;
      const username = jidBare(to).split("@")[0];
      if (!(await module.accounts.exists(username))) {
        return module.reply(ev, errorReply(ev.stanza, "cancel", "service-unavailable"));
      }
      const query = ev.stanza.firstElement()!;
      const node = query.attrs.node;
      const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_ITEMS } : { xmlns: NS_DISCO_ITEMS, node });
      await module.fire("account-disco-items", { username, requester: jidBare(ev.stanza.attrs.from ?? ""), node, reply: q, self: ev.toSelf });
      const r = reply(ev.stanza);
      r.add(q);
      return module.reply(ev, r);
    };
    module.hook(`iq-get/bare/${NS_DISCO_ITEMS}:query`, accountItems);
  },
});

function discoItemsOption(value: unknown): Array<{ jid: string; name?: string }> {
  // disco_items = { { "proxy.example.com", "File transfer proxy" }; ... }
  const out: Array<{ jid: string; name?: string }> = [];
  if (!Array.isArray(value)) return out;
  for (const entry of value) {
    if (Array.isArray(entry) && typeof entry[0] === "string") out.push({ jid: entry[0], name: typeof entry[1] === "string" ? entry[1] : undefined });
  }
  return out;
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** disco#info / disco#items of a node of the host: answer true when replied. */
    [event: `disco-info-node/${string}`]: EventSpec<StanzaEvent, true>;
    [event: `disco-items-node/${string}`]: EventSpec<StanzaEvent, true>;
    /** Add to an account's disco#info (`reply` is the query element); answer true to say the node exists. */
    "account-disco-info": EventSpec<AccountDiscoEvent & { self: boolean; reply: Element }, true>;
    "account-disco-items": EventSpec<Omit<AccountDiscoEvent, "query"> & { self: boolean; reply: Element }, true>;
  }
}
