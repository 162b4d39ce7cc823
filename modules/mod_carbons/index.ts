// XEP-0280: Message Carbons.
//
// A resource turns carbons on with <enable/> and off with <disable/> (§4, §5; repeated requests
// are fine, §10.1). Copies of eligible messages (./copy.ts) go to the account's other carbons-
// enabled resources: <sent/> for what a resource sends (§8), <received/> for what comes in, to
// every enabled resource that does not get the original under the RFC 6121 rules (§7; the same
// rules mod_message uses, ../lib/im/delivery.ts, with mod_presence's service telling who is available).
//
// Hooks at -0.5: after policy gates such as blocking (100), before mod_message's delivery (-1),
// so that a <private/> element can be removed before the recipient sees it (§9).

import { defineModule, type IqEvent, type ModuleApi } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { jidBare, jidNode, jidResource } from "../../src/util/jid.js";
import { messageType, routeToAccount } from "../lib/im/delivery.js";
import { NOBODY_AVAILABLE } from "../lib/im/presence.js";
import { carbonCopy, NS_CARBONS, NS_CARBONS_RULES, shouldCopy, withoutPrivate } from "./copy.js";

const PRIORITY = -0.5;

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    module.addFeature(NS_CARBONS);
    module.addFeature(NS_CARBONS_RULES);

    const enabled = (s: ClientSession) => s.data.get(module.name) === true;

    // §4, §5: only for the sender's own session (an iq without 'to', or to its own bare JID).
    const toggle = ({ origin, payload }: IqEvent) => {
      if (!isClientSession(origin)) return undefined;
      if (payload.name === "enable") origin.data.set(module.name, true);
      else origin.data.delete(module.name);
      return null;
    };
    module.iq.set(NS_CARBONS, "enable", toggle, { to: "self" });
    module.iq.set(NS_CARBONS, "disable", toggle, { to: "self" });

    // §8: what a resource sends.
    const outbound = (ev: StanzaEvent) => {
      const origin = ev.origin;
      if (!isClientSession(origin) || origin.username === undefined || origin.bareJid === undefined) return undefined;
      const others = module.sessionsOf(origin.username).filter((s) => s !== origin && enabled(s));
      if (others.length === 0) return undefined;
      if (!shouldCopy(ev.stanza, "sent", origin.bareJid).copy) return undefined;
      send(others, ev.stanza, "sent", origin.bareJid);
      return undefined;
    };
    for (const t of ["bare", "full", "host"] as const) module.hook(`pre-message/${t}`, outbound, PRIORITY);

    // §7: what comes in for an account of this host.
    const inbound = (ev: StanzaEvent, toFull: boolean) => {
      const to = ev.stanza.attrs.to ?? (isClientSession(ev.origin) ? ev.origin.bareJid : undefined);
      if (to === undefined) return undefined;
      const username = jidNode(to);
      if (username === undefined) return undefined;
      const userBare = jidBare(to);
      const verdict = shouldCopy(ev.stanza, "received", userBare);
      // §9: the recipient does not see <private/>.
      if (verdict.reason === "private") ev.stanza = withoutPrivate(ev.stanza);
      if (!verdict.copy) return undefined;
      const sessions = module.sessionsOf(username);
      if (sessions.length === 0) return undefined;
      const gotOriginal = recipients(module, ev, sessions, username, toFull);
      const targets = sessions.filter((s) => enabled(s) && !gotOriginal.includes(s));
      send(targets, ev.stanza, "received", userBare);
      return undefined;
    };
    module.hook("message/bare", (ev) => inbound(ev, false), PRIORITY);
    module.hook("message/full", (ev) => inbound(ev, true), PRIORITY);
  },
});

/** The sessions that get the original message under RFC 6121 §8.5 (as mod_message delivers it). */
function recipients(module: ModuleApi, ev: StanzaEvent, sessions: ClientSession[], username: string, toFull: boolean): ClientSession[] {
  if (toFull) {
    const resource = jidResource(ev.stanza.attrs.to!);
    const direct = resource === undefined ? undefined : module.session(username, resource);
    if (direct) return [direct];
  }
  const presence = module.serviceOn(module.host, "presence") ?? NOBODY_AVAILABLE;
  const route = routeToAccount(messageType(ev.stanza.attrs.type), sessions, toFull, (s) => presence.priority(s));
  return route.action === "deliver" ? route.to : [];
}

function send(targets: ClientSession[], stanza: StanzaEvent["stanza"], direction: "sent" | "received", userBare: string): void {
  for (const s of targets) if (s.fullJid !== undefined) s.send(carbonCopy(stanza, direction, userBare, s.fullJid));
}
