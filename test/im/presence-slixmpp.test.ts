// A real client: two slixmpp clients (Debian's python3-slixmpp) add each other and see each
// other's presence over STARTTLS. The script prints JSON lines; this test reads them.

import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { hasSlixmpp, runPython } from "../helpers/python.js";

const SCRIPT = fileURLToPath(new URL("./slixmpp/roster_presence.py", import.meta.url));

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "roster" }
c2s_require_encryption = true
storage = "memory"
VirtualHost "localhost"
`,
  });
  await ts.addUser("romeo", "romeo-pw");
  await ts.addUser("juliet", "juliet-pw");
});
afterAll(() => ts?.stop());

describe("slixmpp: rosters and presence", () => {
  it("two clients add each other, see each other's presence, and see each other leave", async () => {
    expect(await hasSlixmpp(), "python3-slixmpp is not installed").toBe(true);
    const { code, events: lines, stderr } = await runPython(SCRIPT, ["127.0.0.1", String(ts.c2sPort), "romeo@localhost", "romeo-pw", "juliet@localhost", "juliet-pw"], 60000);
    expect(code, `${JSON.stringify(lines)}\n${stderr}`).toBe(0);
    const of = (who: string, event: string) => lines.filter((l) => l.who === who && l.event === event);

    // Both fetched their (empty) roster with a version (XEP-0237).
    expect(of("a", "roster")).toEqual([{ who: "a", event: "roster", ver: "1", items: 0 }]);
    expect(of("b", "roster")).toEqual([{ who: "b", event: "roster", ver: "1", items: 0 }]);
    // Juliet got Romeo's request and answered it, then asked back; Romeo approved.
    expect(of("b", "subscribe").map((l) => l.frm)).toEqual(["romeo@localhost"]);
    expect(of("a", "subscribe").map((l) => l.frm)).toEqual(["juliet@localhost"]);
    expect(of("a", "subscribed").map((l) => l.frm)).toEqual(["juliet@localhost"]);
    expect(of("b", "subscribed").map((l) => l.frm)).toEqual(["romeo@localhost"]);
    // The roster pushes went through the states to "both".
    const pushesA = of("a", "push").map((l) => `${l.subscription}${l.ask ? `+${l.ask}` : ""}`);
    expect(pushesA[0]).toBe("none+subscribe");
    expect(pushesA[pushesA.length - 1]).toBe("both");
    const pushesB = of("b", "push").map((l) => `${l.subscription}${l.ask ? `+${l.ask}` : ""}`);
    expect(pushesB[pushesB.length - 1]).toBe("both");
    expect(lines.find((l) => l.event === "friends")).toEqual({ event: "friends", a: "both", b: "both" });
    // Each saw the other's presence with its status, and Romeo saw Juliet leave.
    expect(of("a", "available").map((l) => l.status)).toContain("Juliet here");
    expect(of("b", "available").map((l) => l.status)).toContain("Romeo here");
    // (the first is the acknowledgement of Romeo's request from Juliet's bare JID, as Prosody sends it)
    expect(of("a", "unavailable").map((l) => l.frm)).toEqual(["juliet@localhost", expect.stringMatching(/^juliet@localhost\/.+/)]);
    expect(lines[lines.length - 1]).toEqual({ event: "done" });
    // And the server agrees.
    const roster = ts.server.modules.service("localhost", "roster")!;
    expect(await roster.items("romeo")).toEqual([{ jid: "juliet@localhost", subscription: "both", groups: [] }]);
    expect(await roster.items("juliet")).toEqual([{ jid: "romeo@localhost", subscription: "both", groups: [] }]);
  }, 70000);
});
