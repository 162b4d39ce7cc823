// Who gets a message addressed to an account: the delivery rules of RFC 6121 §8.5, as pure
// functions over the account's sessions. mod_message delivers with them, and mod_carbons and
// mod_cloud_notify use the same answer to know which resources get the original (XEP-0280 §6:
// copies go only to the resources that did not receive it by the normal rules).

/**
 * What the rules need to know about a session: the priority of its available presence (RFC 6121
 * §4.7.2.3), or undefined while it is not available (PresenceService.priority).
 */
export type PriorityOf<S> = (session: S) => number | undefined;

/** The message types of RFC 6121 §5.2.2; a missing or unknown type is "normal" (§5.2.2). */
export type MessageType = "normal" | "chat" | "groupchat" | "headline" | "error";

export function messageType(type: string | undefined): MessageType {
  switch (type) {
    case "chat":
    case "groupchat":
    case "headline":
    case "error":
      return type;
    default:
      return "normal";
  }
}

/** Available resources with a non-negative priority (RFC 6121 §8.5.2.1.1: the only ones that get bare-JID messages). */
export function nonNegativeResources<S>(sessions: Iterable<S>, priorityOf: PriorityOf<S>): S[] {
  const out: S[] = [];
  for (const s of sessions) {
    const p = priorityOf(s);
    if (p !== undefined && p >= 0) out.push(s);
  }
  return out;
}

/**
 * The "most available" resources (RFC 6121 §8.5.2.1.1, the server's choice): the available
 * resources with the highest non-negative priority. Several of them when they tie, as Prosody does.
 */
export function topResources<S>(sessions: Iterable<S>, priorityOf: PriorityOf<S>): S[] {
  let best = -1;
  let out: S[] = [];
  for (const s of sessions) {
    const p = priorityOf(s);
    if (p === undefined || p < 0) continue;
    if (p > best) {
      best = p;
      out = [s];
    } else if (p === best) {
      out.push(s);
    }
  }
  return out;
}

/**
 * What happens to a message addressed to an account (or to a resource that is not there):
 * deliver to these sessions; "offline": nobody to deliver to now, offer it to offline storage
 * (else service-unavailable); "bounce": answer service-unavailable; "drop": silently ignore.
 */
export type Route<T> = { action: "deliver"; to: T[] } | { action: "offline" | "bounce" | "drop" };

/**
 * RFC 6121 §8.5.2 (bare JID) and §8.5.3.2.1 (a full JID whose resource is not available).
 * `toFullJid`: the message was addressed to a resource that is not available.
 */
export function routeToAccount<T>(type: MessageType, sessions: Iterable<T>, toFullJid: boolean, priorityOf: PriorityOf<T>): Route<T> {
  switch (type) {
    case "error":
      // §8.5.2.1.1, §8.5.2.2.1, §8.5.3.2.1: errors are silently ignored.
      return { action: "drop" };
    case "groupchat":
      // §8.5.2.1.1 / §8.5.2.2.1: a groupchat message to a bare JID is not delivered but answered
      // with service-unavailable; §8.5.3.2.1: the same for an absent resource.
      return { action: "bounce" };
    case "headline": {
      // §8.5.3.2.1: a headline to an absent resource is silently ignored.
      if (toFullJid) return { action: "drop" };
      // §8.5.2.1.1: every available resource with a non-negative priority; §8.5.2.2.1: nobody
      // there, silently ignored (headlines are time-sensitive, XEP-0160 §3: never stored).
      const to = nonNegativeResources(sessions, priorityOf);
      return to.length ? { action: "deliver", to } : { action: "drop" };
    }
    case "normal":
      // §8.5.3.2.1: a normal message to an absent resource: ignore or service-unavailable; we answer,
      // so the sender can try the bare JID.
      if (toFullJid) return { action: "bounce" };
      return chatOrNormal(sessions, priorityOf);
    default:
      // chat, to the bare JID or (§8.5.3.2.1) to an absent resource: as if to the bare JID.
      return chatOrNormal(sessions, priorityOf);
  }
}

/**
 * §8.5.2.1.1: the most available resource(s); if every resource is unavailable or has a negative
 * priority, §8.5.2.2.1: offline storage or service-unavailable.
 */
function chatOrNormal<T>(sessions: Iterable<T>, priorityOf: PriorityOf<T>): Route<T> {
  const to = topResources(sessions, priorityOf);
  return to.length ? { action: "deliver", to } : { action: "offline" };
}
