// The events the core fires, with what handlers receive and may answer (see EventMap in ./bus.ts).
// Modules declare their own events next to their code.

import type { EventSpec } from "./bus.js";
import type { StanzaEvent, ToType } from "../router/router.js";
import type { ClientSession } from "../sessions/session.js";
import type { Element, ErrorType, StanzaError } from "../xml/stanza.js";
import type { ShellCommandAnswer, ShellCommandEvent } from "../admin/shell.js";
import type { XmppStream } from "../net/stream.js";

export type StanzaKind = "message" | "presence" | "iq";

export interface SessionEvent {
  session: ClientSession;
}

/** `user-registering`: a handler may refuse the name with a stanza error. */
export interface RegisteringEvent {
  username: string;
  source: string;
}
export interface RegistrationRefusal {
  type: ErrorType;
  condition: string;
  text?: string;
}

// A stanza's way (router and fallbacks): `<kind>/<to-type>` on the receiving host, `pre-…` on the
// sender's; iq get/set further as `iq-<type>/<to-type>/<xmlns>:<name>` (and `…/self/…`). Handlers
// answer true when they took the stanza, or with the StanzaError the router answers the stanza
// with (returned or thrown: the sender gets the error reply, RFC 6120 §8.3).
export type StanzaEventName = `${StanzaKind}/${ToType}` | `pre-${StanzaKind}/${ToType}`;
type StanzaEvents = { [K in StanzaEventName]: EventSpec<StanzaEvent, boolean | StanzaError> };

export interface CoreEvents extends StanzaEvents {
  [event: `iq-${"get" | "set" | "result" | "error"}/${ToType | "self"}/${string}`]: EventSpec<StanzaEvent, boolean>;

  // The client stream (src/net/c2s.ts).
  "stream-features": EventSpec<{ session: ClientSession; features: Element; state: string }, never>;
  [event: `stream-element/${string}`]: EventSpec<{ session: ClientSession; element: Element }, boolean>;
  [event: `unauthed-iq/${string}`]: EventSpec<{ session: ClientSession; stanza: Element }, boolean>;
  // Server streams (src/net/s2s.ts): modules may add features to those opened to this host.
  "s2s-stream-features": EventSpec<{ session: XmppStream; features: Element; state: string }, never>;
  "authentication-success": EventSpec<SessionEvent, never>;
  "authentication-failure": EventSpec<SessionEvent & { condition: string }, never>;
  "resource-bind": EventSpec<SessionEvent, never>;
  /** The connection was lost: answer true to keep the session bound (stream management). */
  "pre-resource-unbind": EventSpec<SessionEvent & { reason: string }, boolean>;
  "resource-unbind": EventSpec<SessionEvent & { reason: string }, never>;

  // Accounts (host bus, then the global bus).
  "user-registering": EventSpec<RegisteringEvent, RegistrationRefusal>;
  "user-registered": EventSpec<{ host: string; username: string; source: string; ip?: string }, never>;
  "user-deleted": EventSpec<{ host: string; username: string }, never>;

  // The server (global bus).
  "host-activated": EventSpec<{ host: string }, never>;
  "server-started": EventSpec<Record<string, never>, never>;
  "server-stopping": EventSpec<{ reason?: string }, never>;

  /**
   * The shell's status column (c2s:show()): what the host's modules say of a session's state; the
   * presence module answers with the <show/> of an available session ("online" without one).
   */
  "session-status": EventSpec<SessionEvent, string>;

  // `herald shell` sections answered by modules.
  [event: `admin-shell/${string}`]: EventSpec<ShellCommandEvent, ShellCommandAnswer>;
}
