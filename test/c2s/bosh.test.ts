// BOSH (XEP-0124 / XEP-0206) at /http-bind, over real HTTP on loopback with Node's fetch: session
// creation, SASL PLAIN and SCRAM, restart and bind, holding requests, wait, the rid window, repeated
// requests, bad sids, inactivity, terminate, pause, stream errors, body limits and CORS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { scramClient } from "../../src/sasl/client.js";
import { XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";

const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
const XMLNS = `xmlns='${NS_HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh'`;

let ts: TestServer;
let url: string;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "ping"; "bosh" }
c2s_require_encryption = true
bosh_max_inactivity = 2
http_max_content_size = 20000
VirtualHost "localhost"
VirtualHost "nobosh.localhost"
  modules_disabled = { "bosh" }
`,
  });
  await ts.server.accounts("localhost").create("alice", "wonderland");
  await ts.server.accounts("localhost").create("bob", "builder");
  url = `http://127.0.0.1:${ts.httpPort}/http-bind`;
});
afterAll(() => ts?.stop());

interface Body {
  status: number;
  headers: Headers;
  text: string;
  attrs: Record<string, string>;
  children: Element[];
}

function parse(text: string): { attrs: Record<string, string>; children: Element[] } {
  let attrs: Record<string, string> = {};
  const children: Element[] = [];
  let ns = "";
  let ended = false;
  const p = new XmlStream(
    { streamStart: (a, info) => ((attrs = a), (ns = info.ns)), stanza: (el) => children.push(el), streamEnd: () => (ended = true), error: (c, t) => { throw new Error(`${c}: ${t} in ${text}`); } },
    { framing: "stream" },
  );
  p.write(text);
  if (ns !== NS_HTTPBIND || !ended) throw new Error(`not a complete BOSH body: ${text}`);
  return { attrs, children };
}

async function post(body: string, headers: Record<string, string> = {}): Promise<Body> {
  const r = await fetch(url, { method: "POST", body, headers: { "content-type": "text/xml; charset=utf-8", ...headers } });
  const text = await r.text();
  expect(r.status, text).toBe(200);
  return { status: r.status, headers: r.headers, text, ...parse(text) };
}

/** A minimal BOSH client: it numbers its requests and sends what it is told. */
class Bosh {
  rid = 1000 + Math.floor(Math.random() * 100000);
  sid = "";
  creation!: Body;

  static async open(attrs = "wait='30' hold='1'"): Promise<Bosh> {
    const b = new Bosh();
    b.creation = await post(`<body ${XMLNS} content='text/xml; charset=utf-8' rid='${b.rid}' to='localhost' ver='1.6' xml:lang='en' xmpp:version='1.0' ${attrs}/>`);
    b.sid = b.creation.attrs.sid;
    return b;
  }

  /** The next request; `extra` are attributes, `payload` the stanzas. */
  send(payload = "", extra = ""): Promise<Body> {
    this.rid++;
    return post(`<body ${XMLNS} rid='${this.rid}' sid='${this.sid}' ${extra}>${payload}</body>`);
  }

  /** Send, and poll with empty requests until a response carries something. */
  async exchange(payload = "", extra = ""): Promise<Element[]> {
    let r = await this.send(payload, extra);
    while (r.children.length === 0 && r.attrs.type !== "terminate") r = await this.send();
    return r.children;
  }

