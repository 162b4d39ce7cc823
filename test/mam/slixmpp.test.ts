// A real client library and the message archive: slixmpp's XEP-0313 plugin pages through an
// archive over STARTTLS (./slixmpp_mam.py prints JSON lines; this test reads them).

import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { hasSlixmpp, runPython } from "../helpers/python.js";

const SCRIPT = fileURLToPath(new URL("./slixmpp_mam.py", import.meta.url));
const N = 27;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "roster"; "mam" }
c2s_require_encryption = true
storage = "memory"
VirtualHost "localhost"
`,
  });
  await ts.addUser("romeo", "romeo-pw");
  await ts.addUser("juliet", "juliet-pw");
});
afterAll(() => ts?.stop());

describe("slixmpp: message archive", () => {
  it("finds MAM in disco and pages through the archive forwards, backwards and by correspondent", async () => {
    expect(await hasSlixmpp(), "python3-slixmpp is not installed").toBe(true);
    const { code, events: lines, stderr } = await runPython(SCRIPT, ["127.0.0.1", String(ts.c2sPort), "romeo@localhost", "romeo-pw", "juliet@localhost", "juliet-pw", String(N)], 90000);
    expect(code, `${JSON.stringify(lines)}\n${stderr}`).toBe(0);
    const ev = (name: string) => lines.find((l) => l.event === name);
    const sent = Array.from({ length: N }, (_, i) => `line ${i}`);
    // Every delivered message carried Juliet's archive id.
    expect(ev("received")).toEqual({ event: "received", count: N, with_sid: N });
    expect(ev("disco")).toEqual({ event: "disco", mam: true, sid: true });
    // Forwards in pages of 10 (three queries), the same ids the live messages had.
    expect(ev("forwards")).toEqual({ event: "forwards", bodies: sent, ids_match: true });
    // Backwards: newest first.
    expect(ev("backwards")).toEqual({ event: "backwards", bodies: [...sent].reverse() });
    // One page with a `with` filter, and the total.
    expect(ev("with")).toEqual({ event: "with", bodies: sent.slice(0, 5), count: N, complete: null });
    // The sender's own archive holds what it sent.
    expect(ev("sender")).toEqual({ event: "sender", bodies: sent.slice(0, 3) });
    expect(lines[lines.length - 1]).toEqual({ event: "done" });
  }, 100000);
});
