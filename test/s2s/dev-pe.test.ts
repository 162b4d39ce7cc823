import { afterAll, beforeAll, describe } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestCa, selfSigned } from "./pki.js";
import { addHostsEntries, loopbackPair, startPeer, type PeerServer } from "./peers.js";
import { federationCases, USERS, PASSWORD, type Side } from "./cases.js";

let p: PeerServer, e: PeerServer;
const [pa, ea] = loopbackPair();
const users = Object.fromEntries(USERS.map((u) => [u, PASSWORD]));
beforeAll(async () => {
  addHostsEntries({ "e1.test": ea, "e2.test": ea, "pubsub.e1.test": ea, "pubsub.e2.test": ea });
  const dir = mkdtempSync(join(tmpdir(), "smoke-")); console.log("DIR", dir);
  const ca = new TestCa(join(dir, "ca"));
  p = await startPeer("prosody", { dir: join(dir, "p"), address: pa, caFile: ca.cert, domains: [{ name: "p1.test", cert: ca.issue("p1.test") }, { name: "p2.test", cert: selfSigned(join(dir, "ss"), "p2.test") }], resolve: { "e1.test": ea, "e2.test": ea, "pubsub.e1.test": ea, "pubsub.e2.test": ea }, users });
  e = await startPeer("ejabberd", { dir: join(dir, "e"), address: ea, caFile: ca.cert, domains: [{ name: "e1.test", cert: ca.issue("e1.test") }, { name: "e2.test", cert: selfSigned(join(dir, "ss2"), "e2.test") }], resolve: { "p1.test": pa, "p2.test": pa, "pubsub.p1.test": pa, "pubsub.p2.test": pa }, users });
}, 120000);
afterAll(async () => { await p?.stop(); await e?.stop(); });
const side = (s: () => PeerServer, name: string, domain: string): Side => ({ name, domain, pubsub: `pubsub.${domain}`, get c2sPort() { return s().c2sPort; }, log: () => s().log() });
describe("prosody-ejabberd", () => {
  federationCases("EXTERNAL", () => ({ local: side(() => p, "Prosody", "p1.test"), remote: side(() => e, "ejabberd", "e1.test") }));
  federationCases("dialback", () => ({ local: side(() => p, "Prosody", "p2.test"), remote: side(() => e, "ejabberd", "e2.test") }));
});
