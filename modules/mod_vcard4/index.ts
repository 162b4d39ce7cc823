// mod_vcard4: XEP-0292 vCard4 over XMPP, the profile kept as the account's PEP item
// (node urn:xmpp:vcard4, item "current"), as Prosody's module of that name. An iq get reads it as
// the requester may see it (the node's access model), an iq set from the account publishes it.

import { defineModule } from "../../src/modules/api.js";
import { isClientSession } from "../../src/router/router.js";
import { jidNode } from "../../src/util/jid.js";
import { Element, errorReply, reply } from "../../src/xml/stanza.js";
import { pepService } from "../mod_pep/api.js";
import { NS_VCARD4, NODE_VCARD4 } from "../../src/xml/ns.js";

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    module.hook("account-disco-info", (data) => {
      if (data.node === undefined) data.reply.add(new Element("feature", { var: NS_VCARD4 }));
      return undefined;
    });

    module.hook(`iq-get/bare/${NS_VCARD4}:vcard`, async (ev) => {
      const { stanza, origin } = ev;
      const to = stanza.attrs.to;
      const username = to === undefined ? (isClientSession(origin) ? origin.username : undefined) : jidNode(to);
      if (username === undefined) return undefined;
      const pep = await pepService(module, username);
      if (!pep) return module.reply(ev, errorReply(stanza, "cancel", "service-unavailable"));
      const last = await pep.service.getLastItem(NODE_VCARD4, stanza.attrs.from ?? pep.jid);
      if (last.ok && last.value?.payload instanceof Element) {
        const r = reply(stanza);
        r.add(last.value.payload);
        return module.reply(ev, r);
      }
      if (last.ok || last.error === "item-not-found") return module.reply(ev, errorReply(stanza, "cancel", "item-not-found"));
      if (last.error === "forbidden" || last.error === "presence-subscription-required" || last.error === "not-in-roster-group" || last.error === "closed-node") {
        return module.reply(ev, errorReply(stanza, "auth", "forbidden"));
      }
      return module.reply(ev, errorReply(stanza, "modify", "undefined-condition"));
    });

    // XEP-0292 §3.2: only the account itself publishes its vCard4.
    module.hook(`iq-set/bare/${NS_VCARD4}:vcard`, async (ev) => {
      const { stanza, origin } = ev;
      if (!ev.toSelf || !isClientSession(origin) || !origin.username || !origin.fullJid) {
        return module.reply(ev, errorReply(stanza, "auth", "forbidden"));
      }
      const pep = await pepService(module, origin.username);
      if (!pep) return module.reply(ev, errorReply(stanza, "cancel", "service-unavailable"));
      const payload = stanza.firstElement()!.clone();
      const done = await pep.service.publish(NODE_VCARD4, origin.fullJid, "current", {
        payload,
        size: Buffer.byteLength(payload.toString(), "utf8"),
        namespace: NS_VCARD4,
      });
      if (done.ok) return module.reply(ev, reply(stanza));
      if (done.error === "forbidden") return module.reply(ev, errorReply(stanza, "auth", "forbidden"));
      return module.reply(ev, errorReply(stanza, "modify", "undefined-condition", done.text ?? done.error));
    });
  },
});
