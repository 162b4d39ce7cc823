// XEP-0198: Stream Management (urn:xmpp:sm:3), Prosody's mod_smacks.
//
// After binding, a client sends <enable resume='true'/>; from then on both sides count the stanzas
// they have handled: the client's stanzas through the session's "stanzas/in" filter (h), ours by
// keeping a copy of every stanza sent ("stanzas/out") until the client acknowledges it with <a h/>.
// We ask for acknowledgements with <r/> once more than `smacks_max_unacked_stanzas` are waiting.
//
// When the connection of a resumable session is lost (not closed), c2s fires `pre-resource-unbind`
// and we keep the session bound without a connection ("hibernating", `smacks-hibernation-start`):
// its presence stays, stanzas to it keep queuing. A new connection that authenticates as the same
// account may send <resume previd h/> within `smacks_hibernation_time` seconds: the session moves
// onto it, gets <resumed/> and every stanza the client had not acknowledged, once
// (`smacks-hibernation-end`). When nobody resumes in time, the session ends for real: presence goes
// unavailable and what the client never acknowledged is not lost (see `handleUnacked`), and a late
// <resume/> gets <failed h='..'><item-not-found/></failed>.
//
// Events on the host bus (Prosody's names), for push notifications and client state indication:
//   "smacks-hibernation-start"        { session }            the connection was lost, the session kept
//   "smacks-hibernation-stanza-queued" { session, stanza, queued }  a stanza queued while hibernating
//   "smacks-hibernation-end"          { session, resumed }   resumed (true) or ended unresumed (false)
//   "smacks-ack-delayed"              { session, queued }    no <a/> within smacks_max_ack_delay
// The state of a session is `session.data.get("smacks")` (a SmacksState) while SM is enabled.

import { randomBytes } from "node:crypto";
import { defineModule } from "../../src/modules/api.js";
import { C2SConnection } from "../../src/net/c2s.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { Element, errorReply, NS_STANZAS } from "../../src/xml/stanza.js";
import { delayElement } from "../lib/im/stored.js";
import { NS_CARBONS, NS_DELAY, NS_MAM } from "../../src/xml/ns.js";
import type { EventSpec } from "../../src/events/bus.js";

export const NS_SM = "urn:xmpp:sm:3";
/** h counts modulo 2^32 (XEP-0198 §4). */
const MOD = 2 ** 32;

/** A stanza sent and not yet acknowledged, with when it was sent (for its <delay/> if resent). */
interface Unacked {
  stanza: Element;
  at: number;
}

/** Stream management state of one session (kept in `session.data` under "smacks"). */
export class SmacksState {
  /** Stanzas handled from the client (modulo 2^32). */
  handled = 0;
  /** The client's last acknowledgement of our stanzas (modulo 2^32). */
  acked = 0;
  readonly queue: Unacked[] = [];
  /** The resumption id, while the session may be resumed. */
  resumeId?: string;
  /** Since when the session has been without a connection. */
  hibernatingSince?: number;
  hibernationTimer?: NodeJS.Timeout;
  awaitingAck = false;
  lastRequested?: number;
  ackRequestScheduled = false;
  ackDelayTimer?: NodeJS.Timeout;
  /** Resending after a resumption: the stanzas are in the queue already. */
  resending = false;
  removeFilters: Array<() => void> = [];

  /** Per-session timers are plain ones (module timers are kept until unload): cleared here. */
  clearTimers(): void {
    clearTimeout(this.ackDelayTimer);
    clearTimeout(this.hibernationTimer);
    this.ackDelayTimer = this.hibernationTimer = undefined;
  }

  /** Stanzas sent so far (modulo 2^32). */
  get sent(): number {
    return (this.acked + this.queue.length) % MOD;
  }
}

interface OldSession {
  h: number;
  at: number;
}

function parseH(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n < MOD ? n : undefined;
}

