// Bad input gets the right stream or stanza error, and nothing else is disturbed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { streamError } from "../helpers/errors.js";

let ts: TestServer;
let bystander: RawClient;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.server.accounts("localhost").create("alice", "wonderland");
  await ts.server.accounts("localhost").create("bob", "builder");
  // A second session that must carry on whatever the others do.
  bystander = await RawClient.login(ts.c2sPort, "bob", "builder", { resource: "bystander" });
});
afterAll(async () => {
  bystander?.close();
  await ts?.stop();
});

async function expectStillFine(): Promise<void> {
  const r = await bystander.iq(`<iq type='get' id='ok${Math.random()}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
  expect(r.attrs.type).toBe("result");
  // and the server still accepts new logins
  const c = await RawClient.login(ts.c2sPort, "alice", "wonderland");
  c.close();
}


async function authed(): Promise<RawClient> {
  return RawClient.login(ts.c2sPort, "alice", "wonderland");
}

describe("bad input", () => {
  it("malformed XML → <not-well-formed/> and the connection closes", async () => {
    const c = await authed();
    c.write("<message><body>hi</bodyx></message>");
    expect(streamError(await c.next())).toBe("not-well-formed");
    await c.waitClosed();
    await expectStillFine();
  });

  it("a DTD → <restricted-xml/>", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    c.write("<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY lol 'lol'>]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
    const first = await c.nextEvent();
    // The server opens a stream before the error (RFC 6120 §4.9.1.2) — or had not yet.
    const el = first.kind === "start" ? await c.next() : first.el!;
    expect(streamError(el)).toBe("restricted-xml");
    await c.waitClosed();
    await expectStillFine();
  });

  it("an entity reference → <restricted-xml/>", async () => {
    const c = await authed();
    c.write("<message to='bob@localhost'><body>&xxe;</body></message>");
    expect(streamError(await c.next())).toBe("restricted-xml");
    await c.waitClosed();
  });

  it("a 1 MiB stanza → <policy-violation/>", async () => {
    const c = await authed();
    c.write("<message to='bob@localhost'><body>");
    const chunk = "x".repeat(64 * 1024);
    for (let i = 0; i < 16 && !c.closed; i++) c.write(chunk);
    expect(streamError(await c.next())).toBe("policy-violation");
    await c.waitClosed();
    await expectStillFine();
  });

  it("a wrong password → <not-authorized/> SASL failure, and the stream stays usable", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    await c.starttls();
    await c.stream();
    const f = await c.auth("SCRAM-SHA-1", "alice", "wrong");
    expect(f.name).toBe("failure");
    expect(f.getChild("not-authorized")).toBeDefined();
    const ok = await c.auth("SCRAM-SHA-1", "alice", "wonderland");
    expect(ok.name).toBe("success");
    c.close();
    const p = await RawClient.connect(ts.c2sPort);
    await p.stream();
    await p.starttls();
    await p.stream();
    const f2 = await p.auth("PLAIN", "alice", "wrong");
    expect(f2.getChild("not-authorized")).toBeDefined();
    const f3 = await p.auth("PLAIN", "nobody", "x");
    expect(f3.getChild("not-authorized")).toBeDefined();
    p.close();
  });

  it("an unknown SASL mechanism → <invalid-mechanism/>", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    await c.starttls();
    await c.stream();
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-MAGIC'>=</auth>");
    const f = await c.next();
    expect(f.name).toBe("failure");
    expect(f.getChild("invalid-mechanism")).toBeDefined();
    c.close();
  });

  it("PLAIN before TLS is refused when encryption is required", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0alice\0wonderland").toString("base64")}</auth>`);
    const f = await c.next();
    expect(f.name).toBe("failure");
    expect(f.getChild("encryption-required")).toBeDefined();
    c.close();
  });

  it("a stanza before authentication → <not-authorized/> stream error", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    c.send("<message to='bob@localhost'><body>spam</body></message>");
    expect(streamError(await c.next())).toBe("not-authorized");
    await c.waitClosed();
    await bystander.nothing(200); // the message went nowhere
  });

  it("a stream to an unknown host → <host-unknown/>", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    c.write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='elsewhere.example' version='1.0'>");
    expect((await c.nextEvent()).kind).toBe("start");
    expect(streamError(await c.next())).toBe("host-unknown");
  });

  it("a wrong stream namespace → <invalid-namespace/>", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    c.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
    expect((await c.nextEvent()).kind).toBe("start");
    expect(streamError(await c.next())).toBe("invalid-namespace");
  });

  it("an unknown top-level element → <unsupported-stanza-type/>", async () => {
    const c = await authed();
    c.send("<foo/>");
    expect(streamError(await c.next())).toBe("unsupported-stanza-type");
  });

  it("stanza errors: bad iq, bad JID, bad type", async () => {
    const c = await authed();
    const noPayload = await c.iq("<iq type='get' id='e1' to='localhost'/>");
    expect(noPayload.getChild("error")!.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const badJid = await c.iq("<iq type='get' id='e2' to='a@b@c'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(badJid.getChild("error")!.getChild("jid-malformed", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const badType = await c.iq("<iq type='fetch' id='e3' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(badType.getChild("error")!.getChild("bad-request", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    const remote = await c.iq("<iq type='get' id='e4' to='elsewhere.example'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(remote.getChild("error")!.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    c.close();
    await expectStillFine();
  });

  it("a session that vanishes mid-stanza does not disturb the others", async () => {
    const c = await authed();
    c.write("<message to='bob@localhost'><body>half");
    c.socket.destroy();
    await expectStillFine();
  });

  it("resource conflict: the new session wins and the old one gets <conflict/>", async () => {
    const a = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "same" });
    const b = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "same" });
    expect(streamError(await a.next())).toBe("conflict");
    await a.waitClosed();
    expect(b.jid).toBe("alice@localhost/same");
    const r = await b.iq("<iq type='get' id='c1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(r.attrs.type).toBe("result");
    b.close();
  });

  it("closes cleanly when the client closes its stream", async () => {
    const c = await authed();
    c.write("</stream:stream>");
    const ev = await c.nextEvent();
    expect(ev.kind).toBe("end");
    await c.waitClosed();
  });
});

describe("closing", () => {
  it("handles stanzas sent right before the closing tag, then closes", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "closer" });
    c.write("<iq type='get' id='last' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>");
    const pong = await c.next();
    expect(pong.attrs).toMatchObject({ id: "last", type: "result" });
    expect((await c.nextEvent()).kind).toBe("end");
    await c.waitClosed();
  });
});
