// mod_vcard4: XEP-0292 vCard4 over XMPP, the profile kept as the account's PEP item
// (node urn:xmpp:vcard4, item "current"), as Prosody's module of that name. An iq get reads it as
// the requester may see it (the node's access model), an iq set from the account publishes it.

import { defineModule } from "../../src/modules/api.js";
import { addressedAccount, isClientSession } from "../../src/router/router.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import "../lib/pubsub/services.js";
import { NS_VCARD4, NODE_VCARD4 } from "../../src/xml/ns.js";

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const pep = await module.depends("pep");
    module.hook("account-disco-info", (data) => {
      if (data.node === undefined) data.reply.add(new Element("feature", { var: NS_VCARD4 }));
      return undefined;
    });

    module.iq.get(
      NS_VCARD4,
      "vcard",
      async (ev) => {
        const { stanza } = ev;
        const username = addressedAccount(ev);
        if (username === undefined) return undefined;
        const account = await pep.service(username);
        if (!account) return new StanzaError("cancel", "service-unavailable");
        const last = await account.service.getLastItem(NODE_VCARD4, stanza.attrs.from ?? account.jid);
        if (last.ok && last.value?.payload instanceof Element) return last.value.payload;
        if (last.ok || last.error === "item-not-found") return new StanzaError("cancel", "item-not-found");
        if (last.error === "forbidden" || last.error === "presence-subscription-required" || last.error === "not-in-roster-group" || last.error === "closed-node") {
          return new StanzaError("auth", "forbidden");
        }
        return new StanzaError("modify", "undefined-condition");
      },
      { to: "bare" },
    );

    // XEP-0292 §3.2: only the account itself publishes its vCard4.
    module.iq.set(
      NS_VCARD4,
      "vcard",
      async (ev) => {
        const { origin } = ev;
        if (!ev.toSelf || !isClientSession(origin) || !origin.username || !origin.fullJid) return new StanzaError("auth", "forbidden");
        const account = await pep.service(origin.username);
        if (!account) return new StanzaError("cancel", "service-unavailable");
        const payload = ev.payload.clone();
        const done = await account.service.publish(NODE_VCARD4, origin.fullJid, "current", {
          payload,
          size: Buffer.byteLength(payload.toString(), "utf8"),
          namespace: NS_VCARD4,
        });
        if (done.ok) return null;
        if (done.error === "forbidden") return new StanzaError("auth", "forbidden");
        return new StanzaError("modify", "undefined-condition", done.text ?? done.error);
      },
      { to: "bare" },
    );
  },
});
