// The server side of SASL mechanisms, as the c2s layer sees it. Nothing here does I/O
// except through the backend.
//
// Use: check that the client's mechanism is one listMechanisms() offered, create it with
// createMechanism(), call start() with the initial response (undefined when the client sent
// none; an empty Buffer for "="), then step() with each response until the result is
// "success" or "failure". A mechanism is used for one exchange only.

import type { StoredCredentials } from "./credentials.js";
import { createPlainMechanism } from "./plain.js";
import { createScramMechanism } from "./scram.js";

export type SaslFailure =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  /** `data`: additional data with success (SCRAM's server-final-message). `username`: the
   * normalised username (localpart). `authzid`: as the client sent it, unchecked: the caller
   * must validate it (a JID) and map problems to "invalid-authzid". */
  | { kind: "success"; data?: Buffer; username: string; authzid?: string }
  | { kind: "failure"; condition: SaslFailure; text?: string };

export interface SaslBackend {
  /** Credentials of a normalised username, undefined when there is no such account. A throw
   * becomes "temporary-auth-failure". */
  getCredentials(username: string): Promise<StoredCredentials | undefined>;
  /** The normalised username (e.g. nodeprep'd localpart), or null when it is not valid.
   * Mechanisms call it with the SASLprep'd username the client sent. */
  normalizeUsername(u: string): string | null;
  /** Accept any password for any valid username (test setups; Prosody's
   * authentication = "insecure"). Only PLAIN can do that: SCRAM is then not available. */
  acceptAny?: boolean;
  /** Called by mechanisms that see the password (PLAIN) after it verified against credentials
   * that are not complete (imported SCRAM-SHA-1-only ones): store the full set. Failures are
   * ignored: the login succeeds anyway. */
  upgradeCredentials?(username: string, password: string): Promise<void>;
}

export interface SaslMechanism {
  readonly name: string;
  start(initial: Buffer | undefined): Promise<SaslStep>;
  step(response: Buffer): Promise<SaslStep>;
}

export type SaslChannel = { secure: boolean; tlsUnique?: Buffer };

/** Knobs mainly for tests; the defaults are right for production. */
export type MechanismOptions = {
  /** Server nonce part for SCRAM: printable ASCII without ','. Default: 24 random base64 chars. */
  nonce?: () => string;
  /** Secret from which SCRAM derives the fake salts of unknown users. Default: random per
   * process. Pass a persistent one to keep fake salts stable across restarts. */
  fakeSaltSecret?: Buffer;
  /** Iteration count shown to unknown users. Default DEFAULT_SCRAM_ITERATIONS. */
  fakeIterations?: number;
};

export const SCRAM_SHA_256 = "SCRAM-SHA-256";
export const SCRAM_SHA_1 = "SCRAM-SHA-1";
export const PLAIN = "PLAIN";

/**
 * Create the server side of a mechanism, or undefined for a name we don't implement (or
 * can't do with this backend: SCRAM with acceptAny). It does not check the offer policy
 * (PLAIN over an unencrypted stream): the caller checks the name against listMechanisms().
 */
export function createMechanism(
  name: string,
  backend: SaslBackend,
  channel: SaslChannel,
  opts: MechanismOptions = {},
): SaslMechanism | undefined {
  switch (name) {
    case SCRAM_SHA_256:
      return backend.acceptAny ? undefined : createScramMechanism("SHA-256", backend, channel, opts);
    case SCRAM_SHA_1:
      return backend.acceptAny ? undefined : createScramMechanism("SHA-1", backend, channel, opts);
    case PLAIN:
      return createPlainMechanism(backend, channel);
    default:
      return undefined;
  }
}

/** Mechanisms to offer, best first: SCRAM-SHA-256, SCRAM-SHA-1 (both not with acceptAny), and
 * PLAIN when the stream is secure or plain text is allowed unencrypted. */
export function listMechanisms(opts: {
  secure: boolean;
  allowPlainUnencrypted: boolean;
  acceptAny?: boolean;
}): string[] {
  const names: string[] = [];
  if (!opts.acceptAny) names.push(SCRAM_SHA_256, SCRAM_SHA_1);
  if (opts.secure || opts.allowPlainUnencrypted) names.push(PLAIN);
  return names;
}
