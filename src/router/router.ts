// The router: every stanza goes through here.
//
// process(): a stanza from a client session: validate, stamp `from`, prep `to` (RFC 6120 §8.1).
// post():    any stanza (from a session or from the server itself) to its destination: fire
//            `pre-<kind>/<type>` on the sender's host, then `<kind>/<type>` on the receiving host,
//            where <type> is bare, full or host (Prosody's event names).
// processRemote(): a stanza that came over a server-to-server stream (its stream checked `from` and
//            `to` already): validate, then post().
// Stanzas for domains not served here go to `remote` (federation, src/net/s2s.ts), which bounces
// them with remote-server-not-found / remote-server-timeout when they cannot be delivered.
// The fallbacks that make unhandled stanzas behave as RFC 6120 says live in ./fallbacks.ts.

import type { StanzaEventName } from "../events/core-events.js";
import type { Host } from "../hosts/host.js";
import type { ClientSession, StanzaSink } from "../sessions/session.js";
import { jidBare, jidHost, jidNode, jidPrep, jidSplit } from "../util/jid.js";
import type { Logger } from "../util/logger.js";
import { StanzaError, type Element, type ErrorType } from "../xml/stanza.js";

export type ToType = "bare" | "full" | "host";

/** What handlers of stanza events receive. */
export interface StanzaEvent {
  /** The session or host the stanza came from. */
  origin: StanzaSink | ClientSession | HostOrigin | RemoteOrigin;
  stanza: Element;
  /** The stanza was addressed to the sender's own account (or had no `to`). */
  toSelf: boolean;
  /** The host whose bus the event fires on. */
  host: Host;
}

/** The server itself, as the origin of stanzas modules send. */
export interface HostOrigin {
  readonly type: "local";
  readonly id: string;
  readonly host: string;
}

/** A remote server, as the origin of a stanza it sent over s2s. */
export interface RemoteOrigin {
  readonly type: "s2sin";
  readonly id: string;
  /** The local domain the stanza is addressed to. */
  readonly host: string;
  /** The remote domain it comes from (authenticated on the stream). */
  readonly remote: string;
}

/** Where stanzas for domains not served here go (federation). */
export interface RemoteRoute {
  /** A promise when the connection is congested: resolves once the peer has read what waits (flow control). */
  send(
    stanza: Element,
    local: string,
    remote: string,
    fail: (condition: "remote-server-not-found" | "remote-server-timeout", text: string) => void,
    /** How long a peer that reads nothing is waited for (default REMOTE_FLOW_WAIT_MS). */
    patienceMs?: number,
  ): Promise<void> | undefined | void;
}

/**
 * The longest a sender waits for a congested s2s connection before going on (its stanza is sent
 * already): waiting is flow control, never a deadlock, even if two servers each wait for the other.
 * A peer that has read nothing for that long is not waited for again until it has caught up.
 */
export const REMOTE_FLOW_WAIT_MS = 1000;

/** How post() treats a congested connection to another server. */
export interface PostOptions {
  /**
   * Without it, post() waits while the peer catches up (REMOTE_FLOW_WAIT_MS at most, and not at all
   * for a peer that has read nothing for that long). With it, post() does not wait: the stanza is
   * written, and `onCongested` gets the wait instead, which ends only once the peer has read what
   * waits (or the connection is gone), so a sender with stanzas for many destinations (a pubsub
   * fan-out) holds back only those for this server, for as long as it needs (bounded by the sender;
   * see modules/lib/pubsub/peer-queues.ts).
   */
  onCongested?: (domain: string, wait: Promise<void>) => void;
}

export function isClientSession(o: StanzaEvent["origin"]): o is ClientSession {
  return o.type === "c2s" || o.type === "c2s_unauthed";
}

/** The account a stanza to a bare JID is for: the localpart of `to`, or without `to` the sending client's own. */
export function addressedAccount(ev: Pick<StanzaEvent, "stanza" | "origin">): string | undefined {
  const to = ev.stanza.attrs.to;
  if (to !== undefined) return jidNode(to);
  return isClientSession(ev.origin) ? ev.origin.username : undefined;
}

interface PendingIq {
  resolve: (stanza: Element) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  to: string;
}

const STANZA_TYPES: Record<string, Set<string | undefined>> = {
  iq: new Set(["get", "set", "result", "error"]),
  message: new Set([undefined, "chat", "error", "groupchat", "headline", "normal"]),
  presence: new Set([undefined, "error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"]),
};

export class Router {
  private pendingIqs = new Map<string, PendingIq>();
  private iqCounter = 0;
  /** Federation: set when s2s is on. */
  remote?: RemoteRoute;

  constructor(
    private readonly hosts: Map<string, Host>,
    private readonly log: Logger,
  ) {}

