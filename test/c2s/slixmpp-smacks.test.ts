// Stream management (XEP-0198) with a real client: slixmpp's xep_0198 plugin loses its TCP
// connection and resumes; every message sent to it meanwhile arrives, once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";

const script = fileURLToPath(new URL("../clients/slixmpp_sm_resume.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "ping", "smacks" }
VirtualHost "localhost"
`,
  });
  for (const u of ["alice", "bob"]) await ts.server.accounts("localhost").create(u, "s3cret");
});
afterAll(() => ts?.stop());

describe("slixmpp with stream management", () => {
  it("resumes across a dropped TCP connection with nothing lost and nothing twice", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "s3cret"], 60000);
    const kinds = run.events.map((e) => e.event);
    expect(kinds, JSON.stringify(run.events) + run.stderr).not.toContain("error");
    expect(run.events.find((e) => e.event === "sm_enabled"), run.stderr).toMatchObject({ id: true, resume: true });
    expect(kinds.filter((k) => k === "session_start")).toHaveLength(1); // resumed, not a new session
    expect(kinds).toContain("resumed");
    expect(kinds).not.toContain("sm_failed");
    expect(kinds.indexOf("resumed")).toBeGreaterThan(kinds.indexOf("dropped"));
    expect(run.events.find((e) => e.event === "received")?.ids).toEqual(["m0", "m1", "m2", "m3"]);
    expect(kinds).not.toContain("bob_got"); // no error bounced to the sender
  });
});
