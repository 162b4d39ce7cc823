// XEP-0280 Message Carbons: enable/disable, sent and received copies, private and no-copy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { goOnline, nextNonPresence, noMessage } from "./message-helpers.js";

const NS = "urn:xmpp:carbons:2";
const NS_FWD = "urn:xmpp:forward:0";

let ts: TestServer;

async function login(user: string, resource: string, opts: { carbons?: boolean; priority?: number } = {}): Promise<RawClient> {
  const c = await ts.login(user, "pw", { resource });
  await goOnline(c, opts.priority);
  if (opts.carbons) expect((await c.iq(`<iq type='set' id='en'><enable xmlns='${NS}'/></iq>`)).attrs.type).toBe("result");
  return c;
}

/** The forwarded message inside a carbon, after checking the wrapper (XEP-0280 §7, §8). */
function unwrap(carbon: Element, direction: "sent" | "received", user: string, to: string): Element {
  expect(carbon.name).toBe("message");
  expect(carbon.attrs.from).toBe(`${user}@localhost`);
  expect(carbon.attrs.to).toBe(to);
  const wrapper = carbon.getChild(direction, NS);
  expect(wrapper, `${carbon}`).toBeDefined();
  const inner = wrapper!.getChild("forwarded", NS_FWD)!.getChild("message", "jabber:client");
  expect(inner).toBeDefined();
  return inner!;
}

beforeAll(async () => {
  ts = await startTestServer({
    transport: "memory",
    config: `
modules_enabled = { "carbons" }
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
`,
  });
  for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
});
afterAll(async () => {
  await ts?.stop();
});