  async login(mech: "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256", user: string, password: string, resource: string): Promise<string> {
    if (mech === "PLAIN") {
      const [res] = await this.exchange(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
      expect(res.name).toBe("success");
    } else {
      const scram = scramClient(mech === "SCRAM-SHA-1" ? "SHA-1" : "SHA-256", user, password);
      const [challenge] = await this.exchange(`<auth xmlns='${NS_SASL}' mechanism='${mech}'>${Buffer.from(scram.first()).toString("base64")}</auth>`);
      expect(challenge.name).toBe("challenge");
      const final = await scram.final(Buffer.from(challenge.getText(), "base64"));
      const [success] = await this.exchange(`<response xmlns='${NS_SASL}'>${Buffer.from(final).toString("base64")}</response>`);
      expect(success.name).toBe("success");
      expect(scram.verify(Buffer.from(success.getText(), "base64"))).toBe(true);
    }
    // Restart: the response carries the new stream's features, with bind.
    const [features] = await this.exchange("", "to='localhost' xml:lang='en' xmpp:restart='true'");
    expect(features.name).toBe("features");
    expect(features.getChild("bind", NS_BIND)).toBeDefined();
    const [bound] = await this.exchange(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
    expect(bound.attrs.type).toBe("result");
    return bound.getChild("bind", NS_BIND)!.getChildText("jid")!;
  }
}

describe("BOSH session creation", () => {
  it("answers with the session's parameters and the stream features", async () => {
    const b = await Bosh.open("wait='300' hold='5'");
    const { attrs, children, headers } = b.creation;
    expect(headers.get("content-type")).toBe("text/xml; charset=utf-8");
    expect(attrs.sid).toMatch(/^[0-9a-f]{32}$/);
    expect(attrs.wait).toBe("120"); // bosh_max_wait
    expect(attrs.hold).toBe("1");
    expect(attrs.requests).toBe("2");
    expect(attrs.inactivity).toBe("2");
    expect(attrs.polling).toBe("5");
    expect(attrs.from).toBe("localhost");
    expect(attrs["xmpp:version"]).toBe("1.0");
    expect(attrs["xmpp:restartlogic"]).toBe("true");
    expect(children).toHaveLength(1);
    const mechs = children[0].getChild("mechanisms", NS_SASL)!.children.filter((c): c is Element => typeof c !== "string").map((m) => m.getText());
    expect(mechs).toEqual(expect.arrayContaining(["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"]));
    // Sids are not guessable: two sessions share nothing.
    const other = await Bosh.open();
    expect(other.sid).not.toBe(b.sid);
    await b.send("", "type='terminate'");
    await other.send("", "type='terminate'");
  });

  it("refuses a request without 'to', for an unknown host, or with a bad rid or body", async () => {
    expect((await post(`<body ${XMLNS} rid='1' wait='10' hold='1'/>`)).attrs).toMatchObject({ type: "terminate", condition: "improper-addressing" });
    expect((await post(`<body ${XMLNS} rid='1' to='elsewhere.example' wait='10' hold='1'/>`)).attrs).toMatchObject({ type: "terminate", condition: "host-unknown" });
    // A VirtualHost with "bosh" in its modules_disabled is not served over BOSH.
    expect((await post(`<body ${XMLNS} rid='1' to='nobosh.localhost' wait='10' hold='1'/>`)).attrs).toMatchObject({ type: "terminate", condition: "host-unknown" });
    expect((await post(`<body ${XMLNS} rid='x' to='localhost' wait='10' hold='1'/>`)).attrs).toMatchObject({ type: "terminate", condition: "bad-request" });
    const notBody = await fetch(url, { method: "POST", body: "<stream xmlns='jabber:client'/>" });
    expect(await notBody.text()).toContain("condition='bad-request'");
    const broken = await fetch(url, { method: "POST", body: `<body ${XMLNS} rid='1' to='localhost'>` });
    expect(await broken.text()).toContain("condition='bad-request'");
  });

  it("answers an unknown sid with item-not-found", async () => {
    const r = await post(`<body ${XMLNS} rid='5' sid='0123456789abcdef0123456789abcdef'/>`);
    expect(r.attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });

  it("refuses a body larger than http_max_content_size with 413", async () => {
    const b = await Bosh.open();
    const big = `<message xmlns='jabber:client' to='bob@localhost'><body>${"x".repeat(25000)}</body></message>`;
    b.rid++;
    const r = await fetch(url, { method: "POST", body: `<body ${XMLNS} rid='${b.rid}' sid='${b.sid}'>${big}</body>` });
    expect(r.status).toBe(413);
  });
});

describe("XMPP over BOSH", () => {
  it("logs in with SASL PLAIN, binds, and exchanges stanzas with a TCP client through held requests", async () => {
    const b = await Bosh.open();
    const jid = await b.login("PLAIN", "alice", "wonderland", "web");
    expect(jid).toBe("alice@localhost/web");
    const host = ts.server.hosts.get("localhost")!;
    expect(host.sessionsOf("alice").map((s) => s.transportKind)).toEqual(["bosh"]);

    const [pong] = await b.exchange("<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(pong.attrs).toMatchObject({ type: "result", id: "p1" });

    // A request is held; a message from bob answers it.
    const bob = await RawClient.login(ts.c2sPort, "bob", "builder", { resource: "tcp" });
    try {
      const held = b.send();
      bob.send(`<message type='chat' to='alice@localhost/web' id='m1'><body>hello over BOSH</body></message>`);
      const r = await held;
      expect(r.children).toHaveLength(1);
      expect(r.children[0].attrs).toMatchObject({ xmlns: "jabber:client", from: "bob@localhost/tcp", id: "m1" });
      expect(r.children[0].getChildText("body")).toBe("hello over BOSH");

      // And alice's message reaches bob (its request is held: nothing comes back for it).
      void b.send(`<message xmlns='jabber:client' type='chat' to='bob@localhost/tcp' id='m2'><body>hi bob</body></message>`);
      let got = await bob.next(10000);
      while (got.name !== "message") got = await bob.next(10000);
      expect(got.attrs.from).toBe("alice@localhost/web");
      expect(got.getChildText("body")).toBe("hi bob");
    } finally {
      bob.close();
    }
    const end = await b.send("<presence xmlns='jabber:client' type='unavailable'/>", "type='terminate'");
    expect(end.attrs.type).toBe("terminate");
    await expect.poll(() => host.sessionsOf("alice").length, { timeout: 10000 }).toBe(0);
    // The session is gone.
    expect((await b.send()).attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });

  it("reads a request body larger than one parser slice whole (a long message), and refuses invalid UTF-8", async () => {
    const b = await Bosh.open();
    await b.login("PLAIN", "alice", "wonderland", "long");
    const bob = await RawClient.login(ts.c2sPort, "bob", "builder", { resource: "long" });
    try {
      // Well over the stream parser's 2 KiB slice: the body is parsed over several turns.
      const text = "la ".repeat(4000);
      void b.send(`<message xmlns='jabber:client' type='chat' to='bob@localhost/long' id='big'><body>${text}</body></message>`);
      let got = await bob.next(10000);
      while (got.name !== "message") got = await bob.next(10000);
      expect(got.getChildText("body")).toBe(text);
    } finally {
      bob.close();
    }
    const bad = await fetch(url, {
      method: "POST",
      body: Buffer.concat([Buffer.from(`<body ${XMLNS} rid='${b.rid + 1}' sid='${b.sid}'><message xmlns='jabber:client'><body>`), Buffer.from([0xc3, 0x28]), Buffer.from("</body></message></body>")]),
    });
    expect(parse(await bad.text()).attrs).toMatchObject({ type: "terminate", condition: "bad-request" });
  });

  it("logs in with SCRAM-SHA-1 and SCRAM-SHA-256", async () => {
    for (const mech of ["SCRAM-SHA-1", "SCRAM-SHA-256"] as const) {
      const b = await Bosh.open();
      expect(await b.login(mech, "alice", "wonderland", mech)).toBe(`alice@localhost/${mech}`);
      await b.send("", "type='terminate'");
    }
  });

  it("ends the session with a stream error as a terminate body", async () => {
    const b = await Bosh.open();
    // A stanza before authentication: <not-authorized/>.
    const r = await b.send("<message xmlns='jabber:client' to='bob@localhost'><body>x</body></message>");
    expect(r.attrs).toMatchObject({ type: "terminate", condition: "remote-stream-error" });
    const err = r.children.find((c) => c.name === "error")!;
    expect(err.getChild("not-authorized", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
    expect((await b.send()).attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });
});

describe("BOSH requests", () => {
  it("answers a held request empty after 'wait' seconds", async () => {
    const b = await Bosh.open("wait='1' hold='1'");
    expect(b.creation.attrs.wait).toBe("1");
    // Nothing to say: the request comes back empty once the wait is over, and the session lives on.
    const r = await b.send();
    expect(r.attrs.type).toBeUndefined();
    expect(r.children).toHaveLength(0);
    const again = await b.send();
    expect(again.attrs.type).toBeUndefined();
    await b.send("", "type='terminate'");
  });

  it("holds at most 'hold' requests: a second one releases the first", async () => {
    const b = await Bosh.open("wait='60' hold='1'");
    const first = b.send();
    const firstDone = first.then(() => true);
    // The first is held (wait is a minute)…
    await new Promise((r) => setTimeout(r, 200));
    const second = b.send();
    // …until the second arrives; then it comes back empty, well before its wait.
    expect(await firstDone).toBe(true);
    expect((await first).attrs).toEqual({ sid: b.sid });
    expect((await first).children).toHaveLength(0);
    await b.send("", "type='terminate'");
    await second;
  });

  it("repeats the response to a repeated rid, and ends the session on a rid outside the window", async () => {
    const b = await Bosh.open("wait='60' hold='1'");
    const first = await b.exchange(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from("\0alice\0wonderland").toString("base64")}</auth>`);
    expect(first[0].name).toBe("success");
    // The same rid again: exactly the same response.
    const again = await post(`<body ${XMLNS} rid='${b.rid}' sid='${b.sid}'/>`);
    expect(again.children[0].name).toBe("success");
    // Requests may arrive out of order within the window: rid+2 waits for rid+1.
    const later = post(`<body ${XMLNS} rid='${b.rid + 2}' sid='${b.sid}'><iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='${NS_BIND}'><resource>r</resource></bind></iq></body>`);
    const restart = post(`<body ${XMLNS} rid='${b.rid + 1}' sid='${b.sid}' xmpp:restart='true' to='localhost'/>`);
    b.rid += 2;
    // The restart's response has the new features; the bind result follows on it or a later one.
    let children = (await restart).children;
    expect(children.map((c) => c.name)).toContain("features");
    while (!children.some((c) => c.name === "iq")) children = (await b.send()).children;
    expect(children.find((c) => c.name === "iq")!.attrs.type).toBe("result");
    // Far beyond the window: item-not-found, and the session is over.
    const wild = await post(`<body ${XMLNS} rid='${b.rid + 10}' sid='${b.sid}'/>`);
    expect(wild.attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
    await later; // released, by a later request or by the end of the session (its wait is a minute)
    await expect.poll(() => ts.server.hosts.get("localhost")!.sessionsOf("alice").some((s) => s.resource === "r"), { timeout: 10000 }).toBe(false);
    expect((await b.send()).attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });

  it("ends a session whose client sends no request for bosh_max_inactivity seconds", async () => {
    const b = await Bosh.open("wait='60' hold='1'");
    await b.login("PLAIN", "alice", "wonderland", "idle");
    const host = ts.server.hosts.get("localhost")!;
    expect(host.sessionsOf("alice").some((s) => s.resource === "idle")).toBe(true);
    // No request open from now on: after 2 s (the configured inactivity) the session is unbound.
    await expect.poll(() => host.sessionsOf("alice").some((s) => s.resource === "idle"), { timeout: 20000, interval: 200 }).toBe(false);
    expect((await b.send()).attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });

  it("answers a pause at once, and refuses one longer than maxpause", async () => {
    const b = await Bosh.open("wait='60' hold='1'");
    expect(b.creation.attrs.maxpause).toBe("120");
    const held = b.send();
    await new Promise((r) => setTimeout(r, 100));
    const paused = await b.send("", "pause='5'");
    expect(paused.attrs.type).toBeUndefined();
    expect((await held).attrs.type).toBeUndefined();
    const tooLong = await b.send("", "pause='1000'");
    expect(tooLong.attrs).toMatchObject({ type: "terminate", condition: "policy-violation" });
  });

  it("ignores a request for a second stream (multiple streams are not offered)", async () => {
    const b = await Bosh.open("wait='1' hold='1'");
    expect(b.creation.attrs.stream).toBeUndefined();
    const r = await b.send("", "to='localhost' xmpp:version='1.0'");
    expect(r.attrs.type).toBeUndefined();
    expect(r.attrs.sid).toBe(b.sid);
    expect(r.attrs.stream).toBeUndefined();
    await b.send("", "type='terminate'");
  });
});

describe("BOSH over HTTP", () => {
  it("answers a CORS preflight and marks responses for cross-origin clients", async () => {
    const pre = await fetch(url, { method: "OPTIONS", headers: { origin: "https://web.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(pre.status).toBe(200);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://web.example");
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    const r = await post(`<body ${XMLNS} rid='1' sid='none'/>`, { origin: "https://web.example" });
    expect(r.headers.get("access-control-allow-origin")).toBe("https://web.example");
  });

  it("says what it is on GET", async () => {
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain("BOSH");
  });
});

describe("BOSH switched off, and CORS options", () => {
  it("serves no /http-bind without 'bosh' in modules_enabled", async () => {
    const off = await startTestServer();
    try {
      const r = await fetch(`http://127.0.0.1:${off.httpPort}/http-bind`, { method: "POST", body: `<body ${XMLNS} rid='1' to='localhost' wait='5'/>` });
      expect(r.status).toBe(404);
    } finally {
      await off.stop();
    }
  });

  it("sends no CORS headers with cross_domain_bosh = false, and only to listed origins with a list", async () => {
    const closed = await startTestServer({ config: `modules_enabled = { "bosh" }\ncross_domain_bosh = false\nVirtualHost "localhost"\n` });
    const listed = await startTestServer({ config: `modules_enabled = { "bosh" }\nhttp_cors_override = { bosh = { origins = { "https://good.example" } } }\nVirtualHost "localhost"\n` });
    try {
      const pre = (port: number, origin: string) => fetch(`http://127.0.0.1:${port}/http-bind`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
      expect((await pre(closed.httpPort, "https://web.example")).headers.get("access-control-allow-origin")).toBeNull();
      expect((await pre(listed.httpPort, "https://good.example")).headers.get("access-control-allow-origin")).toBe("https://good.example");
      expect((await pre(listed.httpPort, "https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await closed.stop();
      await listed.stop();
    }
  });
});

describe("BOSH at shutdown", () => {
  it("tells a held request <system-shutdown/>", async () => {
    const own = await startTestServer({ config: `modules_enabled = { "bosh" }\nVirtualHost "localhost"\n` });
    const at = `http://127.0.0.1:${own.httpPort}/http-bind`;
    const created = parse(await (await fetch(at, { method: "POST", body: `<body ${XMLNS} rid='10' to='localhost' wait='60' hold='1' xmpp:version='1.0'/>` })).text());
    const req = (rid: number) => fetch(at, { method: "POST", body: `<body ${XMLNS} rid='${rid}' sid='${created.attrs.sid}'/>` }).then((r) => r.text());
    // rid 12 releases rid 11 (hold is 1): once 11 is answered, 12 is certainly held.
    const first = req(11);
    const held = req(12);
    expect(parse(await first).children).toHaveLength(0);
    await own.stop();
    const body = parse(await held);
    expect(body.attrs).toMatchObject({ type: "terminate", condition: "remote-stream-error" });
    expect(body.children.find((c) => c.name === "error")?.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
  });
});
