// XEP-0012 §6 (Server Query): jabber:iq:last sent to the server itself answers how long it has run.

import { defineModule } from "../../src/modules/api.js";
import { Element } from "../../src/xml/stanza.js";
import { NS_LAST } from "../../src/xml/ns.js";
export { NS_LAST };

export default defineModule({
  load(module) {
    module.addFeature(NS_LAST);
    module.iq.get(NS_LAST, "query", () => {
      const started = module.serverStarted || Date.now();
      const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
      return new Element("query", { xmlns: NS_LAST, seconds: String(seconds) });
    });
  },
});
