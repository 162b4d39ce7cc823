// Stream feature: resource binding (RFC 6120 §7; Prosody's mod_bind) and the optional legacy
// session establishment (RFC 3921), offered on a client stream once it has authenticated. The
// bind iq itself is handled by the client stream (C2SConnection.bind), the one thing it accepts
// between authentication and binding.

import type { C2SConnection } from "../c2s.js";
import type { FeatureProvider } from "../stream.js";

export const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
export const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";

export const bindFeature: FeatureProvider<C2SConnection> = {
  name: "bind",
  offer(stream, features) {
    if (stream.streamState !== "authenticated") return;
    features.tag("bind", { xmlns: NS_BIND }).up();
    // RFC 6121 Appendix E / RFC 3921: the optional legacy session establishment.
    features.tag("session", { xmlns: NS_SESSION }).tag("optional").up().up();
  },
};
