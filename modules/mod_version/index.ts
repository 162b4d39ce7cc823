// XEP-0092: Software Version. The server says what it is; `hide_os_type = true` leaves out <os/>.

import { type as osType } from "node:os";
import { defineModule } from "../../src/modules/api.js";
import { Element } from "../../src/xml/stanza.js";

export const NS_VERSION = "jabber:iq:version";

export default defineModule({
  load(module) {
    module.addFeature(NS_VERSION);
    const hideOs = module.options.boolean("hide_os_type", false);
    // The kernel's name only: its release would tell an attacker more than a client needs.
    const os = osType();
    module.iq.get(NS_VERSION, "query", () => {
      // XEP-0092 §3: name and version, os optional; in this order.
      const q = new Element("query", { xmlns: NS_VERSION })
        .textTag("name", "Herald")
        .textTag("version", module.serverVersion);
      if (!hideOs) q.textTag("os", os);
      return q;
    });
  },
});
