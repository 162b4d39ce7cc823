// XEP-0202: Entity Time. The server answers with UTC and, as Prosody does, an offset of +00:00.

import { defineModule } from "../../src/modules/api.js";
import { Element } from "../../src/xml/stanza.js";

export const NS_TIME = "urn:xmpp:time";

/** XEP-0082 DateTime in UTC, seconds precision: 2006-12-19T17:58:35Z. */
export function utcDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export default defineModule({
  load(module) {
    module.addFeature(NS_TIME);
    // XEP-0202 §3: <tzo/> then <utc/>.
    module.iq.get(NS_TIME, "time", () =>
      new Element("time", { xmlns: NS_TIME }).textTag("tzo", "+00:00").textTag("utc", utcDateTime(Date.now())),
    );
  },
});
