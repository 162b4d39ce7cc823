// mod_component: the XEP-0114 handshake of external components (`Component "gateway.example.com"`
// without a module, autoloaded there). The component proves it knows `component_secret` with
// <handshake>hex(SHA-1(stream id + secret))</handshake>; a second connection for a connected
// component is refused or replaces the first (`component_conflict_resolve`). The component stream
// itself and the routing of its stanzas are the core's (src/net/component.ts, src/router/components.ts).

import { createHash, timingSafeEqual } from "node:crypto";
import { defineModule } from "../../src/modules/api.js";
import { NS_COMPONENT, type ComponentStream } from "../../src/net/component.js";
import type { FeatureProvider } from "../../src/net/stream.js";

export default defineModule({
  load(module) {
    const configured = module.options.string("component_secret", "");
    const secret = configured === "" ? undefined : configured;
    // Prosody's default: "kick_new" refuses a second connection, "kick_old" replaces the first.
    const conflictResolve = module.options.enum("component_conflict_resolve", "kick_new", ["kick_new", "kick_old"]);

    const handshake: FeatureProvider<ComponentStream> = {
      name: "component",
      namespaces: [NS_COMPONENT],
      handle(stream, el) {
        const host = stream.streamHost!;
        if (secret === undefined) {
          module.log.warn(`Component ${host.name} tried to connect, but component_secret is not set`);
          stream.refuseHandshake();
          return;
        }
        if (el.childElements().length > 0) {
          stream.refuseHandshake("The handshake carries only the token");
          return;
        }
        // XEP-0114 §3.2: the token is the hex SHA-1 of the stream id followed by the secret.
        const expected = Buffer.from(createHash("sha1").update(stream.streamId + secret).digest("hex"));
        const given = Buffer.from(el.getText().trim().toLowerCase());
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          stream.refuseHandshake("Given token does not match calculated token", `Failed component handshake for ${host.name} from ${stream.remoteAddress}`);
          return;
        }
        const existing = host.component;
        if (existing && existing !== stream) {
          if (conflictResolve === "kick_old") {
            (existing as Partial<ComponentStream>).close?.({ condition: "conflict", text: "Replaced by a new connection" });
          } else {
            stream.close({ condition: "conflict", text: "Component already connected" });
            return;
          }
        }
        stream.acceptHandshake();
      },
    };
    module.addStreamFeature(handshake, ["component"]);
  },
});
