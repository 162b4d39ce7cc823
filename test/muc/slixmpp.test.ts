// A real client: slixmpp's XEP-0045 plugin creates a room, configures it, a second user joins,
// they talk, the subject changes, the affiliation list, a kick, history on rejoin and destroy.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import type { TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";
import { startMucServer } from "./helpers.js";

const script = fileURLToPath(new URL("./slixmpp_muc.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startMucServer({ transport: "sockets" });
});
afterAll(() => ts?.stop());

describe("slixmpp XEP-0045", () => {
  it("runs a room's life with a real client library", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "alice@localhost/slix", "bob@localhost/slix", "pw"], 40000);
    expect(run.events, run.stderr).toEqual([
      { event: "session" },
      { event: "created", codes: [110, 170, 201], affiliation: "owner" },
      { event: "form", has_whois: true, has_persistent: true },
      { event: "configured" },
      { event: "info", name: "Slix room", persistent: true },
      { event: "joined", codes: [110, 170], role: "participant", occupants: ["Other", "Owner"] },
      { event: "message", frm: "slixroom@conference.localhost/Owner", has_stanza_id: true },
      { event: "subject", frm: "slixroom@conference.localhost/Owner" },
      { event: "members", jids: ["bob@localhost"] },
      { event: "kicked", codes: [110, 307] },
      { event: "rejoined", history: ["hello room"], affiliation: "member" },
      { event: "destroyed", alternate: "elsewhere@conference.localhost" },
      { event: "done" },
    ]);
  }, 60000);
});
