// mod_tls: STARTTLS (RFC 6120 §5), receiving side, for client and incoming server streams alike.
// Offered while negotiating on a transport that can switch to TLS, marked <required/> when the
// stream's *_require_encryption says so. The TLS handshake itself is the transport's (src/net).

import { defineModule } from "../../src/modules/api.js";
import { Element } from "../../src/xml/stanza.js";
import { NS_TLS, type FeatureProvider, type XmppStream } from "../../src/net/stream.js";

export const tlsFeature: FeatureProvider<XmppStream> = {
  name: "tls",
  namespaces: [NS_TLS],
  offer(stream, features) {
    if (stream.streamState !== "negotiating" || stream.secure || !stream.canStartTls) return;
    features.tag("starttls", { xmlns: NS_TLS });
    if (stream.encryptionRequired) features.tag("required").up();
    features.up();
  },
  async handle(stream, el) {
    if (el.name !== "starttls") {
      stream.close({ condition: "unsupported-stanza-type", text: `<${el.name} xmlns='${NS_TLS}'/> is not supported` });
      return;
    }
    if (stream.streamState !== "negotiating" || !stream.canStartTls) {
      stream.sendStreamElement(new Element("failure", { xmlns: NS_TLS }));
      stream.close();
      return;
    }
    stream.write(`<proceed xmlns='${NS_TLS}'/>`);
    await stream.upgradeToTls("STARTTLS");
  },
};

export default defineModule({
  load(module) {
    module.addStreamFeature(tlsFeature, ["c2s", "s2sin"], 100);
  },
});
