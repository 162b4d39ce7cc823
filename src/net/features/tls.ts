// Stream feature: STARTTLS (RFC 6120 §5), receiving side, for client and server streams alike
// (Prosody's mod_tls). Offered while negotiating on a transport that can switch to TLS, marked
// <required/> when the stream's *_require_encryption says so.

import { Element } from "../../xml/stanza.js";
import { NS_TLS, type FeatureProvider, type XmppStream } from "../stream.js";

export { NS_TLS };

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
