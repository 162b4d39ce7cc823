// The runner against a fake server over real TCP: a matching script passes, and every kind of
// difference between what the script expects and what the server sends makes it fail.

import { afterEach, describe, expect, it } from "vitest";
import { generateSelfSigned } from "../../src/net/certs.js";
import type { Element } from "../../src/xml/stanza.js";
import { startFakeServer, type FakeServer, type FakeServerOptions, type FakeSession } from "./fake-server.js";
import { parseScript } from "./parser.js";
import { runScript, type RunOptions, type ScriptResult } from "./runner.js";

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const HEADER = `# Fake
[Client] Romeo
	jid: romeo@localhost
	password: pw

[Client] Juliet
	jid: juliet@localhost/balcony
	password: pw

-----
`;

/** Fake server answering `<iq id='q1'>` with the given raw XML stanzas. */
async function serve(replies: (s: FakeSession) => string[], opts: FakeServerOptions = {}): Promise<FakeServer> {
  server = await startFakeServer({
    onStanza: (el: Element, s: FakeSession) => {
      if (el.name === "iq" && el.attrs.id === "q1") for (const x of replies(s)) s.send(x);
    },
    ...opts,
  });
  return server;
}

async function play(body: string, opts: RunOptions = {}): Promise<ScriptResult> {
  const script = parseScript(HEADER + body, "fake.scs");
  return runScript(script, { host: "127.0.0.1", port: server!.port, timeoutMs: 400, ...opts });
}

const QUERY = `
Romeo connects

Romeo sends:
	<iq type='get' id='q1' to='localhost'>
		<query xmlns='urn:test'/>
	</iq>

Romeo receives:
	<iq type='result' id='q1' from='localhost'>
		<query xmlns='urn:test'>
			<item id='a'>one</item>
			<item id='b'>two</item>
		</query>
	</iq>

Romeo disconnects
`;
const RECEIVES_LINE = 19;

const GOOD = (s: FakeSession) =>
  `<iq type='result' id='q1' from='localhost' to='${s.jid}'><query xmlns='urn:test'><item id='a'>one</item><item id='b'>two</item></query></iq>`;

