// Stream feature: bidirectional server streams (XEP-0288), receiving side: offered before
// authentication; an initiating server that sends <bidi xmlns='urn:xmpp:bidi'/> takes stanzas
// from this server on the same connection, so no second connection is opened back to it.

import type { S2SInStream } from "../s2s.js";
import type { FeatureProvider } from "../stream.js";

export const NS_BIDI = "urn:xmpp:bidi";
export const NS_BIDI_FEATURE = "urn:xmpp:features:bidi";

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
