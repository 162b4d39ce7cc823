// XEP-0199: XMPP Ping. The server answers pings addressed to it, and to a client's own account.

import { defineModule } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { reply } from "../../src/xml/stanza.js";
import { NS_PING } from "../../src/xml/ns.js";
export { NS_PING };

export default defineModule({
  load(module) {
    module.addFeature(NS_PING);
    const pong = (ev: StanzaEvent) => module.reply(ev, reply(ev.stanza));
    module.hook(`iq-get/host/${NS_PING}:ping`, pong);
    module.hook(`iq-get/self/${NS_PING}:ping`, pong);
  },
});
