// Federation off: `modules_disabled = { "s2s" }` (as in Prosody). Stanzas to remote domains bounce
// with remote-server-not-found, nothing listens on the s2s port, and mod_s2s is not loaded.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { connects, freePort } from "../helpers/ports.js";

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

let ts: TestServer;
let s2sPort: number;


beforeAll(async () => {
  s2sPort = await freePort();
  ts = await startTestServer({
    config: `modules_enabled = { "ping" }\nmodules_disabled = { "s2s" }\nc2s_require_encryption = true\nVirtualHost "localhost"\n`,
    ports: { s2s: [s2sPort] },
  });
  await ts.server.accounts("localhost").create("alice", "wonderland");
});
afterAll(async () => {
  await ts?.stop();
});

describe('modules_disabled = { "s2s" }', () => {
  it("bounces a message to a remote domain with remote-server-not-found", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland");
    c.send("<message to='juliet@elsewhere.example' id='m1' type='chat'><body>hi</body></message>");
    const bounce = await c.next();
    expect(bounce.name).toBe("message");
    expect(bounce.attrs.type).toBe("error");
    expect(bounce.attrs.id).toBe("m1");
    expect(bounce.attrs.from).toBe("juliet@elsewhere.example");
    expect(bounce.getChild("error")!.getChild("remote-server-not-found", NS_STANZAS)).toBeDefined();
    c.close();
  });

  it("leaves the s2s port closed and does not load mod_s2s", async () => {
    expect(ts.server.listeners.some((l) => l.kind === "s2s")).toBe(false);
    expect(await connects(s2sPort)).toBe(false);
    const host = ts.server.hosts.get("localhost")!;
    expect(host.modules.has("s2s")).toBe(false);
    expect(host.modules.has("dialback")).toBe(true);
  });

  it("with federation on, the same port listens and mod_s2s is loaded", async () => {
    const port = await freePort();
    const on = await startTestServer({ config: `VirtualHost "localhost"\n`, ports: { s2s: [port] } });
    try {
      expect(await connects(port)).toBe(true);
      expect(on.server.hosts.get("localhost")!.modules.has("s2s")).toBe(true);
    } finally {
      await on.stop();
    }
  });
});
