// XEP-0191's rules for blocked stanzas, as decisions over a stanza's kind and type (no I/O).

export type StanzaKind = "message" | "presence" | "iq";

/**
 * A stanza for an account that blocks its sender: presence and iq results/errors dropped, iq get/set
 * answered service-unavailable; chat and normal messages answered service-unavailable only with
 * `bounce_blocked_messages` (Prosody's option; never for a message to a connected resource), other
 * messages dropped.
 */
export function inboundAction(
  kind: StanzaKind,
  type: string | undefined,
  opts: { bounceMessages: boolean; toConnectedResource: boolean },
): "drop" | "bounce" {
  if (kind === "iq") return type === "get" || type === "set" ? "bounce" : "drop";
  if (kind === "presence") return "drop";
  const chatOrNormal = type === undefined || type === "normal" || type === "chat";
  return opts.bounceMessages && chatOrNormal && !opts.toConnectedResource ? "bounce" : "drop";
}

/**
 * A stanza a user sends to a JID they blocked: refused with not-acceptable and
 * <blocked xmlns='urn:xmpp:blocking:errors'/>, except errors and iq results, which are dropped.
 */
export function outboundAction(kind: StanzaKind, type: string | undefined): "drop" | "refuse" {
  return type === "error" || (kind === "iq" && type === "result") ? "drop" : "refuse";
}

/**
 * Presence a local account sends through the server (broadcasts, probe answers) is held to that
 * account's blocklist only for availability and probes: subscription management still reaches the
 * contact (as in Prosody), so both rosters agree.
 */
export function senderListApplies(type: string | undefined): boolean {
  return type === undefined || type === "unavailable" || type === "probe";
}
