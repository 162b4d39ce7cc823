// SASL EXTERNAL for server streams (XEP-0178), receiving side: offered when the peer presented a
// certificate that a trusted CA signed and that is valid for the domain its stream header names;
// success authenticates that domain on the stream, which then restarts.

import { NS_SASL } from "../../src/xml/ns.js";
import type { S2SInStream } from "../../src/net/s2s.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export const s2sSaslFeature: FeatureProvider<S2SInStream> = {
  name: "s2s_sasl",
  namespaces: [NS_SASL],
  offer(stream, features) {
    if (stream.streamState !== "negotiating" || !stream.externalPossible()) return;
    features.tag("mechanisms", { xmlns: NS_SASL }).textTag("mechanism", "EXTERNAL").up();
  },
  handle: (stream, el) => stream.handleSaslExternal(el),
};
