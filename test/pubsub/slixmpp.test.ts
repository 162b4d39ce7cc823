// A real client: slixmpp's XEP-0060 plugin creates, configures, publishes, subscribes, receives
// notifications, retracts, purges; after a restart of Herald (LevelDB) it finds the configuration,
// the item and the subscription again, and deletes the node (the surviving subscription hears it).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import type { TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";
import { startPubsubServer } from "./helpers.js";

const script = fileURLToPath(new URL("./slixmpp_pubsub.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startPubsubServer({ storage: "leveldb", transport: "sockets" }, ["juliet"]);
});
afterAll(() => ts?.stop());

const args = (mode: string) => [String(ts.c2sPort), "admin@localhost/slix", "juliet@localhost/slix", "pw", mode];

describe("slixmpp XEP-0060", () => {
  it("runs the whole cycle, and the data survives a restart", async () => {
    const run = await runPython(script, args("run"), 40000);
    expect(run.events, run.stderr).toEqual([
      { event: "session" },
      { event: "created", node: "slix" },
      { event: "config", max_items: "20" },
      { event: "configured" },
      { event: "subscribed", subscription: "subscribed" },
      { event: "notified", kind: "publish", node: "slix", id: "one", title: "First" },
      { event: "notified", kind: "publish", node: "slix", id: "two", title: "Second" },
      { event: "items", ids: ["one", "two"] },
      { event: "notified", kind: "retract", node: "slix", id: "one" },
      { event: "notified", kind: "purge", node: "slix" },
      { event: "notified", kind: "publish", node: "slix", id: "keep", title: "Kept" },
      { event: "done" },
    ]);

    ts = await ts.restart();
    const check = await runPython(script, args("check"), 40000);
    expect(check.events, check.stderr).toEqual([
      { event: "session" },
      { event: "config", title: "Slixmpp feed", max_items: "10" },
      { event: "items", ids: ["keep"] },
      { event: "subscriptions", states: ["subscribed"] },
      { event: "notified", kind: "delete", node: "slix" },
      { event: "done" },
    ]);
  }, 90000);
});
