// Herald ↔ Debian's ejabberd over server-to-server, both ways, with SASL EXTERNAL and with dialback
// (skipped with a message when ejabberd is not installed). See ./interop.ts and ./cases.ts.
import { interopSuite } from "./interop.js";

interopSuite("ejabberd", "ejabberd");