describe("carbons", () => {
  it("advertises urn:xmpp:carbons:2 (§3) and accepts repeated enable and disable (§10.1)", async () => {
    const c = await login("romeo", "a");
    const info = await c.iq("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain(NS);
    for (const [i, op] of ["enable", "enable", "disable", "disable"].entries()) {
      const r = await c.iq(`<iq type='set' id='t${i}'><${op} xmlns='${NS}'/></iq>`);
      expect(r.attrs).toMatchObject({ type: "result", id: `t${i}` });
    }
    // Addressed to the own bare JID works the same.
    expect((await c.iq(`<iq type='set' id='t9' to='romeo@localhost'><enable xmlns='${NS}'/></iq>`)).attrs.type).toBe("result");
    // Not for someone else's account.
    const other = await c.iq(`<iq type='set' id='t10' to='juliet@localhost'><enable xmlns='${NS}'/></iq>`);
    expect(other.attrs.type).toBe("error");
    ts.closeClients();
  });

  it("copies what a resource sends to the other enabled resources, not to the sender nor to disabled ones (§8)", async () => {
    const a = await login("romeo", "a", { carbons: true });
    const b = await login("romeo", "b", { carbons: true });
    const c = await login("romeo", "c");
    const juliet = await login("juliet", "balcony");
    a.send("<message to='juliet@localhost/balcony' type='chat' id='s1'><body>But soft!</body></message>");
    expect((await nextNonPresence(juliet)).getChildText("body")).toBe("But soft!");
    const inner = unwrap(await nextNonPresence(b), "sent", "romeo", "romeo@localhost/b");
    expect(inner.attrs).toMatchObject({ from: "romeo@localhost/a", to: "juliet@localhost/balcony", type: "chat", id: "s1" });
    expect(inner.getChildText("body")).toBe("But soft!");
    await noMessage(a);
    await noMessage(c);

    // After disabling, no more copies.
    expect((await b.iq(`<iq type='set' id='off'><disable xmlns='${NS}'/></iq>`)).attrs.type).toBe("result");
    a.send("<message to='juliet@localhost/balcony' type='chat'><body>again</body></message>");
    await nextNonPresence(juliet);
    await noMessage(b);
    ts.closeClients();
  });

  it("copies what comes in to a full JID to the other enabled resources (§7)", async () => {
    const a = await login("romeo", "a", { carbons: true });
    const b = await login("romeo", "b", { carbons: true });
    const c = await login("romeo", "c");
    const juliet = await login("juliet", "balcony");
    juliet.send("<message to='romeo@localhost/a' type='chat' id='r1'><body>Wherefore</body></message>");
    const original = await nextNonPresence(a);
    expect(original.attrs.id).toBe("r1");
    expect(original.getChild("received", NS)).toBeUndefined();
    const inner = unwrap(await nextNonPresence(b), "received", "romeo", "romeo@localhost/b");
    expect(inner.attrs).toMatchObject({ from: "juliet@localhost/balcony", to: "romeo@localhost/a", id: "r1" });
    await noMessage(c);
    await noMessage(a);
    ts.closeClients();
  });

  it("to the bare JID: only the enabled resources that did not get the original get a copy", async () => {
    const top = await login("romeo", "top", { carbons: true, priority: 5 });
    const low = await login("romeo", "low", { carbons: true, priority: 1 });
    const juliet = await login("juliet", "balcony");
    juliet.send("<message to='romeo@localhost' type='chat' id='b1'><body>Romeo!</body></message>");
    expect((await nextNonPresence(top)).attrs.id).toBe("b1");
    expect(unwrap(await nextNonPresence(low), "received", "romeo", "romeo@localhost/low").attrs.id).toBe("b1");
    await noMessage(top);

    // A tie: both get the original, nobody a copy.
    await goOnline(low, 5);
    juliet.send("<message to='romeo@localhost' type='chat' id='b2'><body>Romeo!!</body></message>");
    expect((await nextNonPresence(top)).attrs.id).toBe("b2");
    const m = await nextNonPresence(low);
    expect(m.attrs.id).toBe("b2");
    expect(m.getChild("received", NS)).toBeUndefined();
    await noMessage(top);
    await noMessage(low);
    ts.closeClients();
  });

  it("<private/> prevents copies and is removed before delivery (§9); no-copy too; headline and bodiless normal are not copied (§6)", async () => {
    const a = await login("romeo", "a", { carbons: true });
    const b = await login("romeo", "b", { carbons: true });
    const juliet = await login("juliet", "balcony");

    a.send(`<message to='juliet@localhost/balcony' type='chat' id='p1'><body>secret</body><private xmlns='${NS}'/></message>`);
    const delivered = await nextNonPresence(juliet);
    expect(delivered.attrs.id).toBe("p1");
    expect(delivered.getChild("private", NS)).toBeUndefined();
    expect(delivered.getChildText("body")).toBe("secret");

    juliet.send(`<message to='romeo@localhost/a' type='chat' id='p2'><body>secret too</body><private xmlns='${NS}'/></message>`);
    const got = await nextNonPresence(a);
    expect(got.attrs.id).toBe("p2");
    expect(got.getChild("private", NS)).toBeUndefined();

    juliet.send("<message to='romeo@localhost/a' type='chat' id='p3'><body>hint</body><no-copy xmlns='urn:xmpp:hints'/></message>");
    juliet.send("<message to='romeo@localhost/a' type='headline' id='p4'><body>news</body></message>");
    juliet.send("<message to='romeo@localhost/a' type='normal' id='p5'><x xmlns='jabber:x:conference' jid='room@conference.localhost'/></message>");
    for (const id of ["p3", "p4", "p5"]) expect((await nextNonPresence(a)).attrs.id).toBe(id);
    await noMessage(b);

    // A normal message with a body is copied.
    juliet.send("<message to='romeo@localhost/a' id='p6'><body>normal</body></message>");
    expect((await nextNonPresence(a)).attrs.id).toBe("p6");
    const inner = unwrap(await nextNonPresence(b), "received", "romeo", "romeo@localhost/b");
    expect(inner.attrs.id).toBe("p6");
    ts.closeClients();
  });
});
