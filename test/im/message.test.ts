// RFC 6121 §8.5: message delivery to bare and full JIDs, priorities, types, unknown users, bad JIDs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { errorCondition, goOnline, nextNonPresence, noMessage } from "./message-helpers.js";

let ts: TestServer;

const CONFIG = `
modules_enabled = { "ping" }
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
`;

function login(user: string, resource: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
  const accounts = ts.server.accounts("localhost");
  for (const u of ["romeo", "juliet", "nurse", "benvolio", "tybalt", "paris"]) await accounts.create(u, "pw");
});
afterAll(async () => {
  await ts?.stop();
});

describe("messages to full JIDs (RFC 6121 §8.5.3)", () => {
  it("delivers to the resource, with the sender's full JID stamped", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "balcony");
    romeo.send("<message to='juliet@localhost/balcony' type='chat' id='m1'><body>Hello Juliet!</body></message>");
    const m = await nextNonPresence(juliet);
    expect(m.name).toBe("message");
    expect(m.attrs).toMatchObject({ from: "romeo@localhost/orchard", to: "juliet@localhost/balcony", type: "chat", id: "m1" });
    expect(m.getChildText("body")).toBe("Hello Juliet!");
    await noMessage(romeo);
    ts.closeClients();
  });

  it("delivers to a connected resource that has sent no presence (§8.5.3.1)", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "quiet");
    romeo.send("<message to='juliet@localhost/quiet' type='normal'><body>psst</body></message>");
    expect((await nextNonPresence(juliet)).getChildText("body")).toBe("psst");
    ts.closeClients();
  });

  it("an absent resource: chat goes to the account's top resource with its 'to' kept; normal and groupchat bounce; headline and error vanish (§8.5.3.2.1)", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "balcony");
    await goOnline(juliet);
    romeo.send("<message to='juliet@localhost/gone' type='chat'><body>where art thou</body></message>");
    const m = await nextNonPresence(juliet);
    expect(m.attrs.to).toBe("juliet@localhost/gone");
    expect(m.getChildText("body")).toBe("where art thou");

    for (const type of ["normal", "groupchat"]) {
      romeo.send(`<message to='juliet@localhost/gone' type='${type}' id='x-${type}'><body>x</body></message>`);
      const err = await nextNonPresence(romeo);
      expect(err.attrs).toMatchObject({ type: "error", id: `x-${type}`, from: "juliet@localhost/gone" });
      expect(errorCondition(err)).toBe("service-unavailable");
    }
    romeo.send("<message to='juliet@localhost/gone' type='headline'><body>news</body></message>");
    romeo.send("<message to='juliet@localhost/gone' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    await noMessage(juliet);
    await noMessage(romeo);
    ts.closeClients();
  });
});

