// XEP-0054: vcard-temp. An account sets its own vCard; anyone may read it. The host's own vCard
// (an iq to the server) is read-only here. Stored in the "vcard" keyval store ("" for the host).
// `vcard_max_size` (bytes of the serialized vCard, default 256 KiB) bounds what one account stores.

import { defineModule } from "../../src/modules/api.js";
import { addressedAccount, isClientSession } from "../../src/router/router.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { ELEMENT_JSON_VERSION, elementFromJson, elementToJson, upgradeElementJson, type ElementJson } from "../../src/xml/json.js";
import type { ClientSession } from "../../src/sessions/session.js";
import type { EventSpec } from "../../src/events/bus.js";
import { NS_VCARD } from "../../src/xml/ns.js";
export { NS_VCARD };

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    module.addFeature(NS_VCARD);
    await module.upgradeStore("keyval", "vcard", ELEMENT_JSON_VERSION, upgradeElementJson);
    const store = module.openKeyval<ElementJson>("vcard");
    const maxSize = module.options.integer("vcard_max_size", 256 * 1024, { min: 1024 });

    const vcardOf = async (user: string) =>
      // XEP-0054 §3.1: no vCard: an error, item-not-found.
      elementFromJson(await store.get(user)) ?? new StanzaError("cancel", "item-not-found");

    // Retrieving a user's vCard (XEP-0054 §3.1 own, §3.3 another user's).
    module.iq.get(
      NS_VCARD,
      "vCard",
      async (ev) => {
        const user = addressedAccount(ev);
        if (user === undefined) return undefined;
        // RFC 6121 §8.5.1: an iq to an account that does not exist.
        if (!ev.toSelf && !(await module.accounts.exists(user))) return new StanzaError("cancel", "service-unavailable");
        return vcardOf(user);
      },
      { to: "bare" },
    );
    module.iq.get(NS_VCARD, "vCard", () => vcardOf(""));

    // XEP-0054 §3.2: updating one's own vCard; anybody else's is forbidden.
    module.iq.set(
      NS_VCARD,
      "vCard",
      async (ev) => {
        const { origin } = ev;
        if (!ev.toSelf || !isClientSession(origin) || !origin.username) {
          return new StanzaError("auth", "forbidden", "You may only set your own vCard");
        }
        const username = origin.username;
        const vcard = ev.payload.clone();
        const size = Buffer.byteLength(vcard.toString(), "utf8");
        if (size > maxSize) return new StanzaError("modify", "not-acceptable", `The vCard is too large (${size} bytes, at most ${maxSize})`);
        await store.set(username, elementToJson(vcard));
        ev.afterReply(() => module.fire("vcard-updated", { username, vcard, session: origin }));
        return null;
      },
      { to: "bare" },
    );
    module.iq.set(NS_VCARD, "vCard", () => new StanzaError("auth", "forbidden", "The server's vCard is not set over XMPP"));

    // XEP-0054 §2: the account advertises vcard-temp in its disco#info.
    module.hook("account-disco-info", (data) => {
      if (data.node === undefined) data.reply.add(new Element("feature", { var: NS_VCARD }));
      return undefined;
    });
  },
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    "vcard-updated": EventSpec<{ username: string; vcard: Element; session: ClientSession }, never>;
  }
}