  /** A stanza from an authenticated client session, in the session's queue. */
  async process(session: ClientSession, stanza: Element): Promise<void> {
    const attrs = stanza.attrs;
    // RFC 6120 §8.1.2.1: the server stamps the full JID of the sender.
    attrs.from = session.fullJid!;
    const type = attrs.type;
    if (!STANZA_TYPES[stanza.name].has(type)) {
      return this.bounce(session, stanza, "modify", "bad-request", `Invalid type '${type ?? ""}' for ${stanza.name}`);
    }
    if (attrs.to !== undefined) {
      const to = jidPrep(attrs.to);
      if (to === undefined) return this.bounce(session, stanza, "modify", "jid-malformed", "Invalid destination JID");
      attrs.to = to;
    }
    if (stanza.name === "iq") {
      // RFC 6120 §8.1.3, §8.2.3: iqs need an id; get/set carry exactly one payload.
      if (attrs.id === undefined) return this.bounce(session, stanza, "modify", "bad-request", "An iq needs an id");
      if ((type === "get" || type === "set") && stanza.childElements().length !== 1) {
        return this.bounce(session, stanza, "modify", "bad-request", "An iq get or set needs exactly one payload");
      }
    }
    await this.post(stanza, session);
  }

  /** A stanza from a remote server (its stream has checked that `from` is authenticated and `to` served here). */
  async processRemote(origin: RemoteOrigin, stanza: Element): Promise<void> {
    return this.processChecked(origin, stanza);
  }

  /**
   * A stanza whose stream has checked its `from` and `to` already (a remote server's, an external
   * component's): the type and the iq rules of RFC 6120 §8.1–§8.2, then post().
   */
  async processChecked(origin: StanzaEvent["origin"], stanza: Element): Promise<void> {
    const type = stanza.attrs.type;
    if (!STANZA_TYPES[stanza.name].has(type)) {
      return this.bounce(origin, stanza, "modify", "bad-request", `Invalid type '${type ?? ""}' for ${stanza.name}`);
    }
    if (stanza.name === "iq") {
      if (stanza.attrs.id === undefined) return this.bounce(origin, stanza, "modify", "bad-request", "An iq needs an id");
      if ((type === "get" || type === "set") && stanza.childElements().length !== 1) {
        return this.bounce(origin, stanza, "modify", "bad-request", "An iq get or set needs exactly one payload");
      }
    }
    await this.post(stanza, origin);
  }

  /** Route a stanza to its destination. `origin` is the sender (session or host). */
  async post(original: Element, origin: StanzaEvent["origin"], opts?: PostOptions): Promise<void> {
    let stanza = original;
    const to = stanza.attrs.to;
    const originHost = "host" in origin ? (origin as { host: string }).host : undefined;
    let toType: ToType;
    let toSelf = false;
    let domain: string;
    if (to === undefined) {
      // RFC 6120 §10.3: no `to` means the sender's own account (or the server, for a host origin).
      if (!originHost) return;
      domain = originHost;
      if (isClientSession(origin)) {
        toType = "bare";
        toSelf = true;
      } else {
        toType = "host";
      }
    } else {
      const parts = jidSplit(to);
      if (!parts) return this.bounce(origin, stanza, "modify", "jid-malformed", "Invalid destination JID");
      domain = parts.domain;
      if (parts.node === undefined) toType = "host";
      else if (parts.resource === undefined) toType = "bare";
      else toType = "full";
      if (isClientSession(origin) && toType === "bare" && jidBare(to) === origin.bareJid) toSelf = true;
    }

    // Replies to iqs the server sent itself.
    if (stanza.name === "iq" && (stanza.attrs.type === "result" || stanza.attrs.type === "error")) {
      // Keyed by the peer the iq went to and its id: a reply must come from that peer.
      const from = stanza.attrs.from ?? "";
      let key = `${from}\0${stanza.attrs.id ?? ""}`;
      let pending = this.pendingIqs.get(key);
      if (!pending && from !== jidBare(from)) {
        key = `${jidBare(from)}\0${stanza.attrs.id ?? ""}`;
        pending = this.pendingIqs.get(key);
      }
      if (pending) {
        this.pendingIqs.delete(key);
        clearTimeout(pending.timer);
        pending.resolve(stanza);
        return;
      }
    }

    if (isClientSession(origin)) {
      const own = this.hosts.get(origin.host);
      if (own) {
        const ev: StanzaEvent = { origin, stanza, toSelf, host: own };
        let pre;
        try {
          pre = await own.bus.fire(`pre-${stanza.name}/${toType}` as StanzaEventName, ev);
        } catch (err) {
          return this.bounceFailure(origin, stanza, err);
        }
        if (pre instanceof StanzaError) return this.bounceError(origin, stanza, pre);
        if (pre !== undefined) return;
        // A pre- handler may hand on a changed copy instead of changing the sender's stanza.
        stanza = ev.stanza;
      }
    }

    const dest = this.hosts.get(domain);
    if (!dest) {
      // A domain served elsewhere: over s2s, from one of ours (never relayed for a remote sender).
      const fromDomain = stanza.attrs.from !== undefined ? jidHost(stanza.attrs.from) : originHost;
      if (this.remote && origin.type !== "s2sin" && fromDomain !== undefined && this.hosts.has(fromDomain)) {
        if (stanza.attrs.from === undefined) stanza.attrs.from = fromDomain;
        const sent = stanza;
        const onCongested = opts?.onCongested;
        const congested = this.remote.send(
          sent,
          fromDomain,
          domain,
          (condition, text) => this.bounce(origin, sent, condition === "remote-server-timeout" ? "wait" : "cancel", condition, text),
          onCongested ? Infinity : REMOTE_FLOW_WAIT_MS,
        );
        // Flow control: the sender (a client's session) waits while the peer catches up, or is told
        // so (opts.onCongested) and holds back only what it has for this server.
        if (!congested) return;
        if (onCongested) onCongested(domain, congested);
        else await waitAtMost(congested, REMOTE_FLOW_WAIT_MS);
        return;
      }
      return this.bounce(origin, stanza, "cancel", "remote-server-not-found", `No route to ${domain}`);
    }
    let taken;
    try {
      taken = await dest.bus.fire(`${stanza.name}/${toType}` as StanzaEventName, { origin, stanza, toSelf, host: dest } satisfies StanzaEvent);
    } catch (err) {
      return this.bounceFailure(origin, stanza, err);
    }
    // A handler may answer with the error the stanza gets (returned as well as thrown).
    if (taken instanceof StanzaError) this.bounceError(origin, stanza, taken);
  }

