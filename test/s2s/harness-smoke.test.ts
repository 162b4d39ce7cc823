import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestCa, selfSigned } from "./pki.js";
import { addHostsEntries, loopbackPair, startPeer, type PeerServer } from "./peers.js";
import { RawClient } from "../helpers/xmpp-client.js";

let p: PeerServer, e: PeerServer;
const [pa, ea] = loopbackPair();
beforeAll(async () => {
  addHostsEntries({ "e1.test": ea, "e2.test": ea });
  const dir = mkdtempSync(join(tmpdir(), "smoke-")); console.log("DIR", dir);
  const ca = new TestCa(join(dir, "ca"));
  p = await startPeer("prosody", { dir: join(dir, "p"), address: pa, caFile: ca.cert, domains: [{ name: "p1.test", cert: ca.issue("p1.test") }, { name: "p2.test", cert: selfSigned(join(dir, "ss"), "p2.test") }], resolve: { "e1.test": ea, "e2.test": ea }, users: { alice: "pw" } });
  e = await startPeer("ejabberd", { dir: join(dir, "e"), address: ea, caFile: ca.cert, domains: [{ name: "e1.test", cert: ca.issue("e1.test") }, { name: "e2.test", cert: selfSigned(join(dir, "ss2"), "e2.test") }], resolve: { "p1.test": pa, "p2.test": pa }, users: { bob: "pw" } });
}, 120000);
afterAll(async () => { await p?.stop(); await e?.stop(); });
it("prosody pings ejabberd", async () => {
  for (const [pd, ed] of [["p1.test", "e1.test"], ["p2.test", "e2.test"]]) {
    const c = await RawClient.login(p.c2sPort, "alice", "pw", { noTls: true, domain: pd });
    const r = await c.iq(`<iq type='get' id='p1' to='${ed}'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
    const d = await RawClient.login(e.c2sPort, "bob", "pw", { noTls: true, domain: ed });
    const r2 = await d.iq(`<iq type='get' id='p2' to='${pd}'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
    console.log(String(r), String(r2));
    expect(r.attrs.type).toBe("result");
    expect(r2.attrs.type).toBe("result");
  }
}, 60000);
