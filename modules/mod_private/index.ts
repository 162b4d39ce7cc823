// XEP-0049: Private XML Storage. Each account keeps XML fragments keyed by (element name,
// namespace), readable and writable only by the account itself.
// Stored in the "private" map store under "<name>:<namespace>", as Prosody keys it.

import { defineModule, type IqHandler } from "../../src/modules/api.js";
import { isClientSession } from "../../src/router/router.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { ELEMENT_JSON_VERSION, elementFromJson, elementToJson, upgradeElementJson, type ElementJson } from "../../src/xml/json.js";
import { NS_PRIVATE } from "../../src/xml/ns.js";
export { NS_PRIVATE };

/** XEP-0049 §2.3: the 'jabber:' namespaces are reserved; storing or fetching them is not acceptable. */
export function isReservedNamespace(ns: string): boolean {
  return ns.startsWith("jabber:");
}

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    module.addFeature(NS_PRIVATE);
    await module.upgradeStore("map", "private", ELEMENT_JSON_VERSION, upgradeElementJson);
    const store = module.openMap<ElementJson>("private");

    const handle: IqHandler = async (ev) => {
      const { stanza, origin } = ev;
      if (!isClientSession(origin) || !origin.username) return undefined;
      const username = origin.username;
      const children = ev.payload.childElements();
      const nsOf = (el: Element) => el.attrs.xmlns ?? NS_PRIVATE;

      // XEP-0049 §2.3: at least one child with a proper namespace.
      if (children.length === 0) return new StanzaError("modify", "not-acceptable", "The query needs a child element");
      for (const c of children) {
        if (isReservedNamespace(nsOf(c))) return new StanzaError("modify", "not-acceptable", `The namespace '${nsOf(c)}' is reserved`);
      }

      if (stanza.attrs.type === "get") {
        // XEP-0049 §2.3: a client MUST NOT query for more than one namespace in a single get.
        if (children.length > 1) return new StanzaError("modify", "bad-request", "Ask for one element at a time");
        const wanted = children[0];
        const stored = elementFromJson(await store.get(username, `${wanted.name}:${nsOf(wanted)}`));
        // Nothing stored: the request's (empty) element comes back.
        return new Element("query", { xmlns: NS_PRIVATE }, [stored ?? new Element(wanted.name, { xmlns: nsOf(wanted) })]);
      }

      // set: every child is stored under its own key; an empty element (whitespace aside) deletes it.
      const entries: Array<[string, ElementJson | undefined]> = [];
      for (const c of children) {
        const data = c.clone();
        data.attrs.xmlns = nsOf(c);
        entries.push([`${c.name}:${nsOf(c)}`, c.childElements().length === 0 && c.getText().trim() === "" ? undefined : elementToJson(data)]);
      }
      await store.setMany(username, entries);
      return null;
    };

    // XEP-0049 §2.3: private data of another user is forbidden.
    const forbidden = () => new StanzaError("auth", "forbidden", "Private storage belongs to its owner");

    module.iq.get(NS_PRIVATE, "query", handle, { to: "self" });
    module.iq.set(NS_PRIVATE, "query", handle, { to: "self" });
    module.iq.get(NS_PRIVATE, "query", forbidden, { to: "bare" });
    module.iq.set(NS_PRIVATE, "query", forbidden, { to: "bare" });
  },
});
