// XEP-0199: XMPP Ping. The server answers pings addressed to it, and to a client's own account.

import { defineModule } from "../../src/modules/api.js";
import { NS_PING } from "../../src/xml/ns.js";
export { NS_PING };

export default defineModule({
  load(module) {
    module.addFeature(NS_PING);
    module.iq.get(NS_PING, "ping", () => null, { to: ["host", "self"] });
  },
});
