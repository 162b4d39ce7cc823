// The in-memory harness itself: the same stream, SASL and bind code as a socket, stanzas routed
// between in-memory clients, closes seen by both sides, flow control, restarts.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./index.js";

const CONFIG = `
modules_enabled = { "roster"; "presence"; "message"; "ping" }
storage = "memory"
VirtualHost "localhost"
`;

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG, users: ["alice", "bob"] });
});
afterAll(() => ts.stop());

describe("in-memory clients", () => {
  it("has no listening socket", () => {
    expect(ts.server.listeners).toEqual([]);
    expect(ts.c2sPort).toBe(0);
  });

  it("negotiate the stream like a socket client: features, SCRAM, bind", async () => {
    const c = await ts.connect();
    const features = await c.stream();
    // Counted as encrypted: no STARTTLS to offer, SASL offered although c2s_require_encryption is on.
    expect(features.getChild("starttls")).toBeUndefined();
    const mechs = features.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")!.childElements("mechanism").map((m) => m.getText());
    expect(mechs).toContain("SCRAM-SHA-256");
    expect((await c.auth("SCRAM-SHA-256", "alice", "wrong")).name).toBe("failure");
    expect((await c.auth("SCRAM-SHA-256", "alice", "pw")).name).toBe("success");
    await c.stream();
    expect(await c.bind("desk")).toBe("alice@localhost/desk");
    c.close();
    await c.waitClosed();
  });

  it("an insecure in-memory connection is refused SASL where encryption is required", async () => {
    const c = await ts.connect({ secure: false });
    const features = await c.stream();
    expect(features.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")).toBeUndefined();
    c.close();
  });

  it("route stanzas between clients and answer iqs", async () => {
    const alice = await ts.login("alice", "pw", { resource: "a" });
    const bob = await ts.login("bob", "pw", { resource: "b" });
    alice.send("<message to='bob@localhost/b' type='chat' id='m1'><body>hi</body></message>");
    const m = await bob.next();
    expect(m.attrs.from).toBe("alice@localhost/a");
    expect(m.getChildText("body")).toBe("hi");
    const pong = await bob.iq("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(pong.attrs.type).toBe("result");
    alice.close();
    bob.close();
    await alice.waitClosed();
    await bob.waitClosed();
  });

  it("a burst of stanzas, in one write and in many, is answered in order", async () => {
    const alice = await ts.login("alice", "pw", { resource: "burst" });
    const n = 300;
    // One large write, then many small ones.
    alice.write(Array.from({ length: n / 2 }, (_, i) => `<iq type='get' id='b${i}'><ping xmlns='urn:xmpp:ping'/></iq>`).join(""));
    for (let i = n / 2; i < n; i++) alice.write(`<iq type='get' id='b${i}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await alice.next()).attrs.id ?? "");
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `b${i}`));
    alice.close();
    await alice.waitClosed();
  });

  it("accounts made by addUser are whole accounts: listed, verified, PLAIN and SCRAM-SHA-1 logins", async () => {
    await ts.addUser("Erin", "secret");
    const accounts = ts.server.accounts("localhost");
    expect(await accounts.list()).toContain("erin");
    expect(await accounts.verify("erin", "secret")).toBe(true);
    expect(await accounts.verify("erin", "pw")).toBe(false);
    for (const mechanism of ["PLAIN", "SCRAM-SHA-1"] as const) {
      const c = await ts.login("erin", "secret", { mechanism });
      expect(c.jid).toMatch(/^erin@localhost\//);
      c.close();
    }
    await expect(ts.addUser("erin")).rejects.toThrow(/already exists/);
  });

  it("a dropped connection ends the session on the server", async () => {
    const alice = await ts.login("alice", "pw", { resource: "drop" });
    expect([...ts.server.connections].some((c) => c.fullJid === "alice@localhost/drop")).toBe(true);
    alice.socket.destroy();
    await expect.poll(() => [...ts.server.connections].some((c) => c.fullJid === "alice@localhost/drop")).toBe(false);
  });

  it("closeClients() closes every client connect() and login() made so far", async () => {
    const online = () => [...ts.server.connections].filter((c) => c.fullJid?.startsWith("alice@localhost/cc")).length;
    const a = await ts.login("alice", "pw", { resource: "cc1" });
    const b = await ts.login("alice", "pw", { resource: "cc2" });
    const bare = await ts.connect();
    expect(online()).toBe(2);
    ts.closeClients();
    await Promise.all([a.waitClosed(), b.waitClosed(), bare.waitClosed()]);
    await expect.poll(online).toBe(0);
    const later = await ts.login("alice", "pw", { resource: "cc3" });
    ts.closeClients();
    await later.waitClosed();
  });

  it("bad XML gets the stream error and the close", async () => {
    const c = await ts.connect();
    await c.stream();
    c.write("<message><unclosed></message>");
    const err = await c.next();
    expect(err.name).toBe("error");
    expect(err.getChild("not-well-formed", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    await c.waitClosed();
  });

  it("server shutdown closes in-memory streams with system-shutdown", async () => {
    const other = await startTestServer({ transport: "memory", config: CONFIG, users: ["carol"] });
    const carol = await other.login("carol");
    await other.stop();
    const err = await carol.next();
    expect(err.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    await carol.waitClosed();
  });

  it("restarts on the same data with LevelDB, keeping accounts", async () => {
    let other = await startTestServer({ transport: "memory", config: CONFIG.replace('storage = "memory"', ""), users: ["dave"] });
    try {
      other = await other.restart();
      const dave = await other.login("dave");
      expect(dave.jid).toMatch(/^dave@localhost\//);
      dave.close();
    } finally {
      await other.stop();
    }
  });
});
