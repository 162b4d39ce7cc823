// A real third-party client, slixmpp, logs in over TCP + STARTTLS with SCRAM-SHA-1 and pings the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";

const script = fileURLToPath(new URL("../clients/slixmpp_login_ping.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.server.accounts("localhost").create("romeo", "montague");
});
afterAll(() => ts?.stop());

describe("slixmpp", () => {
  it("logs in with STARTTLS + SCRAM-SHA-1, binds and pings", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "romeo@localhost/slix", "montague"]);
    const kinds = run.events.map((e) => e.event);
    expect(kinds, run.stderr).toEqual(["tls", "auth", "session", "pong", "done"]);
    expect(run.events[1].mech).toBe("SCRAM-SHA-1");
    expect(run.events[2].jid).toBe("romeo@localhost/slix");
  });

  it("reports a failed authentication for a wrong password", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "romeo@localhost/slix", "capulet"]);
    expect(run.events.map((e) => e.event)).toContain("failed_auth");
    expect(run.events.map((e) => e.event)).not.toContain("session");
  });
});