  /**
   * A handler threw while taking `stanza`: a StanzaError is the answer; anything else (already
   * logged by the bus) is internal-server-error (RFC 6120 §8.3.3.8) and nothing else is disturbed.
   */
  bounceFailure(origin: StanzaEvent["origin"], stanza: Element, err: unknown): void {
    this.bounceError(origin, stanza, err instanceof StanzaError ? err : new StanzaError("wait", "internal-server-error"));
  }

  /** Send an error reply for `stanza` back to its sender; errors and results are never bounced (RFC 6120 §8.3.1). */
  bounce(origin: StanzaEvent["origin"], stanza: Element, type: ErrorType, condition: string, text?: string, appError?: Element): void {
    this.bounceError(origin, stanza, new StanzaError(type, condition, text, appError));
  }

  /** Answer `stanza` with `error` (all it carries: text, URI, application condition, `by`), unless it is an error or a result. */
  bounceError(origin: StanzaEvent["origin"], stanza: Element, error: StanzaError): void {
    const t = stanza.attrs.type;
    if (t === "error" || (stanza.name === "iq" && t === "result")) return;
    const reply = error.replyTo(stanza);
    if (reply.attrs.from === undefined && "host" in origin) reply.attrs.from = (origin as { host: string }).host;
    this.deliverReply(origin, reply);
  }

  /** A reply goes straight back to the session it came from when that session is still there. */
  deliverReply(origin: StanzaEvent["origin"], reply: Element): void {
    if ("send" in origin && typeof origin.send === "function") {
      (origin as StanzaSink).send(reply);
      return;
    }
    void this.post(reply, { type: "local", id: "router", host: jidHost(reply.attrs.from ?? "") });
  }

  /** Send an iq from the server and wait for the reply (result or error). */
  sendIq(stanza: Element, origin: HostOrigin, timeoutMs = 30000): Promise<Element> {
    if (stanza.attrs.id === undefined) stanza.attrs.id = `herald-${(++this.iqCounter).toString(36)}`;
    const id = stanza.attrs.id;
    const to = stanza.attrs.to ?? origin.host;
    const key = `${to}\0${id}`;
    if (this.pendingIqs.has(key)) return Promise.reject(new Error(`an iq ${id} to ${to} is already waiting for its reply`));
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingIqs.delete(key);
        reject(new Error(`iq ${id} to ${to} timed out`));
      }, timeoutMs);
      timer.unref?.();
      this.pendingIqs.set(key, { resolve, reject, timer, to });
      void this.post(stanza, origin).catch((err) => {
        this.pendingIqs.delete(key);
        clearTimeout(timer);
        reject(err as Error);
      });
    });
  }

  /** Fail every pending iq (shutdown). */
  cancelPending(): void {
    for (const [id, p] of this.pendingIqs) {
      clearTimeout(p.timer);
      p.reject(new Error("server stopping"));
      this.pendingIqs.delete(id);
    }
  }
}

/** `p`, or `ms` milliseconds, whichever comes first. */
function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
