// XEP-0202: Entity Time. The server answers with UTC and, as Prosody does, an offset of +00:00.

import { defineModule } from "../../src/modules/api.js";
import { xmppDateTime } from "../../src/util/datetime.js";
import { Element } from "../../src/xml/stanza.js";

export const NS_TIME = "urn:xmpp:time";

export default defineModule({
  load(module) {
    module.addFeature(NS_TIME);
    // XEP-0202 §3: <tzo/> then <utc/>.
    module.iq.get(NS_TIME, "time", () =>
      new Element("time", { xmlns: NS_TIME }).textTag("tzo", "+00:00").textTag("utc", xmppDateTime(Date.now())),
    );
  },
});