describe("messages to bare JIDs (RFC 6121 §8.5.2)", () => {
  it("chat goes to the highest non-negative priority, to all of them on a tie, never to a negative one", async () => {
    const romeo = await login("romeo", "orchard");
    const high = await login("nurse", "high");
    const low = await login("nurse", "low");
    const neg = await login("nurse", "negative");
    await goOnline(high, 5);
    await goOnline(low, 1);
    await goOnline(neg, -1);

    romeo.send("<message to='nurse@localhost' type='chat'><body>one</body></message>");
    const m = await nextNonPresence(high);
    expect(m.getChildText("body")).toBe("one");
    expect(m.attrs.to).toBe("nurse@localhost");
    await noMessage(low);
    await noMessage(neg);

    await goOnline(low, 5);
    romeo.send("<message to='nurse@localhost'><body>two</body></message>");
    expect((await nextNonPresence(high)).getChildText("body")).toBe("two");
    expect((await nextNonPresence(low)).getChildText("body")).toBe("two");
    await noMessage(neg);
    await noMessage(romeo);
    ts.closeClients();
  });

  it("headline goes to every non-negative available resource, whatever its priority", async () => {
    const romeo = await login("romeo", "orchard");
    const a = await login("benvolio", "a");
    const b = await login("benvolio", "b");
    const neg = await login("benvolio", "neg");
    const unavailable = await login("benvolio", "unavailable");
    await goOnline(a, 10);
    await goOnline(b, 0);
    await goOnline(neg, -5);
    romeo.send("<message to='benvolio@localhost' type='headline'><body>extra!</body></message>");
    expect((await nextNonPresence(a)).getChildText("body")).toBe("extra!");
    expect((await nextNonPresence(b)).getChildText("body")).toBe("extra!");
    await noMessage(neg);
    await noMessage(unavailable);
    ts.closeClients();
  });

  it("groupchat to a bare JID is answered service-unavailable; an error message is dropped", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "balcony");
    await goOnline(juliet);
    romeo.send("<message to='juliet@localhost' type='groupchat' id='g1'><body>all</body></message>");
    const err = await nextNonPresence(romeo);
    expect(err.attrs).toMatchObject({ type: "error", id: "g1", from: "juliet@localhost" });
    expect(errorCondition(err)).toBe("service-unavailable");
    romeo.send("<message to='juliet@localhost' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    await noMessage(juliet);
    await noMessage(romeo);
    ts.closeClients();
  });

  it("with only negative-priority or unavailable resources, chat is stored offline, headline is dropped", async () => {
    const romeo = await login("romeo", "orchard");
    const neg = await login("tybalt", "neg");
    const idle = await login("tybalt", "idle");
    await goOnline(neg, -1);
    romeo.send("<message to='tybalt@localhost' type='chat'><body>stored</body></message>");
    romeo.send("<message to='tybalt@localhost' type='headline'><body>lost</body></message>");
    await noMessage(neg);
    await noMessage(idle);
    await noMessage(romeo); // stored, so no error
    expect(await ts.server.storage.archive("localhost", "offline").count("tybalt")).toBe(1);
    ts.closeClients();
  });

  it("a message without 'to' goes to the sender's own account", async () => {
    const a = await login("paris", "a");
    await goOnline(a);
    a.send("<message type='chat'><body>note to self</body></message>");
    const m = await nextNonPresence(a);
    expect(m.getChildText("body")).toBe("note to self");
    expect(m.attrs.from).toBe("paris@localhost/a");
    ts.closeClients();
  });
});

describe("errors", () => {
  it("a message to an account that does not exist: chat and normal get service-unavailable, headline nothing (§8.5.1)", async () => {
    const romeo = await login("romeo", "orchard");
    romeo.send("<message to='rosaline@localhost' type='chat' id='u1'><body>hello?</body></message>");
    const err = await nextNonPresence(romeo);
    expect(err.attrs).toMatchObject({ type: "error", id: "u1", from: "rosaline@localhost" });
    expect(errorCondition(err)).toBe("service-unavailable");
    romeo.send("<message to='rosaline@localhost/phone' id='u2'><body>hello?</body></message>");
    expect(errorCondition(await nextNonPresence(romeo))).toBe("service-unavailable");
    romeo.send("<message to='rosaline@localhost' type='headline'><body>news</body></message>");
    await noMessage(romeo);
    expect(await ts.server.storage.archive("localhost", "offline").count("rosaline")).toBe(0);
    ts.closeClients();
  });

  it("a message to a malformed JID gets jid-malformed, and the session carries on", async () => {
    const romeo = await login("romeo", "orchard");
    const juliet = await login("juliet", "balcony");
    for (const [i, to] of ["juliet@bad@localhost", "@localhost", "juliet@localhost/", "ju liet@localhost"].entries()) {
      romeo.send(`<message to='${to}' type='chat' id='bad${i}'><body>x</body></message>`);
      const err = await nextNonPresence(romeo);
      expect(err.attrs).toMatchObject({ type: "error", id: `bad${i}` });
      expect(errorCondition(err)).toBe("jid-malformed");
    }
    romeo.send("<message to='juliet@localhost/balcony' type='chat'><body>still here</body></message>");
    expect((await nextNonPresence(juliet)).getChildText("body")).toBe("still here");
    ts.closeClients();
  });

  it("a message to the server itself gets service-unavailable; an error to it is dropped", async () => {
    const romeo = await login("romeo", "orchard");
    romeo.send("<message to='localhost' id='h1'><body>hi server</body></message>");
    const err = await nextNonPresence(romeo);
    expect(err.attrs).toMatchObject({ type: "error", id: "h1", from: "localhost" });
    expect(errorCondition(err)).toBe("service-unavailable");
    romeo.send("<message to='localhost' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    await noMessage(romeo);
    ts.closeClients();
  });

  it("a message with an invalid type is a bad request", async () => {
    const romeo = await login("romeo", "orchard");
    romeo.send("<message to='juliet@localhost' type='shout' id='t1'><body>x</body></message>");
    const err = await nextNonPresence(romeo);
    expect(errorCondition(err)).toBe("bad-request");
    ts.closeClients();
  });
});
