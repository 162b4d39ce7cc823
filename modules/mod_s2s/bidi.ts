// Bidirectional server streams (XEP-0288), receiving side: offered before authentication; an
// initiating server that sends <bidi xmlns='urn:xmpp:bidi'/> takes stanzas from this server on the
// same connection, so no second connection is opened back to it.

import { NS_BIDI, NS_BIDI_FEATURE } from "../../src/xml/ns.js";
import type { S2SInStream } from "../../src/net/s2s.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export const bidiFeature: FeatureProvider<S2SInStream> = {
  name: "bidi",
  namespaces: [NS_BIDI],
  offer(stream, features) {
    if (stream.streamState === "negotiating" && !stream.bidi) features.tag("bidi", { xmlns: NS_BIDI_FEATURE }).up();
  },
  handle(stream, el) {
    if (el.name !== "bidi") return stream.close({ condition: "unsupported-stanza-type" });
    stream.bidi = true;
  },
};
