// Two real slixmpp clients (Debian's python3-slixmpp) chat through Herald over STARTTLS, and one
// gets the messages sent while it was offline, with a XEP-0203 delay.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import { runPython } from "../../helpers/python.js";

const script = fileURLToPath(new URL("./two_clients.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("romeo", "montague");
  await ts.addUser("juliet", "montague");
});
afterAll(() => ts?.stop());

describe("slixmpp: messages and offline delivery", () => {
  it("two clients exchange messages; the second gets what was sent while it was away", async () => {
    const run = await runPython(script, [String(ts.c2sPort), "romeo@localhost/orchard", "juliet@localhost/balcony", "montague"], 60000);
    const events = run.events;
    expect(events.filter((e) => e.event === "error"), run.stderr).toEqual([]);
    const received = events.filter((e) => e.event === "received");
    expect(received, run.stderr).toEqual([
      { event: "received", who: "juliet", from: "romeo@localhost/orchard", type: "chat", body: "Hello Juliet!", delay_from: null, delayed: false },
      { event: "received", who: "romeo", from: "juliet@localhost/balcony", type: "chat", body: "Hello Romeo!", delay_from: null, delayed: false },
      { event: "received", who: "juliet", from: "romeo@localhost/orchard", type: "chat", body: "Are you there?", delay_from: "localhost", delayed: true },
      { event: "received", who: "juliet", from: "romeo@localhost/orchard", type: "chat", body: "I will wait.", delay_from: "localhost", delayed: true },
    ]);
    expect(events.map((e) => e.event)).toEqual(["online", "online", "received", "received", "offline", "online", "received", "received", "done"]);
  });
});
