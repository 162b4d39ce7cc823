// mod_dialback: server dialback (XEP-0220) on incoming server streams: offered as
// <dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback> once the stream is encrypted
// (or encryption is not required); <db:result/> and <db:verify/> go to the stream
// (S2SInStream.handleDialback), which verifies with the authoritative server. Keys per XEP-0185
// (src/net/dialback-key.ts).

import { defineModule } from "../../src/modules/api.js";
import { NS_DIALBACK, NS_DIALBACK_FEATURE } from "../../src/xml/ns.js";
import type { S2SInStream } from "../../src/net/s2s.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export const dialbackFeature: FeatureProvider<S2SInStream> = {
  name: "dialback",
  namespaces: [NS_DIALBACK],
  offer(stream, features) {
    if (stream.encryptionRequired && !stream.secure) return;
    features.tag("dialback", { xmlns: NS_DIALBACK_FEATURE }).tag("errors").up().up();
  },
  handle: (stream, el) => stream.handleDialback(el),
};

export default defineModule({
  load(module) {
    module.addStreamFeature(dialbackFeature, ["s2sin"], 60);
  },
});