function failed(condition: string, attrs: Record<string, string> = {}): Element {
  return new Element("failed", { xmlns: NS_SM, ...attrs }).tag(condition, { xmlns: NS_STANZAS }).up();
}

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const opts = module.options;
    const hibernationTime = opts.period("smacks_hibernation_time", 600, { min: 1, max: 86400 });
    const maxUnacked = opts.integer("smacks_max_unacked_stanzas", 0, { min: 0 });
    const maxAckDelay = opts.period("smacks_max_ack_delay", 30, { min: 0, max: 86400 });
    const maxHibernated = opts.integer("smacks_max_hibernated_sessions", 10, { min: 1 });
    const maxOld = opts.integer("smacks_max_old_sessions", 10, { min: 0 });
    const maxQueue = opts.integer("smacks_max_queue_size", 500, { min: 1 });

    /** Resumable sessions by resumption id. */
    const resumable = new Map<string, C2SConnection>();
    /** Counters of sessions that ended unresumed, per account, for late resumption attempts. */
    const oldSessions = new Map<string, Map<string, OldSession>>();

    const stateOf = (session: ClientSession): SmacksState | undefined => {
      const st = session.data.get("smacks");
      return st instanceof SmacksState ? st : undefined;
    };

    const rememberOld = (session: ClientSession, st: SmacksState): void => {
      if (st.resumeId === undefined) return;
      resumable.delete(st.resumeId);
      if (maxOld > 0 && session.username !== undefined) {
        let m = oldSessions.get(session.username);
        if (!m) oldSessions.set(session.username, (m = new Map()));
        m.set(st.resumeId, { h: st.handled, at: Date.now() });
        // Maps keep insertion order: the oldest go first.
        for (const id of m.keys()) {
          if (m.size <= maxOld) break;
          m.delete(id);
        }
      }
      st.resumeId = undefined;
    };

    const requestAck = (conn: C2SConnection, st: SmacksState, force: boolean): void => {
      if (conn.closed || conn.hibernating || st.awaitingAck || stateOf(conn) !== st) return;
      const expected = st.sent;
      if (!force && (st.queue.length <= maxUnacked || expected === st.lastRequested)) return;
      conn.send(new Element("r", { xmlns: NS_SM }));
      st.awaitingAck = true;
      st.lastRequested = expected;
      if (maxAckDelay > 0 && !st.ackDelayTimer) {
        st.ackDelayTimer = setTimeout(() => {
          st.ackDelayTimer = undefined;
          if (st.awaitingAck && !conn.hibernating && !conn.closed) void module.fire("smacks-ack-delayed", { session: conn, queued: st.queue.length });
        }, maxAckDelay * 1000);
        st.ackDelayTimer.unref?.();
      }
    };

    const outgoing = (conn: C2SConnection, st: SmacksState, stanza: Element): Element | undefined => {
      if (st.resending) return stanza;
      st.queue.push({ stanza: stanza.shallowClone(), at: Date.now() });
      if (st.queue.length > maxQueue) {
        // Never drop what the client has not acknowledged: end the session, which hands the
        // queue on (offline storage, other resources, errors to the senders).
        module.log.info(`${conn.fullJid}: more than ${maxQueue} unacknowledged stanzas, ending the session`);
        queueMicrotask(() => conn.close({ condition: "resource-constraint", text: "Too many unacknowledged stanzas" }));
        return conn.hibernating ? undefined : stanza;
      }
      if (conn.hibernating) {
        // Queued for the resumption; push notifications (cloud_notify) listen to this, as in Prosody.
        void module.fire("smacks-hibernation-stanza-queued", { session: conn, stanza, queued: st.queue.length });
        return undefined;
      }
      if (!st.ackRequestScheduled) {
        // After this stanza (and any sent with it) is written.
        st.ackRequestScheduled = true;
        queueMicrotask(() => {
          st.ackRequestScheduled = false;
          requestAck(conn, st, false);
        });
      }
      return stanza;
    };

    /** A queued stanza as it is sent again or handed on: with when we first sent it (XEP-0203). */
    const stamped = (u: Unacked): Element => {
      if (u.stanza.name === "iq" || u.stanza.getChild("delay", NS_DELAY)) return u.stanza;
      const copy = u.stanza.shallowClone();
      copy.children.push(delayElement(module.host, u.at));
      return copy;
    };

    /**
     * Stanzas the client never acknowledged when its session ends: chat and normal messages go to
     * the account (another resource or offline storage; when it refuses them the sender gets an
     * error), except carbon copies and archive query results; other messages and iq requests are
     * bounced with recipient-unavailable (Prosody's choice); headlines, presence, results and errors
     * are dropped (RFC 6121 §8.5.3.2.1, §8.5.3.2.2).
     */
    const handleUnacked = async (session: ClientSession, items: Unacked[]): Promise<void> => {
      for (const item of items) {
        const s = item.stanza;
        const type = s.attrs.type;
        if (type === "error" || type === "result" || s.name === "presence") continue;
        if (s.name === "message") {
          if (type === "headline") continue;
          if (type === undefined || type === "normal" || type === "chat") {
            if (s.getChildByNs(NS_CARBONS)) continue; // a copy of what another resource handled
            // An archive query's result (XEP-0313 §4.2): for that query only, and in the archive anyway (as Prosody).
            if (s.getChild("result", NS_MAM)) continue;
            const copy = stamped(item).shallowClone();
            copy.attrs.to = session.bareJid!;
            await module.post(copy);
            continue;
          }
        }
        const bounce = errorReply(s, "cancel", "recipient-unavailable");
        if (bounce.attrs.from === undefined) bounce.attrs.from = session.fullJid ?? module.host;
        module.send(bounce);
      }
    };

    /** Unless the client resumes in time, end the session. */
    const expire = (conn: C2SConnection, st: SmacksState): void => {
      st.hibernationTimer = undefined;
      if (stateOf(conn) !== st || !conn.hibernating) return;
      module.log.debug(`${conn.fullJid}: not resumed within ${hibernationTime} s, ending the session`);
      conn.close(); // resource-unbind below hands on the queue
    };

    // ---- stream features, enable ----

    module.hook("stream-features", ({ features, state }) => {
      if (state === "authenticated") features.tag("sm", { xmlns: NS_SM }).tag("optional").up().up();
      return undefined;
    });

    module.hook(`stream-element/${NS_SM}:enable`, ({ session, element }) => {
      if (!(session instanceof C2SConnection)) return undefined;
      if (session.fullJid === undefined || stateOf(session)) {
        session.send(failed("unexpected-request"));
        return true;
      }
      const st = new SmacksState();
      session.data.set("smacks", st);
      st.removeFilters.push(
        session.addFilter("stanzas/in", (stanza) => {
          st.handled = (st.handled + 1) % MOD;
          return stanza;
        }),
        session.addFilter("stanzas/out", (stanza) => outgoing(session, st, stanza)),
      );
      const enabled = new Element("enabled", { xmlns: NS_SM });
      if (element.attrs.resume === "true" || element.attrs.resume === "1") {
        st.resumeId = randomBytes(18).toString("base64url");
        resumable.set(st.resumeId, session);
        Object.assign(enabled.attrs, { id: st.resumeId, resume: "true", max: String(hibernationTime) });
      }
      session.send(enabled);
      session.log.debug(`Stream management enabled${st.resumeId ? " (resumable)" : ""}`);
      return true;
    });

    // ---- acknowledgements ----

    module.hook(`stream-element/${NS_SM}:r`, ({ session }) => {
      const st = stateOf(session);
      if (!st || !(session instanceof C2SConnection)) return undefined;
      session.send(new Element("a", { xmlns: NS_SM, h: String(st.handled) }));
      requestAck(session, st, false);
      return true;
    });

    module.hook(`stream-element/${NS_SM}:a`, ({ session, element }) => {
      const st = stateOf(session);
      if (!st || !(session instanceof C2SConnection)) return undefined;
      st.awaitingAck = false;
      clearTimeout(st.ackDelayTimer);
      st.ackDelayTimer = undefined;
      const h = parseH(element.attrs.h);
      if (h === undefined) {
        session.close({ condition: "invalid-xml", text: "Missing or invalid 'h' attribute" });
        return true;
      }
      const count = (h - st.acked + MOD) % MOD;
      if (count > st.queue.length) {
        // XEP-0198 §4: acknowledging more than was sent.
        session.close({
          condition: "undefined-condition",
          text: `You acknowledged ${h} stanzas, ${st.sent} were sent`,
          app: new Element("handled-count-too-high", { xmlns: NS_SM, h: String(h), "send-count": String(st.sent) }),
        });
        return true;
      }
      st.queue.splice(0, count);
      st.acked = h;
      requestAck(session, st, false);
      return true;
    });

    // ---- hibernation and resumption ----

    module.hook("pre-resource-unbind", ({ session, reason }) => {
      const st = stateOf(session);
      if (!st || st.resumeId === undefined || !(session instanceof C2SConnection)) return undefined;
      st.hibernatingSince = Date.now();
      st.awaitingAck = false;
      st.clearTimers();
      st.hibernationTimer = setTimeout(() => expire(session, st), hibernationTime * 1000);
      st.hibernationTimer.unref?.();
      session.log.debug(`Hibernating (${reason}); ${st.queue.length} stanzas unacknowledged`);
      // smacks_max_hibernated_sessions: the account's oldest hibernating sessions end first.
      const asleep = module
        .sessionsOf(session.username!)
        .filter((s) => stateOf(s)?.hibernatingSince !== undefined)
        .sort((a, b) => stateOf(a)!.hibernatingSince! - stateOf(b)!.hibernatingSince!);
      for (const s of asleep.slice(0, Math.max(0, asleep.length - maxHibernated))) s.close();
      void module.fire("smacks-hibernation-start", { session, queue: st.queue.map((u) => u.stanza) });
      return true;
    });

    module.hook(`stream-element/${NS_SM}:resume`, ({ session, element }) => {
      if (!(session instanceof C2SConnection)) return undefined;
      if (session.username === undefined || session.fullJid !== undefined) {
        // Resumption comes after authentication and instead of binding (XEP-0198 §5).
        session.send(failed("unexpected-request"));
        return true;
      }
      const previd = element.attrs.previd ?? "";
      const h = parseH(element.attrs.h);
      const target = resumable.get(previd);
      const st = target && stateOf(target);
      if (!target || !st || target.username !== session.username || target.host !== session.host || target.closed) {
        const old = oldSessions.get(session.username)?.get(previd);
        if (old) oldSessions.get(session.username)!.delete(previd);
        session.log.debug(`Resumption of an unknown or expired session refused`);
        session.send(failed("item-not-found", old ? { h: String(old.h) } : {}));
        return true;
      }
      if (h === undefined || (h - st.acked + MOD) % MOD > st.queue.length) {
        // The client claims what was never sent: the old session cannot be trusted, end it.
        session.send(failed(h === undefined ? "bad-request" : "undefined-condition", { h: String(st.handled) }));
        if (h !== undefined) {
          rememberOld(target, st);
          target.close();
        }
        return true;
      }
      st.queue.splice(0, (h - st.acked + MOD) % MOD);
      st.acked = h;
      const wasHibernating = st.hibernatingSince !== undefined;
      st.hibernatingSince = undefined;
      st.clearTimers();
      st.awaitingAck = false;
      st.lastRequested = undefined;
      target.resumeOn(session);
      target.send(new Element("resumed", { xmlns: NS_SM, previd, h: String(st.handled) }));
      st.resending = true;
      try {
        for (const item of st.queue) target.send(stamped(item));
      } finally {
        st.resending = false;
      }
      target.log.info(`Resumed from ${target.remoteAddress} (${target.transportKind}); ${st.queue.length} stanzas sent again`);
      if (wasHibernating) void module.fire("smacks-hibernation-end", { session: target, resumed: true });
      if (st.queue.length) requestAck(target, st, true);
      return true;
    });

    // ---- the end of a session ----

    module.hook(
      "resource-unbind",
      async ({ session }) => {
        const st = stateOf(session);
        if (!st) return undefined;
        session.data.delete("smacks");
        for (const remove of st.removeFilters) remove();
        st.clearTimers();
        const wasHibernating = st.hibernatingSince !== undefined;
        st.hibernatingSince = undefined;
        if (wasHibernating) rememberOld(session, st);
        else if (st.resumeId !== undefined) {
          // Closed, not lost: nothing to resume (a late attempt gets item-not-found).
          resumable.delete(st.resumeId);
          st.resumeId = undefined;
        }
        if (wasHibernating) void module.fire("smacks-hibernation-end", { session, resumed: false });
        const unacked = st.queue.splice(0);
        if (unacked.length) {
          session.log.debug(`Session ended with ${unacked.length} unacknowledged stanzas`);
          await handleUnacked(session, unacked);
        }
        return undefined; // others listen to this event too
      },
    );

    module.onUnload(async () => {
      // A copy: closing a hibernating session below removes it from the host's sessions.
      const sessions = Array.from(module.allSessions());
      for (const session of sessions) {
        const st = stateOf(session);
        if (!st) continue;
        st.clearTimers();
        for (const remove of st.removeFilters) remove();
        session.data.delete("smacks");
        if (st.hibernatingSince === undefined) continue;
        // Nobody is left to resume it or to end it in time: end it now, handing its queue on.
        session.close();
        await handleUnacked(session, st.queue.splice(0));
      }
      resumable.clear();
      oldSessions.clear();
    });
  },
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** A session's connection was lost and the session kept for resumption. */
    "smacks-hibernation-start": EventSpec<{ session: ClientSession; queue: Element[] }, never>;
    /** A stanza was queued for a hibernating session. */
    "smacks-hibernation-stanza-queued": EventSpec<{ session: ClientSession; stanza: Element; queued: number }, never>;
    /** Hibernation ended: resumed, or given up. */
    "smacks-hibernation-end": EventSpec<{ session: ClientSession; resumed: boolean }, never>;
    /** The client has not acknowledged stanzas for a while. */
    "smacks-ack-delayed": EventSpec<{ session: ClientSession; queued: number }, never>;
  }
}
