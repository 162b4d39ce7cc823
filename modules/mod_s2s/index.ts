// mod_s2s: the stream features of incoming server streams besides STARTTLS and dialback: bidi
// (XEP-0288) and SASL EXTERNAL (XEP-0178). Federation itself (listeners, outgoing connections,
// DNS, certificates: src/net/s2s*.ts) is on unless "s2s" is in the global modules_disabled, as in
// Prosody; then remote domains bounce with remote-server-not-found and no s2s port is open.

import { defineModule } from "../../src/modules/api.js";
import { bidiFeature } from "./bidi.js";
import { s2sSaslFeature } from "./sasl-external.js";

export default defineModule({
  load(module) {
    module.addStreamFeature(bidiFeature, ["s2sin"], 90);
    module.addStreamFeature(s2sSaslFeature, ["s2sin"], 80);
  },
});
