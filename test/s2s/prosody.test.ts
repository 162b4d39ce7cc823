// Herald ↔ Debian's Prosody over server-to-server, both ways, with SASL EXTERNAL and with dialback
// (skipped with a message when Prosody is not installed). See ./interop.ts and ./cases.ts.
import { interopSuite } from "./interop.js";

interopSuite("prosody", "Prosody");
