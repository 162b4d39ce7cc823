// Stream feature: SASL for client streams (RFC 6120 §6; Prosody's mod_saslauth). The mechanisms
// are offered once encryption is in place (or not required); the exchange itself, its throttling
// per address and the failure counting live in the client stream (C2SConnection.handleSasl).

import type { C2SConnection } from "../c2s.js";
import type { FeatureProvider } from "../stream.js";

export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

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
