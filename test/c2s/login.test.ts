import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.server.accounts("localhost").create("alice", "wonderland");
});
afterAll(() => ts?.stop());

describe("c2s login", () => {
  it("offers only STARTTLS before TLS when encryption is required", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    const f = await c.stream();
    expect(f.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls")?.getChild("required")).toBeDefined();
    expect(f.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")).toBeUndefined();
    c.close();
  });

  it.each(["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"] as const)("logs in with %s after STARTTLS and pings the server", async (mech) => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { mechanism: mech, resource: `r-${mech}` });
    expect(c.jid).toBe(`alice@localhost/r-${mech}`);
    const pong = await c.iq("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(pong.attrs).toMatchObject({ type: "result", id: "p1", from: "localhost", to: c.jid });
    c.close();
  });

  it("logs in over direct TLS (XEP-0368)", async () => {
    const c = await RawClient.login(ts.tlsPort, "alice", "wonderland", { directTls: true, mechanism: "SCRAM-SHA-256" });
    expect(c.jid).toMatch(/^alice@localhost\/.+/);
    c.close();
  });

  it("answers service-unavailable for an iq nobody handles, with the stamped from", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland");
    const r = await c.iq("<iq type='get' id='u1' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
    expect(r.attrs.type).toBe("error");
    expect(r.getChild("error")!.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    c.close();
  });

  it("offers the optional RFC 3921 session and answers the session iq before and after bind", async () => {
    const SESSION = "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>";
    const c = await RawClient.connect(ts.c2sPort);
    onTestFinished(() => c.close());
    await c.stream();
    await c.starttls();
    await c.stream();
    expect((await c.auth("SCRAM-SHA-256", "alice", "wonderland")).name).toBe("success");
    const f = await c.stream();
    expect(f.getChild("session", "urn:ietf:params:xml:ns:xmpp-session")?.getChild("optional")).toBeDefined();
    // Before bind (as some clients do)...
    expect((await c.iq(`<iq type='set' id='s0'>${SESSION}</iq>`)).attrs).toMatchObject({ type: "result", id: "s0" });
    await c.bind("session-test");
    // ...and after bind, as Strophe.js (Converse.js) does: without `to`, and addressed to the server or the account.
    for (const [id, to] of [["s1", ""], ["s2", " to='localhost'"], ["s3", " to='alice@localhost'"]]) {
      const r = await c.iq(`<iq type='set' id='${id}'${to}>${SESSION}</iq>`);
      expect(r.attrs).toMatchObject({ type: "result", id });
      expect(r.getChild("error")).toBeUndefined();
    }
    // The session stays usable.
    const pong = await c.iq("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(pong.attrs).toMatchObject({ type: "result", id: "p2" });
  });
});

describe("connection tracking", () => {
  it("forgets connections once they end, also after STARTTLS", async () => {
    // Earlier tests' connections finish closing first.
    for (let i = 0; i < 100 && ts.server.connections.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const before = ts.server.connections.size;
    expect(before).toBe(0);
    const clients = await Promise.all([0, 1, 2].map(() => RawClient.login(ts.c2sPort, "alice", "wonderland")));
    expect(ts.server.connections.size).toBe(before + 3);
    for (const c of clients) c.close();
    for (let i = 0; i < 100 && ts.server.connections.size > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(ts.server.connections.size).toBe(before);
  });
});

describe("disable_sasl_mechanisms", () => {
  it("never offers nor accepts the mechanisms it lists (e.g. SCRAM-SHA-256 while imported accounts only have SCRAM-SHA-1 keys)", async () => {
    const s = await startTestServer({ config: `disable_sasl_mechanisms = { "scram-sha-256" }\nc2s_require_encryption = false\nallow_unencrypted_plain_auth = true\nVirtualHost "localhost"\n` });
    try {
      await s.server.accounts("localhost").create("alice", "wonderland");
      const c = await RawClient.connect(s.c2sPort);
      const f = await c.stream();
      const mechs = f.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")!.childElements("mechanism").map((m) => m.getText());
      expect(mechs).toEqual(["SCRAM-SHA-1", "PLAIN"]);
      const r = await c.auth("SCRAM-SHA-256", "alice", "wonderland");
      expect(r.name).toBe("failure");
      expect(r.getChild("invalid-mechanism")).toBeDefined();
      c.close();
      (await RawClient.login(s.c2sPort, "alice", "wonderland", { noTls: true, mechanism: "SCRAM-SHA-1" })).close();
    } finally {
      await s.stop();
    }
  });
});