describe("a script against a fake server", () => {
  it("passes when the server sends exactly the expected stanza", async () => {
    await serve((s) => [GOOD(s)]);
    const r = await play(QUERY);
    expect(r.failure).toBeUndefined();
    expect(r).toMatchObject({ ok: true, steps: 4, path: "fake.scs", title: "Fake" });
    expect(server!.log[0]).toBe("romeo@localhost/r1: <iq type='get' id='q1' to='localhost'><query xmlns='urn:test'/></iq>");
  });

  const variants: [string, (s: FakeSession) => string[], RegExp][] = [
    ["an attribute differs", (s) => [GOOD(s).replace("id='b'", "id='c'")], /item\[2\]: attribute id expected 'b' got 'c'/],
    ["an extra attribute in the payload", (s) => [GOOD(s).replace("id='a'", "id='a' x='1'")], /unexpected attribute x='1'/],
    ["a stanza attribute differs", (s) => [GOOD(s).replace("type='result'", "type='error'")], /^iq: attribute type expected 'result' got 'error'$/],
    ["a child is missing", (s) => [GOOD(s).replace("<item id='b'>two</item>", "")], /missing child <item id='b'>/],
    ["an extra child", (s) => [GOOD(s).replace("</query>", "<item id='c'/></query>")], /unexpected child <item id='c'>/],
    ["a text differs", (s) => [GOOD(s).replace(">two<", ">deux<")], /text expected 'two' got 'deux'/],
    ["the order within the payload", (s) => [GOOD(s).replace("<item id='a'>one</item><item id='b'>two</item>", "<item id='b'>two</item><item id='a'>one</item>")], /item\[1\]: attribute id expected 'a' got 'b'/],
    ["the payload namespace differs", (s) => [GOOD(s).replace("urn:test", "urn:other")], /missing child <query xmlns='urn:test'>/],
    ["another stanza comes first", (s) => [`<message from='x@localhost'><body>hi</body></message>`, GOOD(s)], /expected element <iq xmlns='jabber:client'> got <message/],
    ["the same stanza with another id comes first", (s) => [GOOD(s).replace("id='q1'", "id='q0'"), GOOD(s)], /^iq: attribute id expected 'q1' got 'q0'$/],
  ];
  for (const [what, replies, diff] of variants) {
    it(`fails when ${what}`, async () => {
      await serve(replies);
      const r = await play(QUERY);
      expect(r.ok).toBe(false);
      expect(r.failure).toMatchObject({ line: RECEIVES_LINE, step: "Romeo receives:", message: "the received stanza does not match" });
      expect(r.failure!.difference).toMatch(diff);
      expect(r.failure!.expected).toContain("<item id='a'>one</item>");
      expect(r.failure!.received).toMatch(/^<(iq|message) /);
    });
  }

  it("fails when the stanza never comes", async () => {
    await serve(() => []);
    const r = await play(QUERY);
    expect(r.failure).toMatchObject({ line: RECEIVES_LINE, message: "no stanza arrived", received: "nothing within 400 ms" });
  });

  it("fails when the server ends the stream instead", async () => {
    server = await startFakeServer({ onStanza: (_el, s) => s.close("policy-violation") });
    const r = await play(QUERY);
    expect(r.failure?.line).toBe(RECEIVES_LINE);
    expect(r.failure?.message).toMatch(/stream ended instead: stream error: policy-violation/);
  });

  it("skipUnlisted (investigation mode) skips an extra stanza but still fails on a wrong one", async () => {
    await serve((s) => [`<message from='x@localhost'><body>hi</body></message>`, GOOD(s)]);
    expect((await play(QUERY, { skipUnlisted: true })).ok).toBe(true);
    await server!.close();
    await serve((s) => [GOOD(s).replace(">two<", ">deux<")]);
    const r = await play(QUERY, { skipUnlisted: true });
    expect(r.failure).toMatchObject({ message: expect.stringMatching(/no matching stanza within 400 ms \(1 non-matching/) });
    expect(r.failure?.difference).toMatch(/text expected 'two' got 'deux'/);
  });
});

describe("runner features", () => {
  it("substitutes JIDs, binds the requested resource, keeps clients apart", async () => {
    server = await startFakeServer({
      onStanza: (el, s, srv) => {
        if (el.name === "message") {
          const to = srv.sessions.find((x) => x.jid === el.attrs.to);
          to?.send(`<message from='${s.jid}' to='${to.jid}' type='chat'>${el.children.map(String).join("")}</message>`);
        }
      },
    });
    const r = await play(`
Romeo connects

Juliet connects

Romeo sends:
	<message to="\${Juliet's full JID}" type="chat">
		<body>Hello &apos;Juliet&apos;</body>
	</message>

Juliet receives:
	<message from="\${Romeo's full JID}" to="juliet@localhost/balcony">
		<body>Hello 'Juliet'</body>
	</message>

Romeo receives: nothing

Juliet disconnects
`);
    expect(r.failure).toBeUndefined();
    expect(server.log.find((l) => l.includes("<message"))).toBe(
      "romeo@localhost/r1: <message to='juliet@localhost/balcony' type='chat'><body>Hello 'Juliet'</body></message>",
    );
  });

  it("receives: nothing fails when something arrives", async () => {
    await serve((s) => [GOOD(s)]);
    const r = await play(`
Romeo connects

Romeo sends:
	<iq type='get' id='q1'/>

Romeo receives: nothing
`);
    expect(r.failure).toMatchObject({ line: 17, step: "Romeo receives: nothing", received: expect.stringContaining("id='q1'") });
  });

  it("captures carry across steps", async () => {
    let n = 0;
    server = await startFakeServer({
      onStanza: (el, s) => {
        if (el.name === "iq") s.send(`<iq type='result' id='${el.attrs.id}'><r xmlns='urn:r' v='${n++ < 2 ? "same" : "other"}'/></iq>`);
      },
    });
    const body = (id: string) => `
Romeo sends:
	<iq type='get' id='${id}'/>

Romeo receives:
	<iq type='result' id='${id}'><r xmlns='urn:r' v='{scansion:capture:v}'/></iq>
`;
    const r = await play(`Romeo connects\n${body("a")}${body("b")}${body("c")}`);
    expect(r.failure).toMatchObject({ line: 28, difference: "iq/r: attribute v expected 'same' (captured as v) got 'other'" });
  });

  it("a full JID is unknown before the client connects", async () => {
    await serve(() => []);
    const r = await play(`Romeo connects\n\nRomeo sends:\n\t<message to="\${Juliet's full JID}"/>\n`);
    expect(r.failure).toMatchObject({ line: 13, message: expect.stringMatching(/Juliet has not connected yet/) });
  });

  it("acting for a client that is not connected fails", async () => {
    await serve(() => []);
    const r = await play(`Romeo sends:\n\t<presence/>\n`);
    expect(r.failure).toMatchObject({ line: 11, message: "Romeo is not connected" });
  });

  it("a refused login fails the connects step", async () => {
    server = await startFakeServer({ refuse: ["juliet"] });
    const r = await play(`Romeo connects\n\nJuliet connects\n`);
    expect(r.failure).toMatchObject({ line: 13, step: "Juliet connects" });
    expect(r.failure?.message).toMatch(/Juliet could not log in: authentication as juliet@localhost failed/);
  });

  it("a server that closes a client's stream fails the next step", async () => {
    server = await startFakeServer({ onStanza: (el, s) => el.name === "presence" && s.close("conflict") });
    const r = await play(`Romeo connects\n\nJuliet connects\n\nRomeo sends:\n\t<presence/>\n\nJuliet sends:\n\t<presence/>\n`);
    expect(r.failure).toMatchObject({ line: 18, message: "Romeo's stream ended unexpectedly: stream error: conflict" });
  });

  it("orders actions across clients: a send is processed before another client acts", async () => {
    server = await startFakeServer({});
    const r = await play(`Romeo connects\n\nJuliet connects\n\nRomeo sends:\n\t<message to='juliet@localhost'/>\n\nJuliet sends:\n\t<presence/>\n`);
    expect(r.ok).toBe(true);
    const kinds = server.log.map((l) => l.replace(/^(\S+): <(\w+).*$/, "$1 $2"));
    expect(kinds).toEqual(["romeo@localhost/r1 message", "romeo@localhost/r1 iq", "juliet@localhost/balcony presence"]);
  });

  it("sends only the stanza, without indentation or namespace declarations", async () => {
    server = await startFakeServer({});
    const r = await play(`Romeo connects\n\nRomeo sends:\n\t<iq xmlns:stream='http://etherx.jabber.org/streams' type='set' id='s'>\n\t\t<q xmlns='urn:q'>\n\t\t\t<v> x </v>\n\t\t</q>\n\t</iq>\n`);
    expect(r.ok).toBe(true);
    expect(server.log[0]).toBe("romeo@localhost/r1: <iq type='set' id='s'><q xmlns='urn:q'><v> x </v></q></iq>");
  });

  it("logs in over STARTTLS when the server offers it", async () => {
    const pair = generateSelfSigned(["localhost"]);
    await serve((s) => [GOOD(s)], { tls: pair });
    const r = await play(QUERY);
    expect(r.failure).toBeUndefined();
  });

  it("a stale substitution fails the script", async () => {
    await serve((s) => [GOOD(s)]);
    const r = await play(QUERY, { substitutions: [{ script: "fake.scs", find: "<name>Prosody</name>", replace: "x", reason: "t" }] });
    expect(r.failure).toMatchObject({ line: 0, message: expect.stringMatching(/no longer applies/) });
    const ok = await play(QUERY, { substitutions: [{ script: "fake.scs", find: ">two<", replace: ">two<", reason: "t" }] });
    expect(ok.ok).toBe(true);
  });

  it("a substitution adapts the expected stanza", async () => {
    await serve((s) => [GOOD(s).replace(">two<", ">Herald<")]);
    expect((await play(QUERY)).ok).toBe(false);
    const r = await play(QUERY, { substitutions: [{ script: "fake.scs", find: "<item id='b'>two</item>", replace: "<item id='b'>Herald</item>", reason: "identity" }] });
    expect(r.failure).toBeUndefined();
  });

  it("closes every socket at the end, even when the script fails or does not disconnect", async () => {
    await serve(() => []);
    await play(`Romeo connects\n\nJuliet connects\n\nRomeo receives: nothing\n`);
    await play(QUERY);
    // Wait for the server side to notice.
    for (let i = 0; i < 50 && (await openConnections()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await openConnections()).toBe(0);
  });
});

async function openConnections(): Promise<number> {
  return server!.connections();
}
