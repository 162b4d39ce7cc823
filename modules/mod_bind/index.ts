// mod_bind: resource binding (RFC 6120 §7) and the optional legacy session establishment
// (RFC 3921), offered on a client stream once it has authenticated. The bind iq itself is handled
// by the client stream (C2SConnection.bind), the one thing it accepts between authentication and
// binding.

import { defineModule } from "../../src/modules/api.js";
import type { C2SConnection } from "../../src/net/c2s.js";
import { NS_BIND, NS_SESSION } from "../../src/xml/ns.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export const bindFeature: FeatureProvider<C2SConnection> = {
  name: "bind",
  offer(stream, features) {
    if (stream.streamState !== "authenticated") return;
    features.tag("bind", { xmlns: NS_BIND }).up();
    // RFC 6121 Appendix E / RFC 3921: the optional legacy session establishment.
    features.tag("session", { xmlns: NS_SESSION }).tag("optional").up().up();
  },
};

export default defineModule({
  load(module) {
    module.addStreamFeature(bindFeature, ["c2s"], 70);
  },
});
