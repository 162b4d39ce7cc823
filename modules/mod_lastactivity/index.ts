// XEP-0012: Last Activity of accounts (XEP-0012 §5, Offline User Query): how long ago the account
// last went offline, with the status text of its last unavailable presence.
//
// Kept in the "lastactivity" keyval store ({ t: ms since the epoch, s: status }) so it survives a
// restart. Recorded from the client's own unavailable presence (pre-presence/bare, as Prosody),
// from mod_presence's `presence-unavailable` event, and when a session that was available ends
// without saying so (a dropped connection).
// Who may ask: the account itself, and contacts with a subscription to its presence ("from" or
// "both"), known through mod_roster's "roster" service.

import { defineModule, type IqEvent } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { isClientSession } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { jidBare, jidNode } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import "../lib/im/presence.js";
import { seesPresence } from "../lib/roster/roster.js";
import { NS_LAST } from "../../src/xml/ns.js";
export { NS_LAST };

interface LastRecord {
  [key: string]: number | string;
  t: number;
  s: string;
}

/** Per-session state: what the session last said about its availability. */
const STATE_KEY = "lastactivity";
type SessionState = "available" | "unavailable";

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const roster = await module.depends("roster");
    module.addFeature(NS_LAST);
    const store = module.openKeyval<LastRecord>("lastactivity");
    /** mod_presence's service, when it runs on this host (sessions that went available before this module loaded). */
    const presence = () => module.serviceOn(module.host, "presence");

    const record = async (session: ClientSession, status: string) => {
      session.data.set(STATE_KEY, "unavailable" satisfies SessionState);
      if (!session.username) return;
      await store.set(session.username, { t: Date.now(), s: status });
    };

    // The client's own broadcast presence (no 'to'): available, or unavailable with a status.
    module.hook(
      "pre-presence/bare",
      async (ev: StanzaEvent) => {
        const { stanza, origin } = ev;
        if (stanza.attrs.to !== undefined || !isClientSession(origin)) return undefined;
        const type = stanza.attrs.type;
        if (type === undefined) origin.data.set(STATE_KEY, "available" satisfies SessionState);
        else if (type === "unavailable") await record(origin, stanza.getChildText("status") ?? "");
        return undefined; // only watching
      },
      10,
    );

    // mod_presence tells when a session goes unavailable (also the one it makes up on a disconnect).
    module.hook("presence-unavailable", async (ev: { session?: ClientSession; stanza?: Element }) => {
      const s = ev.session;
      if (!s?.username || s.host !== module.host) return undefined;
      await record(s, ev.stanza?.getChildText("status") ?? "");
      return undefined;
    });

    // A session that was available and ends without an unavailable presence of its own.
    module.hook(
      "resource-unbind",
      async (ev: { session: ClientSession }) => {
        const s = ev.session;
        const wasAvailable = s.data.get(STATE_KEY) === "available" || (s.data.get(STATE_KEY) === undefined && presence()?.current(s) !== undefined);
        if (wasAvailable) await record(s, "");
        return undefined;
      },
      10,
    );

    const isOnline = (username: string) =>
      module.sessionsOf(username).some((s) => !s.closed && (s.data.get(STATE_KEY) === "available" || (s.data.get(STATE_KEY) === undefined && presence()?.current(s) !== undefined)));

    // Does `requester` have a subscription to the presence of `username` (RFC 6121 "from"/"both")?
    const subscribed = async (username: string, requester: string): Promise<boolean> => {
      return seesPresence(await roster.contact(username, requester));
    };

    // Asked of an account (its own, too: the router tries `self` handlers, then `bare` ones).
    const query = async ({ stanza, origin, toSelf }: IqEvent) => {
      const to = stanza.attrs.to;
      const username = to === undefined ? (origin as { username?: string }).username : jidNode(to);
      if (username === undefined) return undefined;
      if (!toSelf) {
        // RFC 6121 §8.5.1: no such account.
        if (!(await module.accounts.exists(username))) return new StanzaError("cancel", "service-unavailable");
        // XEP-0012 §5: only those allowed to see the user's presence.
        const requester = jidBare(stanza.attrs.from ?? "");
        if (!(await subscribed(username, requester))) return new StanzaError("auth", "forbidden");
      }
      let seconds = 0;
      let status = "";
      // XEP-0012 §5: an account with an available resource is active now.
      if (!isOnline(username)) {
        const rec = await store.get(username);
        if (rec && typeof rec.t === "number") {
          seconds = Math.max(0, Math.floor((Date.now() - rec.t) / 1000));
          status = typeof rec.s === "string" ? rec.s : "";
        }
      }
      return new Element("query", { xmlns: NS_LAST, seconds: String(seconds) }, status === "" ? [] : [status]);
    };
    module.iq.get(NS_LAST, "query", query, { to: "bare" });
  },
});
