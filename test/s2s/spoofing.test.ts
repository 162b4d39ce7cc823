// Anti-spoofing on server streams: a stanza whose `from` is not a domain authenticated on the stream
// ends it with <invalid-from/>, one to a domain not served here with <host-unknown/>, and a forged
// dialback key is refused. The attacker is a raw s2s client; b.test checks with a.test, the real
// authoritative server of the domain it claims.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, RawS2S, login, makePki, startPair, type Pair, type Pki } from "./helpers.js";
import { dialbackKey } from "../../src/net/features/dialback.js";

const SECRET_A = "a-test-dialback-secret";

describe("s2s anti-spoofing (self-signed certificates, dialback)", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ secrets: { a: SECRET_A, b: "b-secret" } });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  /** A stream to b.test claiming a.test, encrypted, features read. */
  async function openAsA(): Promise<{ s: RawS2S; features: import("../../src/xml/stanza.js").Element }> {
    const s = await RawS2S.connect(B.ip, pair.ports.b);
    const f0 = await s.open(A.domain, B.domain);
    expect(f0.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls")?.getChild("required")).toBeDefined();
    await s.starttls(B.domain);
    const features = await s.open(A.domain, B.domain);
    return { s, features };
  }

  it("refuses a forged dialback key after asking the real a.test", async () => {
    const { s, features } = await openAsA();
    expect(features.getChild("dialback", "urn:xmpp:features:dialback")).toBeDefined();
    s.write(`<db:result from='${A.domain}' to='${B.domain}'>${"0".repeat(64)}</db:result>`);
    const res = await s.next(15000);
    expect(res.name).toBe("result");
    expect(res.attrs.type).toBe("invalid");
    // Nothing from a.test is accepted on this stream.
    s.write(`<message from='alice@${A.domain}' to='bob@${B.domain}'><body>forged</body></message>`);
    expect(await s.streamError()).toBe("not-authorized");
    s.close();
  });

  it("accepts a right key, then ends the stream with invalid-from for a domain it did not authenticate, host-unknown for one not served", async () => {
    const { s } = await openAsA();
    s.write(`<db:result from='${A.domain}' to='${B.domain}'>${dialbackKey(SECRET_A, B.domain, A.domain, s.streamId)}</db:result>`);
    const res = await s.next(15000);
    expect(res.attrs.type).toBe("valid");
    // A stanza from a.test is fine: bob gets it.
    const bob = await login(pair.b, "bob", B.domain, "spoof");
    bob.send("<presence/>");
    s.write(`<message type='chat' from='alice@${A.domain}/x' to='bob@${B.domain}'><body>legit</body></message>`);
    for (;;) {
      const m = await bob.next(10000);
      if (m.name === "message") {
        expect(m.getChildText("body")).toBe("legit");
        break;
      }
    }
    s.write(`<message type='chat' from='mallory@evil.test' to='bob@${B.domain}'><body>forged</body></message>`);
    expect(await s.streamError()).toBe("invalid-from");
    await bob.nothing(300);
    s.close();

    const { s: s2 } = await openAsA();
    s2.write(`<db:result from='${A.domain}' to='${B.domain}'>${dialbackKey(SECRET_A, B.domain, A.domain, s2.streamId)}</db:result>`);
    expect((await s2.next(15000)).attrs.type).toBe("valid");
    s2.write(`<message type='chat' from='alice@${A.domain}' to='someone@elsewhere.test'><body>relay?</body></message>`);
    expect(await s2.streamError()).toBe("host-unknown");
    s2.close();
    bob.close();
  });

  it("answers dialback for a domain not served here with a dialback error (item-not-found)", async () => {
    const { s } = await openAsA();
    s.write(`<db:result from='${A.domain}' to='c.test'>${dialbackKey(SECRET_A, "c.test", A.domain, s.streamId)}</db:result>`);
    const res = await s.next(15000);
    expect(res.name).toBe("result");
    expect(res.attrs.type).toBe("error");
    expect(res.getChild("error", "jabber:server")?.getChild("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    s.close();
  });

  it("offers no dialback before STARTTLS (s2s_require_encryption) and ends a stream that tries it in clear", async () => {
    const s = await RawS2S.connect(B.ip, pair.ports.b);
    const f = await s.open(A.domain, B.domain);
    expect(f.getChild("dialback", "urn:xmpp:features:dialback")).toBeUndefined();
    s.write(`<db:result from='${A.domain}' to='${B.domain}'>${dialbackKey(SECRET_A, B.domain, A.domain, s.streamId)}</db:result>`);
    expect(await s.streamError()).toBe("policy-violation");
    s.close();
  });

  it("closes a stream opened to a domain not served here with host-unknown", async () => {
    const s = await RawS2S.connect(B.ip, pair.ports.b);
    s.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='${A.domain}' to='c.test' version='1.0'>`);
    expect((await s.nextEvent()).kind).toBe("start");
    expect(await s.streamError()).toBe("host-unknown");
    s.close();
  });
});

describe("s2s with a test CA: SASL EXTERNAL only for the domain the certificate covers", () => {
  let pair: Pair;
  let pki: Pki;
  beforeAll(async () => {
    pki = makePki([A.domain, B.domain, "c.test"]);
    pair = await startPair({ pki });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("offers EXTERNAL to a.test's certificate; a stream claiming c.test with it gets no EXTERNAL, and stanzas from elsewhere end it with invalid-from", async () => {
    const s = await RawS2S.connect(B.ip, pair.ports.b);
    await s.open(A.domain, B.domain);
    await s.starttls(B.domain, pki.pem[A.domain]);
    const f = await s.open(A.domain, B.domain);
    const mechs = f.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")?.childElements("mechanism").map((m) => m.getText());
    expect(mechs).toEqual(["EXTERNAL"]);
    s.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
    expect((await s.next()).name).toBe("success");
    await s.open(A.domain, B.domain);
    s.write(`<iq type='get' id='p1' from='mallory@c.test' to='${B.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await s.streamError()).toBe("invalid-from");
    s.close();

    // The same certificate does not prove c.test.
    const t = await RawS2S.connect(B.ip, pair.ports.b);
    await t.open("c.test", B.domain);
    await t.starttls(B.domain, pki.pem[A.domain]);
    const f2 = await t.open("c.test", B.domain);
    expect(f2.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")).toBeUndefined();
    t.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from("c.test").toString("base64")}</auth>`);
    const fail = await t.next();
    expect(fail.name).toBe("failure");
    t.close();
  });
});

describe("s2s_secure_auth with self-signed certificates", () => {
  let pair: Pair;
  beforeAll(async () => {
    // a.test insists on certificates, except for b.test when s2s_insecure_domains says so (second test).
    pair = await startPair({ extra: "s2s_secure_auth = true" });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("refuses to federate without a valid certificate: the stanza bounces, the raw dialback gets not-authorized", async () => {
    const alice = await login(pair.a, "alice", A.domain, "secure");
    const r = await alice.iq(`<iq type='get' to='${B.domain}' id='sa1'><ping xmlns='urn:xmpp:ping'/></iq>`, 15000);
    expect(r.attrs.type).toBe("error");
    expect(r.getChild("error")?.getChild("remote-server-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    alice.close();
    // Incoming: b.test's dialback to a.test is refused too.
    const s = await RawS2S.connect(A.ip, pair.ports.a);
    await s.open(B.domain, A.domain);
    await s.starttls(A.domain);
    await s.open(B.domain, A.domain);
    s.write(`<db:result from='${B.domain}' to='${A.domain}'>${"1".repeat(64)}</db:result>`);
    const res = await s.next(15000);
    expect(res.attrs.type).toBe("error");
    expect(res.getChild("error", "jabber:server")?.getChild("not-authorized", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    s.close();
  });
});

describe("s2s_secure_auth with s2s_insecure_domains", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ extra: `s2s_secure_auth = true\ns2s_insecure_domains = { "${A.domain}", "${B.domain}" }` });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("lets the listed domains authenticate by dialback", async () => {
    const alice = await login(pair.a, "alice", A.domain, "insecure");
    const r = await alice.iq(`<iq type='get' to='${B.domain}' id='si1'><ping xmlns='urn:xmpp:ping'/></iq>`, 15000);
    expect(r.attrs.type).toBe("result");
    expect(pair.a.server.s2s!.list().find((x) => x.direction === "out")?.auth).toBe("dialback");
    alice.close();
  });
});
