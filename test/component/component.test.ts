// External components (XEP-0114) over real sockets: the handshake, the stream errors of a wrong
// secret, a second connection and an undeclared domain, routing to and from the component (its
// subdomains too, nothing outside its domain), bounces while it is away, and the server's disco#items.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { connectComponent, handshakeToken, openComponentStream, streamError } from "./helpers.js";

let ts: TestServer;
let port: number;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "ping"; "disco" }
VirtualHost "localhost"
  authentication = "insecure"
Component "gateway.localhost"
  component_secret = "s3cret gateway"
Component "nosecret.localhost"
Component "nohandshake.localhost"
  component_secret = "unused"
  modules_disabled = { "component" }
Component "kickold.localhost"
  component_secret = "old"
  component_conflict_resolve = "kick_old"
Component "pubsub.localhost" "pubsub"
`,
  });
  port = ts.componentPort;
});
afterAll(() => ts?.stop());

const login = (user: string) => RawClient.login(ts.c2sPort, user, "pw", { mechanism: "PLAIN" });

describe("XEP-0114 handshake", () => {
  it("answers the right token with <handshake/>, on a header from the component's domain", async () => {
    const { c, header } = await openComponentStream(port, "gateway.localhost");
    expect(header.from).toBe("gateway.localhost");
    expect(header.id).toMatch(/.{8,}/);
    // The token is case-insensitive hex.
    c.send(`<handshake>${handshakeToken(header.id, "s3cret gateway").toUpperCase()}</handshake>`);
    const answer = await c.next();
    expect(answer.name).toBe("handshake");
    expect(answer.childElements()).toHaveLength(0);
    c.close();
  });

  it("ends the stream with <not-authorized/> on a wrong secret", async () => {
    const { c, answer } = await connectComponent(port, "gateway.localhost", "wrong");
    expect(streamError(answer)).toBe("not-authorized");
    await c.waitClosed();
  });

  it("refuses a component whose host has no component_secret", async () => {
    const { c, answer } = await connectComponent(port, "nosecret.localhost", "");
    expect(streamError(answer)).toBe("not-authorized");
    await c.waitClosed();
  });

  it("ends the stream with <not-authorized/> saying so when mod_component is not loaded on the component's host", async () => {
    const { c, answer } = await connectComponent(port, "nohandshake.localhost", "unused");
    expect(streamError(answer)).toBe("not-authorized");
    const text = answer.childElements().find((e) => e.name === "text")?.getText();
    expect(text).toBe("No handshake handler for nohandshake.localhost");
    await c.waitClosed();
  });

  it("ends the stream with <host-unknown/> for a domain that is not an external component", async () => {
    for (const domain of ["undeclared.localhost", "localhost", "pubsub.localhost"]) {
      const { c } = await openComponentStream(port, domain);
      expect(streamError(await c.next()), domain).toBe("host-unknown");
      await c.waitClosed();
    }
    const { c } = await openComponentStream(port, undefined);
    expect(streamError(await c.next())).toBe("improper-addressing");
  });

  it("refuses stanzas before the handshake", async () => {
    const { c } = await openComponentStream(port, "gateway.localhost");
    c.send("<message from='gateway.localhost' to='alice@localhost'><body>early</body></message>");
    expect(streamError(await c.next())).toBe("not-authorized");
  });

  it("refuses a second connection for a connected component with <conflict/> (component_conflict_resolve = kick_new)", async () => {
    const first = await connectComponent(port, "gateway.localhost", "s3cret gateway");
    expect(first.answer.name).toBe("handshake");
    const second = await connectComponent(port, "gateway.localhost", "s3cret gateway");
    expect(streamError(second.answer)).toBe("conflict");
    // The first one still serves the domain.
    const alice = await login("alice");
    alice.send("<message to='gateway.localhost' id='m1'><body>still there?</body></message>");
    const got = await first.c.next();
    expect(got.attrs.id).toBe("m1");
    first.c.close();
    alice.close();
  });

  it("with component_conflict_resolve = kick_old the new connection replaces the old", async () => {
    const first = await connectComponent(port, "kickold.localhost", "old");
    expect(first.answer.name).toBe("handshake");
    const second = await connectComponent(port, "kickold.localhost", "old");
    expect(second.answer.name).toBe("handshake");
    expect(streamError(await first.c.next())).toBe("conflict");
    second.c.close();
  });
});

describe("routing", () => {
  it("delivers stanzas to the component's domain and any JID at it, and routes its stanzas back", async () => {
    const { c: gw, answer } = await connectComponent(port, "gateway.localhost", "s3cret gateway");
    expect(answer.name).toBe("handshake");
    const alice = await login("alice");
    alice.send("<message to='bob@gateway.localhost/x' type='chat' id='to-gw'><body>hello gateway</body></message>");
    const m = await gw.next();
    expect(m.name).toBe("message");
    expect(m.attrs.from).toBe(alice.jid);
    expect(m.attrs.to).toBe("bob@gateway.localhost/x");
    expect(m.attrs.xmlns).toBeUndefined();
    expect(m.getChildText("body")).toBe("hello gateway");

    // From the component: its domain, JIDs at it and at its subdomains are accepted.
    for (const from of ["bob@gateway.localhost/x", "gateway.localhost", "room@irc.gateway.localhost/nick"]) {
      gw.send(`<message from='${from}' to='${alice.jid}' type='chat' id='from-gw'><body>hi from ${from}</body></message>`);
      const back = await alice.next();
      expect(back.attrs.from).toBe(from);
      expect(back.getChildText("body")).toBe(`hi from ${from}`);
    }

    // Stanzas qualified with jabber:client (some component libraries send them so) are taken too.
    gw.send(`<message xmlns='jabber:client' from='gateway.localhost' to='${alice.jid}' id='jc'><body>client ns</body></message>`);
    expect((await alice.next()).getChildText("body")).toBe("client ns");

    // An iq from a user to the component, answered by the component.
    alice.send("<iq type='get' to='gateway.localhost' id='v1'><query xmlns='jabber:iq:version'/></iq>");
    const iq = await gw.next();
    expect(iq.attrs.type).toBe("get");
    gw.send(`<iq type='result' from='gateway.localhost' to='${alice.jid}' id='${iq.attrs.id}'><query xmlns='jabber:iq:version'><name>gw</name></query></iq>`);
    const result = await alice.next();
    expect(result.attrs.type).toBe("result");
    expect(result.attrs.from).toBe("gateway.localhost");

    // The component can use the server's own services (ping).
    gw.send("<iq type='get' from='gateway.localhost' to='localhost' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    const pong = await gw.next();
    expect(pong.attrs).toMatchObject({ type: "result", id: "p1", to: "gateway.localhost", from: "localhost" });

    // A stanza without 'to' is an error; without 'from' it is from the component's domain.
    gw.send("<iq type='get' from='gateway.localhost' id='nt'><ping xmlns='urn:xmpp:ping'/></iq>");
    const noTo = await gw.next();
    expect(noTo.attrs.type).toBe("error");
    expect(noTo.getChild("error")?.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    gw.send(`<message to='${alice.jid}' id='nf'><body>no from</body></message>`);
    expect((await alice.next()).attrs.from).toBe("gateway.localhost");
    // RFC 6120 §8.1.3, §8.2.3: an iq needs an id and one payload; stanza types are checked too.
    gw.send("<iq type='get' from='gateway.localhost' to='localhost' id='two'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>");
    const two = await gw.next();
    expect(two.attrs).toMatchObject({ type: "error", id: "two" });
    expect(two.getChild("error")?.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    gw.send(`<message type='bogus' from='gateway.localhost' to='${alice.jid}' id='bogus'><body>?</body></message>`);
    const bogus = await gw.next();
    expect(bogus.attrs).toMatchObject({ type: "error", id: "bogus" });
    await alice.nothing(200);
    gw.close();
    alice.close();
  });

  it("ends the component's stream with <invalid-from/> when it speaks for another domain", async () => {
    const alice = await login("alice");
    for (const from of ["alice@localhost/forged", "localhost", "evilgateway.localhost", "x@other.example"]) {
      const { c: gw, answer } = await connectComponent(port, "gateway.localhost", "s3cret gateway");
      expect(answer.name).toBe("handshake");
      gw.send(`<message from='${from}' to='${alice.jid}' id='forged'><body>forged</body></message>`);
      expect(streamError(await gw.next()), from).toBe("invalid-from");
      await gw.waitClosed();
    }
    await alice.nothing(300); // none of them reached Alice
    alice.close();
  });

  it("bounces stanzas to a component that is not connected with service-unavailable", async () => {
    // The components of the tests before have closed their streams; wait until the server saw it.
    for (let i = 0; ts.server.hosts.get("gateway.localhost")!.component && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
    expect(ts.server.hosts.get("gateway.localhost")!.component).toBeUndefined();
    const alice = await login("alice");
    alice.send("<iq type='get' to='gateway.localhost' id='away1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const e1 = await alice.next();
    expect(e1.attrs).toMatchObject({ type: "error", id: "away1", from: "gateway.localhost" });
    expect(e1.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    alice.send("<message to='someone@gateway.localhost' id='away2'><body>anyone?</body></message>");
    const e2 = await alice.next();
    expect(e2.attrs).toMatchObject({ type: "error", id: "away2", from: "someone@gateway.localhost" });
    expect(e2.getChild("error")?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    alice.close();
  });

  it("lists the component in the server's disco#items", async () => {
    const alice = await login("alice");
    const r = await alice.iq("<iq type='get' to='localhost' id='items'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
    const jids = r.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements().map((i) => i.attrs.jid);
    expect(jids).toContain("gateway.localhost");
    alice.close();
  });
});
