// XEP-0352 client state indication (mod_csi_simple), in memory and with slixmpp: the stream feature, holding
// back presence and chat states while inactive, and each way the held stanzas are flushed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import { RawClient } from "../../helpers/xmpp-client.js";
import { runPython } from "../../helpers/python.js";
import type { Element } from "../../../src/xml/stanza.js";

const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "csi_simple"; "ping" }
csi_queue_size = 4
VirtualHost "localhost"
`;

const NS_CSI = "urn:xmpp:csi:0";
const CHATSTATE = (to: string, id: string) => `<message type='chat' to='${to}' id='${id}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`;

function login(ts: TestServer, user: string, resource: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

/** A round trip to the server: everything the client sent before has been handled. */
async function barrier(c: RawClient, id: string): Promise<void> {
  const r = await c.iq(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  expect(r.attrs.type).toBe("result");
}

const delayOf = (el: Element) => el.getChild("delay", "urn:xmpp:delay");

describe("client state indication (mod_csi_simple)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG });
    for (const u of ["alice", "bob", "carol"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  /** Alice, logged in and inactive; Bob, who writes to her. */
  async function inactivePair(resource: string): Promise<{ alice: RawClient; bob: RawClient; to: string }> {
    const alice = await login(ts, "alice", resource);
    const bob = await login(ts, "bob", `for-${resource}`);
    alice.send(`<inactive xmlns='${NS_CSI}'/>`);
    await barrier(alice, "a-inactive");
    return { alice, bob, to: alice.jid };
  }

  it("offers <csi/> once authenticated, not before", async () => {
    const c = await ts.connect();
    const before = await c.stream();
    expect(before.getChild("csi", NS_CSI)).toBeUndefined();
    expect((await c.auth("PLAIN", "carol", "pw")).name).toBe("success");
    const after = await c.stream();
    expect(after.getChild("csi", NS_CSI)).toBeDefined();
    c.close();
  });

  it("holds presence and chat states while inactive and sends them, stamped and in order, before a message with a body", async () => {
    const { alice, bob, to } = await inactivePair("phone1");
    bob.send(`<presence to='${to}' id='p1'><show>away</show></presence>`);
    bob.send(CHATSTATE(to, "c1"));
    await barrier(bob, "b1");
    // Bob's stanzas have been handled; none of them was written to Alice.
    expect(alice.raw).not.toContain("composing");
    expect(alice.raw).not.toContain("<show>");
    bob.send(`<message type='chat' to='${to}' id='m1'><body>wake up</body></message>`);
    const got = [await alice.next(), await alice.next(), await alice.next()];
    expect(got.map((e) => `${e.name}:${e.attrs.id}`)).toEqual(["presence:p1", "message:c1", "message:m1"]);
    for (const held of got.slice(0, 2)) {
      expect(delayOf(held)?.attrs.from).toBe("alice@localhost");
      expect(delayOf(held)?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(delayOf(got[2])).toBeUndefined();
    // Still inactive: the next chat state waits again.
    bob.send(CHATSTATE(to, "c2"));
    await barrier(bob, "b2");
    expect(alice.raw).not.toContain("'c2'");
    alice.close();
    bob.close();
  });

  it("<active/> sends what was held and ends the holding", async () => {
    const { alice, bob, to } = await inactivePair("phone2");
    bob.send(CHATSTATE(to, "c3"));
    await barrier(bob, "b3");
    alice.send(`<active xmlns='${NS_CSI}'/>`);
    const held = await alice.next();
    expect(held.attrs.id).toBe("c3");
    expect(delayOf(held)).toBeDefined();
    bob.send(CHATSTATE(to, "c4"));
    const live = await alice.next();
    expect(live.attrs.id).toBe("c4");
    expect(delayOf(live)).toBeUndefined();
    alice.close();
    bob.close();
  });

  it("sends what was held when the client sends anything (it stays inactive)", async () => {
    const { alice, bob, to } = await inactivePair("phone3");
    bob.send(CHATSTATE(to, "c5"));
    await barrier(bob, "b5");
    alice.send(`<message type='chat' to='${bob.jid}' id='a1'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    const held = await alice.next();
    expect(held.attrs.id).toBe("c5");
    expect(delayOf(held)).toBeDefined();
    bob.send(CHATSTATE(to, "c6"));
    await barrier(bob, "b6");
    expect(alice.raw).not.toContain("'c6'");
    alice.close();
    bob.close();
  });

  it("flushes when csi_queue_size stanzas are held", async () => {
    const { alice, bob, to } = await inactivePair("phone4");
    for (let i = 0; i < 4; i++) bob.send(CHATSTATE(to, `q${i}`));
    await barrier(bob, "b7");
    expect(alice.raw).not.toContain("'q0'");
    bob.send(CHATSTATE(to, "q4")); // the fifth finds four held
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await alice.next());
    expect(got.map((e) => e.attrs.id)).toEqual(["q0", "q1", "q2", "q3", "q4"]);
    expect(got.map((e) => delayOf(e) !== undefined)).toEqual([true, true, true, true, false]);
    alice.close();
    bob.close();
  });
});

describe("client state indication with slixmpp", () => {
  let ts: TestServer;
  beforeAll(async () => {
    // slixmpp logs in over STARTTLS with SCRAM.
    ts = await startTestServer({ config: CONFIG.replace(/c2s_require_encryption = false\nallow_unencrypted_plain_auth = true/, "") });
    for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("slixmpp's XEP-0352 plugin finds the feature; a chat state waits for the next message with a body", async () => {
    const script = fileURLToPath(new URL("./slixmpp_csi.py", import.meta.url));
    const run = await runPython(script, [String(ts.c2sPort), "juliet@localhost/phone", "romeo@localhost/desk", "pw"], 60000);
    expect(run.events.filter((e) => e.event === "error"), JSON.stringify(run.events)).toEqual([]);
    expect(run.events.find((e) => e.event === "csi_enabled"), run.stderr).toBeDefined();
    expect(run.events.filter((e) => e.event === "received"), run.stderr).toEqual([
      { event: "received", id: "state1", body: "", chat_state: "composing", delayed: true, early: false },
      { event: "received", id: "text1", body: "Are you up?", chat_state: "", delayed: false, early: false },
    ]);
  });
});
