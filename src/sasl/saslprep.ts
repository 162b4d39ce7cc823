// SASLprep (RFC 4013): the stringprep (RFC 3454) profile for user names and passwords, through
// @mongodb-js/saslprep, which implements all of it with the RFC's own tables: map (B.1 to nothing,
// C.1.2 to U+0020), normalise (NFKC), prohibit (C.1.2, C.2.1, C.2.2, C.3 to C.9), check
// bidirectional strings (RFC 3454 §6), and refuse code points unassigned in Unicode 3.2 (Table
// A.1) in stored strings.
//
// Query or stored string (RFC 3454 §7): user names are queries (RFC 5802 §5.1: unassigned code
// points allowed); a password is a stored string when it is set (RFC 5802 §2.2: unassigned code
// points prohibited), but checked as a query, so passwords set before the stored-string rule keep
// working. NFKC uses the Unicode version of the running engine, not Unicode 3.2.

import { createRequire } from "node:module";
import type prepFunction from "@mongodb-js/saslprep";

// The package builds its tables when loaded (a gunzip and 1.5 MiB of bit sets): loaded on the first
// SASLprep, that is the first login or account change, not by an idle server. A plain require()
// where there is one: the single-executable bundle (CommonJS) bundles it.
let prepFn: typeof prepFunction | undefined;
const loadPrep = (): typeof prepFunction =>
  (prepFn ??= (typeof require === "function" ? require("@mongodb-js/saslprep") : createRequire(import.meta.url)("@mongodb-js/saslprep")) as typeof prepFunction);

/** Thrown by saslprep() for input the profile prohibits. */
export class SaslprepError extends Error {
  override readonly name = "SaslprepError";
}

/**
 * Apply SASLprep to a string; `stored` also refuses unassigned code points. Throws SaslprepError
 * for prohibited characters, broken bidirectional rules or (stored) unassigned code points. The
 * result may be empty.
 */
export function saslprep(input: string, opts: { stored?: boolean } = {}): string {
  const prep = loadPrep();
  try {
    return prep(input, { allowUnassigned: opts.stored !== true });
  } catch (err) {
    throw new SaslprepError((err as Error).message);
  }
}
