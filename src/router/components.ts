// Routing to an external component (XEP-0114): `Component "gateway.example.com"` without a module.
// Every stanza addressed to its domain (or to any JID at it) goes to its authenticated stream
// (src/net/component.ts) while it is connected; while it is not, iqs, messages, subscription requests
// and probes are answered with service-unavailable and other presence is dropped.
//
// The handlers run at priority -1, as Prosody's mod_component's do: modules loaded on the component's
// host (modules_enabled in its section) see stanzas first, their iq handlers included.

import type { Host } from "../hosts/host.js";
import type { Router, StanzaEvent, ToType } from "./router.js";

const COMPONENT_ROUTE = -1;

export function installComponentRoute(host: Host, router: Router): void {
  const deliver = async (ev: StanzaEvent, toType: ToType): Promise<boolean> => {
    const stanza = ev.stanza;
    const type = stanza.attrs.type;
    const payload = stanza.firstElement();
    if (stanza.name === "iq" && (type === "get" || type === "set") && payload) {
      const handled = await host.bus.fire(`iq-${type}/${toType}/${payload.attrs.xmlns ?? ""}:${payload.name}`, ev);
      if (handled !== undefined) return true;
    }
    const link = host.component;
    if (link && link.send(stanza)) return true;
    // RFC 6120 §8.3.1: errors and results are never answered with an error.
    if (type === "error" || (stanza.name === "iq" && type === "result")) return true;
    // Presence to an absent entity is dropped (RFC 6121 §8.5.3.2.3, as for an account without resources).
    if (stanza.name === "presence" && type !== "subscribe" && type !== "probe") return true;
    host.log.debug(`Component ${host.name} is not connected; bouncing <${stanza.name}> from ${stanza.attrs.from ?? "?"}`);
    router.bounce(ev.origin, stanza, "wait", "service-unavailable", "Component unavailable");
    return true;
  };
  for (const toType of ["bare", "full", "host"] as ToType[]) {
    host.bus.on(`iq/${toType}`, (ev) => deliver(ev, toType), COMPONENT_ROUTE);
    host.bus.on(`message/${toType}`, (ev) => deliver(ev, toType), COMPONENT_ROUTE);
    host.bus.on(`presence/${toType}`, (ev) => deliver(ev, toType), COMPONENT_ROUTE);
  }
}
