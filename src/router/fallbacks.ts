// What happens to a stanza no module handled, per RFC 6120 §8.3 / §10 and RFC 6121 §8.5.
// Registered on every host's bus at the lowest priority, so modules can override any of it.
//
// iq get/set are dispatched further as `iq-<type>/<to-type>/<xmlns>:<name>` (Prosody's names; for an
// iq to the sender's own account `iq-<type>/self/...` first, then `iq-<type>/bare/...`); nothing
// handling that answers service-unavailable.

import type { Host } from "../hosts/host.js";
import type { Router, StanzaEvent, ToType } from "./router.js";
import { jidNode, jidResource } from "../util/jid.js";

const FALLBACK = -1000;

export function installFallbacks(host: Host, router: Router): void {
  const bus = host.bus;

  for (const toType of ["bare", "full", "host"] as ToType[]) {
    bus.on(`iq/${toType}`, (ev) => dispatchIq(ev, toType, router), FALLBACK);
  }

  // Full JIDs: deliver to the session if it is there.
  bus.on("message/full", (ev) => {
    if (deliverFull(ev)) return true;
    // RFC 6121 §8.5.3.2.1: no such resource; without a message module, say so.
    router.bounce(ev.origin, ev.stanza, "cancel", "service-unavailable");
    return true;
  }, FALLBACK);
  bus.on("presence/full", (ev) => {
    deliverFull(ev);
    return true; // RFC 6121 §8.5.3.2.3: presence to an unavailable resource is silently ignored
  }, FALLBACK);

  for (const toType of ["bare", "host"] as ToType[]) {
    bus.on(`message/${toType}`, (ev) => {
      router.bounce(ev.origin, ev.stanza, "cancel", "service-unavailable");
      return true;
    }, FALLBACK);
    bus.on(`presence/${toType}`, () => true, FALLBACK);
  }
}

function deliverFull(ev: StanzaEvent): boolean {
  const to = ev.stanza.attrs.to!;
  const node = jidNode(to);
  const resource = jidResource(to);
  if (node === undefined || resource === undefined) return false;
  const session = ev.host.session(node, resource);
  if (!session) return false;
  session.send(ev.stanza);
  return true;
}

async function dispatchIq(ev: StanzaEvent, toType: ToType, router: Router): Promise<true> {
  const { stanza, host } = ev;
  const type = stanza.attrs.type;
  if (type === "get" || type === "set") {
    const payload = stanza.firstElement();
    if (payload) {
      const key = `${payload.attrs.xmlns ?? ""}:${payload.name}`;
      let ret: unknown;
      try {
        if (ev.toSelf) ret = await host.bus.fire(`iq-${type}/self/${key}`, ev);
        if (ret === undefined) ret = await host.bus.fire(`iq-${type}/${toType}/${key}`, ev);
      } catch (err) {
        router.bounceFailure(ev.origin, stanza, err);
        return true;
      }
      if (ret !== undefined) return true;
    }
    if (toType === "full" && deliverFull(ev)) return true;
    // RFC 6120 §8.4: no one handles this namespace here.
    router.bounce(ev.origin, stanza, "cancel", "service-unavailable");
    return true;
  }
  // result / error: to a client's full JID, deliver; anything else is dropped (§8.3.1).
  const ret = await host.bus.fire(`iq-${type as "result" | "error"}/${toType}/${stanza.attrs.id ?? ""}`, ev);
  if (ret === undefined && toType === "full") deliverFull(ev);
  return true;
}
