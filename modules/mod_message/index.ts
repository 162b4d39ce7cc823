// RFC 6121 §8.5: delivery of messages addressed to the accounts of this host.
//
// A message to a connected resource's full JID goes to that resource (§8.5.3.1). A message to a
// bare JID, or to a resource that is not there, follows the rules in ../lib/im/delivery.ts (asking
// mod_presence's service who is available, and at which priority): normal and chat
// to the most available resource(s), headline to every non-negative resource, groupchat answered
// with service-unavailable, errors dropped. When nobody can take a normal or chat message now,
// offline storage is asked; failing that the sender gets service-unavailable (§8.5.2.2.1).
//
// Events fired on the host bus:
//   `message/offline/handle` { username, origin, stanza } (Prosody's name): a handler that returns
//   a truthy value has taken the message (stored it, or decided to drop it silently); mod_offline
//   handles it. Only fired for accounts that exist.
//
// Messages to the host itself (`message/host`) are left to the core fallback (service-unavailable;
// errors dropped), as Prosody does.

import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { jidBare, jidNode, jidResource } from "../../src/util/jid.js";
import { StanzaError } from "../../src/xml/stanza.js";
import { messageType, routeToAccount } from "../lib/im/delivery.js";
import { NOBODY_AVAILABLE } from "../lib/im/presence.js";

/** Data of `message/offline/handle`. */
export interface OfflineHandleEvent {
  username: string;
  origin: StanzaEvent["origin"];
  stanza: StanzaEvent["stanza"];
}

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;

    module.hook(
      "message/full",
      (ev) => {
        const to = ev.stanza.attrs.to!;
        const node = jidNode(to);
        const resource = jidResource(to);
        // RFC 6121 §8.5.3.1: an available or connected resource with that full JID gets it.
        const session = node !== undefined && resource !== undefined ? module.session(node, resource) : undefined;
        if (session && session.send(ev.stanza)) return true;
        // §8.5.3.2.1: no such resource.
        return deliverToAccount(module, ev, jidBare(to), true);
      },
      -1,
    );

    module.hook(
      "message/bare",
      (ev) => {
        // RFC 6120 §10.3.1: no 'to' is the sender's own account.
        const to = ev.stanza.attrs.to ?? (isClientSession(ev.origin) ? ev.origin.bareJid : undefined);
        if (to === undefined) return true;
        return deliverToAccount(module, ev, jidBare(to), false);
      },
      -1,
    );
  },
});

async function deliverToAccount(module: ModuleApi, ev: StanzaEvent, bareJid: string, toFullJid: boolean): Promise<true | StanzaError> {
  const { stanza } = ev;
  const username = jidNode(bareJid);
  const sessions: ClientSession[] = username === undefined ? [] : module.sessionsOf(username);
  const presence = module.serviceOn(module.host, "presence") ?? NOBODY_AVAILABLE;
  const route = routeToAccount(messageType(stanza.attrs.type), sessions, toFullJid, (s) => presence.priority(s));
  switch (route.action) {
    case "drop":
      return true;
    case "bounce":
      return new StanzaError("cancel", "service-unavailable");
    case "deliver": {
      let sent = false;
      for (const s of route.to) if (s.send(stanza)) sent = true;
      if (sent) return true;
      break; // every chosen session closed meanwhile: as if nobody were there
    }
    case "offline":
      break;
  }
  // RFC 6121 §8.5.2.2.1: nobody to take it now: offline storage (XEP-0160), if the account exists
  // (§8.5.1: for an account that does not exist, service-unavailable).
  if (username !== undefined && (await module.accounts.exists(username))) {
    try {
      if (await module.fire("message/offline/handle", { username, origin: ev.origin, stanza })) return true;
    } catch {
      module.log.warn(`Offline storage failed for a message to ${bareJid}`);
    }
  }
  return new StanzaError("cancel", "service-unavailable");
}
