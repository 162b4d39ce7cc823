// XEP-0199: XMPP Ping. The server answers pings addressed to it, and to a client's own account.

import { defineModule } from "../../src/modules/api.js";

export const NS_PING = "urn:xmpp:ping";

export default defineModule({
  load(module) {
    module.addFeature(NS_PING);
    module.iq.get(NS_PING, "ping", () => null, { to: ["host", "self"] });
  },
});
