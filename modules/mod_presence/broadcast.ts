// Broadcast presence (RFC 6121 §4.2, §4.4, §4.5): what happens when a session of ours goes
// available, changes its presence, or goes unavailable (also because it ended); and the flood
// policy that coalesces a session's updates beyond presence_broadcast_burst/_rate. One session's
// broadcasts run one after another (handlers and deferred flushes alike).

import type { ClientSession } from "../../src/sessions/session.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { Element } from "../../src/xml/stanza.js";
import { audience, currentPresence, parsePriority, probeTargets, readdress, uncoveredDirected, withDelay, type SessionPresence } from "./presence.js";
import type { PresenceContext } from "./subscriptions.js";

export class Broadcaster {
  private readonly sessionLock = new KeyedLock<ClientSession>();

  constructor(private readonly ctx: PresenceContext) {}

  /** Run a session's broadcasts one after another; a failure is logged, not thrown. */
  serial(session: ClientSession, fn: () => Promise<void>): Promise<void> {
    return this.sessionLock.run(session, fn).catch((err: unknown) => this.ctx.module.log.error(`presence of ${session.fullJid}: ${(err as Error)?.stack ?? err}`));
  }

  /** A client's presence with no `to` and no type: available (initial or update). */
  async available(session: ClientSession, stanza: Element): Promise<void> {
    const st = this.ctx.state(session);
    const initial = st.current === undefined;
    const stored = readdress(stanza, session.fullJid!, undefined);
    st.current = stored;
    st.priority = parsePriority(stanza);
    st.receivedAt = Date.now();
    // §4.2.2, §4.4.2: the sender's own resource gets it too.
    session.send(readdress(stored, session.fullJid!, session.fullJid!));
    if (!st.bucket.take() && !initial) {
      st.deferred = true; // held back: contacts get the latest when the rate allows
      this.scheduleFlush(session, st);
      return;
    }
    st.deferred = false;
    await this.broadcastAvailable(session, initial);
  }

  /** Unavailable, sent by the client (`reflect`) or because the session ended. */
  async unavailable(session: ClientSession, stanza: Element, reflect: boolean): Promise<void> {
    const { module } = this.ctx;
    const st = this.ctx.state(session);
    this.cancelFlush(st);
    const out = readdress(stanza, session.fullJid!, undefined);
    const wasAvailable = st.current !== undefined;
    const covered = new Set<string>();
    if (wasAvailable) {
      st.current = undefined;
      st.priority = 0;
      if (reflect && !session.closed) session.send(readdress(out, session.fullJid!, session.fullJid!));
      const others = this.otherAvailable(session);
      for (const s of others) covered.add(s.fullJid!);
      for (const jid of await this.audience(session)) covered.add(jid);
      await this.broadcast(session, out, others);
      if (others.length === 0) this.ctx.lastUnavailable.set(session.username!, { stanza: out, when: Date.now() });
    }
    // §4.6.3: and to everyone that got directed presence from this resource.
    for (const jid of uncoveredDirected(st.directed, covered)) await module.post(readdress(out, session.fullJid!, jid));
    st.directed.clear();
    if (wasAvailable) await module.fire("presence-unavailable", { session, stanza: out });
  }

  private otherAvailable(session: ClientSession): ClientSession[] {
    return this.ctx.module.sessionsOf(session.username!).filter((s) => s !== session && currentPresence(s) !== undefined);
  }

  private async audience(session: ClientSession): Promise<string[]> {
    return audience((await this.ctx.roster.roster(session.username!)).items, this.ctx.state(session).errored);
  }

  /** RFC 6121 §4.2.2, §4.4.2: to the user's other available resources and to its contacts. */
  private async broadcast(session: ClientSession, stanza: Element, others: ClientSession[]): Promise<void> {
    const { module } = this.ctx;
    for (const s of others) await module.post(readdress(stanza, session.fullJid!, s.fullJid!));
    for (const jid of await this.audience(session)) await module.post(readdress(stanza, session.fullJid!, jid));
  }

  private async broadcastAvailable(session: ClientSession, initial: boolean): Promise<void> {
    const { module, roster } = this.ctx;
    const stanza = this.ctx.state(session).current;
    if (!stanza) return;
    await this.broadcast(session, stanza, this.otherAvailable(session));
    if (initial) {
      // §4.2.2: probe the contacts the user sees...
      for (const jid of probeTargets((await roster.roster(session.username!)).items)) {
        await module.post(new Element("presence", { type: "probe", from: session.fullJid!, to: jid }));
      }
      // ...give the new resource the presence of the user's other resources...
      for (const s of this.otherAvailable(session)) {
        const other = this.ctx.state(s);
        await module.post(withDelay(readdress(other.current!, s.fullJid!, session.fullJid!), other.receivedAt, module.host));
      }
      // ...and the subscription requests still waiting for an answer (§3.1.3).
      for (const req of await roster.pendingRequests(session.username!)) session.send(req);
    }
    await module.fire("presence-available", { session, stanza, initial });
  }

  /** The latest presence of a session held back by the rate policy goes out when a token is back. */
  private scheduleFlush(session: ClientSession, st: SessionPresence): void {
    if (st.timer) return;
    st.timer = this.ctx.module.addTimer(Math.max(10, st.bucket.wait()), () => {
      st.timer = undefined;
      void this.serial(session, async () => {
        if (!st.deferred || st.current === undefined || session.closed) return;
        if (!st.bucket.take()) return this.scheduleFlush(session, st);
        st.deferred = false;
        await this.broadcastAvailable(session, false);
      });
    });
  }

  private cancelFlush(st: SessionPresence): void {
    st.deferred = false;
    st.timer?.cancel();
    st.timer = undefined;
  }
}
