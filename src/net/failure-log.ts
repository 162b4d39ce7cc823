// What an admin needs to see of failures at the default log level: failed authentications, TLS
// handshakes that fail, stream errors Herald sends, and stanza errors that say something went wrong
// in the server. Every line goes through a RateLimitedLog keyed by kind and address, so a flood from
// one address costs a few lines a minute.

import type { RateLimitedLog } from "../util/logger.js";
import { jidResource } from "../util/jid.js";
import { getError, type Element } from "../xml/stanza.js";

/** Stanza error conditions that report a failure of the server rather than of the request. */
export const UNEXPECTED_CONDITIONS: ReadonlySet<string> = new Set(["internal-server-error", "undefined-condition"]);

/** A peer that goes away before or during the handshake is no failure worth an admin's attention. */
function isHangUp(err: Error & { code?: string }): boolean {
  return err.code === "ECONNRESET" || err.code === "EPIPE" || /socket hang up|disconnected before/i.test(err.message);
}

/** A TLS handshake that failed (direct TLS, STARTTLS, HTTPS). */
export function logTlsFailure(log: RateLimitedLog, address: string | undefined, err: Error, where: string): void {
  const addr = address ?? "unknown";
  const msg = `TLS handshake with ${addr} failed (${where}): ${err.message}`;
  if (isHangUp(err)) log.log.debug(msg);
  else log.info(`tls ${addr}`, msg);
}

/**
 * A stanza error on its way to a client: logged when the server produced it (its `from` is a host,
 * a component or an account's bare JID, never another client's full JID) with an unexpected condition.
 */
export function logStanzaErrorSent(log: RateLimitedLog, to: { remoteAddress: string; fullJid?: string }, stanza: Element): void {
  const from = stanza.attrs.from;
  if (from !== undefined && jidResource(from) !== undefined) return;
  const err = getError(stanza);
  if (!err || !UNEXPECTED_CONDITIONS.has(err.condition)) return;
  log.warn(
    `stanza-error ${to.remoteAddress}`,
    `Sent <${err.condition}/> (${stanza.name} id '${stanza.attrs.id ?? ""}', from ${from ?? "the server"}) to ${to.fullJid ?? "an unbound session"} at ${to.remoteAddress}${err.text ? `: ${err.text}` : ""}`,
  );
}
