// Session behaviour: stanzas handled one at a time in order, keepalives, limits on failed logins.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { ModuleApi } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { reply } from "../../src/xml/stanza.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\nc2s_keepalive_interval = 1\nc2s_max_auth_failures = 3\nc2s_timeout = 1\nVirtualHost "localhost"\n`,
  });
  await ts.server.accounts("localhost").create("erin", "pw");
  // A module whose handler awaits for a random time before answering.
  const slow = {
    slow: async () => ({
      default: {
        load(m: ModuleApi) {
          m.hook("iq-get/host/urn:example:slow:query", async (ev: StanzaEvent) => {
            await new Promise((r) => setTimeout(r, Math.random() * 30));
            return m.reply(ev, reply(ev.stanza));
          });
        },
      },
    }),
  };
  Object.assign((ts.server.modules as unknown as { registry: Record<string, unknown> }).registry, slow);
  await ts.server.modules.load(ts.server.hosts.get("localhost")!, "slow");
});
afterAll(() => ts?.stop());

describe("sessions", () => {
  it("handles a session's stanzas one at a time, in order, even when handlers await", async () => {
    const c = await RawClient.login(ts.c2sPort, "erin", "pw", { noTls: true, mechanism: "PLAIN" });
    let batch = "";
    for (let i = 0; i < 20; i++) batch += `<iq type='get' id='s${i}' to='localhost'><query xmlns='urn:example:slow'/></iq>`;
    c.write(batch);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await c.next()).attrs.id!);
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`));
    c.close();
  });

  it("sends whitespace keepalives on an idle stream", async () => {
    const c = await RawClient.login(ts.c2sPort, "erin", "pw", { noTls: true, mechanism: "PLAIN" });
    const before = c.raw.length;
    await new Promise((r) => setTimeout(r, 1700));
    expect(c.raw.slice(before)).toMatch(/^ +$/);
    c.close();
  });

  it("closes a connection that does not log in within c2s_timeout with <connection-timeout/>", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    const err = await c.next(3000);
    expect(err.getChild("connection-timeout", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    await c.waitClosed();
  });

  it("keeps order and answers everything when a client floods faster than handlers run", async () => {
    const c = await RawClient.login(ts.c2sPort, "erin", "pw", { noTls: true, mechanism: "PLAIN" });
    let batch = "";
    for (let i = 0; i < 150; i++) batch += `<iq type='get' id='f${i}' to='localhost'><query xmlns='urn:example:slow'/></iq>`;
    c.write(batch);
    for (let i = 0; i < 150; i++) expect((await c.next(10000)).attrs.id).toBe(`f${i}`);
    c.close();
  }, 30000);

  it("closes the stream with <policy-violation/> after too many failed authentications", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    for (let i = 0; i < 3; i++) {
      const f = await c.auth("PLAIN", "erin", `wrong${i}`);
      expect(f.getChild("not-authorized")).toBeDefined();
    }
    const err = await c.next();
    expect(err.getChild("policy-violation", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    await c.waitClosed();
  });
});
