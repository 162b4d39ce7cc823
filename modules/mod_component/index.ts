// External components (XEP-0114): `Component "gateway.example.com"` without a module name, with
// `component_secret`. The component's stream (handshake, anti-spoofing) is in src/net/component.ts;
// this module, loaded on the component's host, hands it every stanza addressed to its domain (or
// to any JID at it) while it is connected, and bounces them while it is not.
//
// Its handlers run at priority -1, as Prosody's mod_component's do: modules loaded on the same host
// (modules_enabled in the Component section) still see stanzas first, iq handlers included.

import { defineModule } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { errorReply } from "../../src/xml/stanza.js";

const KINDS = ["message", "presence", "iq"] as const;
const TO_TYPES = ["bare", "full", "host"] as const;

export default defineModule({
  load(module) {
    const host = module.hostObject;
    if (!host.external) {
      module.log.warn(`"component" serves external components; ${module.host} is served by its module "${host.componentModule ?? ""}"`);
      return;
    }
    const deliver = async (ev: StanzaEvent, toType: string) => {
      const stanza = ev.stanza;
      const type = stanza.attrs.type;
      const payload = stanza.firstElement();
      if (stanza.name === "iq" && (type === "get" || type === "set") && payload) {
        // Handlers of modules loaded on the component's host (`iq-get/host/<ns>:<name>`) come first.
        const handled = await module.fire(`iq-${type}/${toType}/${payload.attrs.xmlns ?? ""}:${payload.name}`, ev);
        if (handled !== undefined) return true;
      }
      const link = host.component;
      if (link && link.send(stanza)) return true;
      // RFC 6120 §8.3.1: errors and results are never answered with an error.
      if (type === "error" || (stanza.name === "iq" && type === "result")) return true;
      // Presence to an absent entity is dropped (RFC 6121 §8.5.3.2.3, as for a user without resources).
      if (stanza.name === "presence" && type !== "subscribe" && type !== "probe") return true;
      module.log.debug(`Component ${module.host} is not connected; bouncing <${stanza.name}> from ${stanza.attrs.from ?? "?"}`);
      const reply = errorReply(stanza, "wait", "service-unavailable", "Component unavailable");
      reply.attrs.from = stanza.attrs.to ?? module.host;
      return module.reply(ev, reply);
    };
    for (const kind of KINDS) for (const toType of TO_TYPES) module.hook<StanzaEvent>(`${kind}/${toType}`, (ev) => deliver(ev, toType), -1);
  },
});
