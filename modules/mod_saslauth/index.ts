// mod_saslauth: SASL for client streams (RFC 6120 §6). The mechanisms are offered once encryption
// is in place (or not required); the exchange itself, its throttling per address and the failure
// counting live in the client stream (C2SConnection.handleSasl).

import { defineModule } from "../../src/modules/api.js";
import type { C2SConnection } from "../../src/net/c2s.js";
import { NS_SASL } from "../../src/xml/ns.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export const saslauthFeature: FeatureProvider<C2SConnection> = {
  name: "saslauth",
  namespaces: [NS_SASL],
  offer(stream, features) {
    if (stream.streamState !== "negotiating") return;
    if (stream.encryptionRequired && !stream.secure) return;
    const mechs = stream.mechanisms();
    if (!mechs.length) return;
    features.tag("mechanisms", { xmlns: NS_SASL });
    for (const m of mechs) features.textTag("mechanism", m);
    features.up();
  },
  handle: (stream, el) => stream.handleSasl(el),
};

export default defineModule({
  load(module) {
    module.addStreamFeature(saslauthFeature, ["c2s"], 80);
  },
});
