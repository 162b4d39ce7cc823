// XEP-0352: Client State Indication, with Prosody's module and option names (mod_csi, mod_csi_simple).
//
// After authentication the stream features offer <csi xmlns='urn:xmpp:csi:0'/>. A client that sends
// <inactive/> (a phone in a pocket) gets what matters at once and the rest later: each stanza written
// to it passes an output filter (ClientSession.addFilter("stanzas/write")) that keeps back the unimportant ones
// (presence updates, chat states and other messages without a body: ./important.ts) with a XEP-0203
// delay stamp, in order. An important stanza writes everything kept before it, then itself; so does
// a stanza that finds `csi_queue_size` (default 256) kept, and anything the client sends (its radio is on
// anyway), and <active/>, which also ends the holding. Nothing is dropped or reordered (unlike a
// filter that collapses presence), so stream management counting the stanzas handed to send() stays
// right. What is still held when the connection ends is lost with it, like anything in flight.
//
// Options: csi_queue_size (256), csi_important_payloads ({ "{namespace}", "{namespace}name" }).

import { defineModule } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { Element } from "../../src/xml/stanza.js";
import { xmppDateTime } from "../../src/util/datetime.js";
import { isImportant, parsePayloadPatterns } from "./important.js";
import { NS_DELAY } from "../../src/xml/ns.js";

export const NS_CSI = "urn:xmpp:csi:0";

interface CsiState {
  /** Stanzas kept back, oldest first (already stamped). */
  held: Element[];
  /** Removes the output filter. */
  remove: () => void;
}

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const queueSize = module.options.integer("csi_queue_size", 256, { min: 1 });
    const { patterns, invalid } = parsePayloadPatterns(module.options.array("csi_important_payloads"));
    for (const e of invalid) module.log.warn(`csi_important_payloads: "${e}" is neither "{namespace}" nor "{namespace}name"; ignored`);
    const states = new Map<ClientSession, CsiState>();

    const flush = (session: ClientSession, state: CsiState, why: string) => {
      if (state.held.length === 0) return;
      session.log.debug(`Flushing ${state.held.length} held stanza(s) (${why})`);
      const held = state.held;
      state.held = [];
      for (const s of held) session.writeStanza?.(s);
    };

    const inactive = (session: ClientSession) => {
      if (states.has(session) || !session.addFilter || !session.writeStanza) return;
      const bare = session.bareJid ?? session.host;
      const state: CsiState = { held: [], remove: () => {} };
      state.remove = session.addFilter("stanzas/write", (stanza) => {
        const verdict = isImportant(stanza, patterns);
        if (verdict.important || state.held.length >= queueSize) {
          flush(session, state, verdict.important ? verdict.reason : "csi_queue_size reached");
          return stanza;
        }
        // XEP-0203: when the server had it; a copy, since the same element may go to other sessions.
        const copy = stanza.clone();
        if (stanza.name !== "iq") copy.add(new Element("delay", { xmlns: NS_DELAY, from: bare, stamp: xmppDateTime(Date.now()) }));
        state.held.push(copy);
        return undefined;
      });
      states.set(session, state);
    };

    const active = (session: ClientSession, why: string) => {
      const state = states.get(session);
      if (!state) return;
      states.delete(session);
      state.remove();
      flush(session, state, why);
    };

    // XEP-0352 §3: the feature, once authenticated.
    module.hook("stream-features", ({ session, features, state }) => {
      if (state === "authenticated" && session.username !== undefined) features.tag("csi", { xmlns: NS_CSI }).up();
      return undefined;
    });

    // XEP-0352 §4 and §5.
    const element = (on: boolean) => ({ session }: { session: ClientSession }) => {
      if (session.username === undefined) return true; // before authentication: nothing to hold
      if (on) active(session, "client active");
      else inactive(session);
      return true;
    };
    module.hook(`stream-element/${NS_CSI}:active`, element(true));
    module.hook(`stream-element/${NS_CSI}:inactive`, element(false));

    // Anything the client sends means its radio is on: send what was held (it stays inactive).
    const activity = (ev: StanzaEvent) => {
      if (isClientSession(ev.origin)) {
        const state = states.get(ev.origin);
        if (state) flush(ev.origin, state, "client activity");
      }
      return undefined;
    };
    for (const kind of ["message", "presence", "iq"] as const) {
      for (const to of ["bare", "full", "host"] as const) module.hook(`pre-${kind}/${to}`, activity, 1000);
    }

    module.hook("resource-unbind", ({ session }) => {
      const state = states.get(session);
      if (state) {
        states.delete(session);
        state.remove();
      }
      return undefined;
    }, 1000);

    module.onUnload(() => {
      for (const session of states.keys()) active(session, "module unloaded");
    });
  },
});
