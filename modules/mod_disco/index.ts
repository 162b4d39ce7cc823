// XEP-0030: Service Discovery for the host and for accounts.
//
// The host's disco#info is what its modules registered (features, identities, XEP-0128 forms);
// its disco#items lists the components under it and `disco_items` from the config.
// Other modules can answer for a node with `disco-info-node/<node>` and `disco-items-node/<node>`
// (the handler returns the iq's answer, as a module.iq handler does), and add to an account's info
// with `account-disco-info` (e.g. PEP).

import { defineModule, type IqAnswer, type IqEvent } from "../../src/modules/api.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
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

    // The host's own info, or a node's: a `disco-info-node/<node>` handler returns the answer.
    module.iq.get(NS_DISCO_INFO, "query", async (ev) => {
      const node = ev.payload.attrs.node;
      if (node !== undefined) return (await module.fire(`disco-info-node/${node}`, ev)) ?? new StanzaError("cancel", "item-not-found");
      const q = new Element("query", { xmlns: NS_DISCO_INFO });
      const info = module.discoInfo();
      for (const id of info.identities) q.add(new Element("identity", id.name === undefined ? { category: id.category, type: id.type } : { category: id.category, type: id.type, name: id.name }));
      for (const f of info.features) q.add(new Element("feature", { var: f }));
      for (const x of info.extensions) q.add(x);
      return q;
    });

    const configured = module.options.table?.("disco_items");
    module.iq.get(NS_DISCO_ITEMS, "query", async (ev) => {
      const node = ev.payload.attrs.node;
      if (node !== undefined) return (await module.fire(`disco-items-node/${node}`, ev)) ?? new StanzaError("cancel", "item-not-found");
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
      return q;
    });

    if (module.hostKind !== "local") return;

    // Accounts (XEP-0030 §3.1 for a user's bare JID): the account asked about, if it exists.
    const account = async (ev: IqEvent): Promise<string | undefined> => {
      const username = jidBare(ev.stanza.attrs.to ?? ev.stanza.attrs.from!).split("@")[0];
      return (await module.accounts.exists(username)) ? username : undefined;
    };
    module.iq.get(
      NS_DISCO_INFO,
      "query",
      async (ev) => {
        const username = await account(ev);
        if (username === undefined) return new StanzaError("cancel", "service-unavailable");
        const requester = jidBare(ev.stanza.attrs.from ?? "");
        const self = ev.toSelf || requester === jidBare(ev.stanza.attrs.to ?? ev.stanza.attrs.from!);
        const node = ev.payload.attrs.node;
        const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_INFO } : { xmlns: NS_DISCO_INFO, node });
        if (node === undefined) {
          q.add(new Element("identity", { category: "account", type: "registered" }));
          q.add(new Element("feature", { var: NS_DISCO_INFO }));
          q.add(new Element("feature", { var: NS_DISCO_ITEMS }));
        }
        const handled = await module.fire("account-disco-info", { username, requester, query: q, node, self, reply: q });
        if (node !== undefined && handled === undefined) return new StanzaError("cancel", "item-not-found");
        return q;
      },
      { to: "bare" },
    );

    module.iq.get(
      NS_DISCO_ITEMS,
      "query",
      async (ev) => {
        const username = await account(ev);
        if (username === undefined) return new StanzaError("cancel", "service-unavailable");
        const node = ev.payload.attrs.node;
        const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_ITEMS } : { xmlns: NS_DISCO_ITEMS, node });
        await module.fire("account-disco-items", { username, requester: jidBare(ev.stanza.attrs.from ?? ""), node, reply: q, self: ev.toSelf });
        return q;
      },
      { to: "bare" },
    );
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
    /** disco#info / disco#items of a node of the host: the handler of the node returns the iq's answer (see IqHandler). */
    [event: `disco-info-node/${string}`]: EventSpec<IqEvent, Exclude<IqAnswer, undefined>>;
    [event: `disco-items-node/${string}`]: EventSpec<IqEvent, Exclude<IqAnswer, undefined>>;
    /** Add to an account's disco#info (`reply` is the query element); answer true to say the node exists. */
    "account-disco-info": EventSpec<AccountDiscoEvent & { self: boolean; reply: Element }, true>;
    "account-disco-items": EventSpec<Omit<AccountDiscoEvent, "query"> & { self: boolean; reply: Element }, true>;
  }
}
