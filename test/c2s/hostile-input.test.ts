// Hostile input on real connections: it ends the stream that sent it, at once, with the right
// stream error, and every other session carries on undisturbed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { streamError } from "../helpers/errors.js";

const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const LIMIT = 262144; // c2s_stanza_size_limit's default

let ts: TestServer;
let bystander: RawClient;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.server.accounts("localhost").create("alice", "wonderland");
  await ts.server.accounts("localhost").create("bob", "builder");
  bystander = await RawClient.login(ts.c2sPort, "bob", "builder", { resource: "bystander" });
});
afterAll(async () => {
  bystander?.close();
  await ts?.stop();
});


/** The first stream error the client gets (skipping the stream header and features). */
async function nextStreamError(c: RawClient, timeoutMs = 5000): Promise<string | undefined> {
  for (;;) {
    const ev = await c.nextEvent(timeoutMs);
    if (ev.kind === "stanza" && streamError(ev.el!)) return streamError(ev.el!);
    if (ev.kind === "stanza" && ev.el!.name === "message") return `message ${ev.el!.attrs.id}`;
  }
}

let pings = 0;
async function ping(): Promise<number> {
  const started = performance.now();
  const r = await bystander.iq(`<iq type='get' id='p${++pings}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
  expect(r.attrs.type).toBe("result");
  return performance.now() - started;
}

/** `<message>` to the client itself with a body of `fill`, exactly `bytes` long in UTF-8. */
function selfMessage(to: string, id: string, bytes: number, fill = "x"): Buffer {
  const head = `<message to='${to}' id='${id}'><body>`;
  const tail = "</body></message>";
  const room = bytes - Buffer.byteLength(head) - tail.length;
  const unit = Buffer.byteLength(fill);
  const body = fill.repeat(Math.floor(room / unit)) + "y".repeat(room % unit);
  const out = Buffer.from(head + body + tail);
  expect(out.length).toBe(bytes);
  return out;
}

async function writeInReads(c: RawClient, data: Buffer, pieces: number): Promise<void> {
  const size = Math.ceil(data.length / pieces);
  for (let i = 0; i < data.length; i += size) {
    c.write(data.subarray(i, i + size));
    await new Promise((r) => setTimeout(r, 30)); // separate reads on the server
  }
}

describe("hostile input", () => {
  it("deep nesting from four unauthenticated connections does not stall other sessions", async () => {
    const attackers = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(ts.c2sPort)));
    const rtts: number[] = [];
    let attacking = true;
    const pinger = (async () => {
      while (attacking) rtts.push(await ping());
    })();
    await ping();
    for (const a of attackers) a.write(HEADER + "<message>" + "<a>".repeat(20000));
    const errors = await Promise.all(attackers.map((a) => nextStreamError(a, 30000)));
    attacking = false;
    await pinger;
    expect(errors).toEqual(["policy-violation", "policy-violation", "policy-violation", "policy-violation"]);
    for (const a of attackers) await a.waitClosed();
    // The bound: every other session's pings used to wait 3-10 s. Generous for a loaded machine.
    expect(Math.max(...rtts)).toBeLessThan(1000);
  });

  it("counts the stanza size in bytes, exactly, however the stanza is split into reads", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "size" });
    // 197,000 characters of ASCII in several reads: well under the limit.
    await writeInReads(c, selfMessage(c.jid, "m197k", 197000), 5);
    expect(await nextStreamError(c)).toBe("message m197k");
    // exactly at the limit, in one write and in many reads
    c.write(selfMessage(c.jid, "at-limit", LIMIT));
    expect(await nextStreamError(c)).toBe("message at-limit");
    await writeInReads(c, selfMessage(c.jid, "at-limit-split", LIMIT), 7);
    expect(await nextStreamError(c)).toBe("message at-limit-split");
    // one byte over
    c.write(selfMessage(c.jid, "over", LIMIT + 1));
    expect(await nextStreamError(c)).toBe("policy-violation");
    await c.waitClosed();
  });

  it("counts multibyte characters by their bytes", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "utf8" });
    const msg = selfMessage(c.jid, "wide", LIMIT + 2, "é"); // about 131,000 characters
    expect(msg.toString("utf8").length).toBeLessThan(LIMIT * 0.6);
    await writeInReads(c, msg, 4);
    expect(await nextStreamError(c)).toBe("policy-violation");
    await c.waitClosed();
  });

  it("a stray '&' ends the stream at once with <not-well-formed/>", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "amp" });
    c.write(`<message to='${c.jid}' id='amp'><body>fish & chips</body></message><message to='${c.jid}' id='after'><body>x</body></message>`);
    expect(await nextStreamError(c, 2000)).toBe("not-well-formed");
    await c.waitClosed();
    // and when nothing follows it in the same read
    const d = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "amp2" });
    d.write(`<message to='${d.jid}' id='amp'><body>fish &`);
    await new Promise((r) => setTimeout(r, 50));
    d.write(` chips</body></message><message to='${d.jid}' id='after'><body>x</body></message>`);
    expect(await nextStreamError(d, 2000)).toBe("not-well-formed");
    await d.waitClosed();
  });

  it.each([
    ["a byte that is never UTF-8", [0xff]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a truncated sequence", [0xe2, 0x82, 0x3c]],
  ])("invalid UTF-8 over TCP (%s) ends the stream with <unsupported-encoding/>", async (_what, bytes) => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "bytes" });
    c.write(Buffer.concat([Buffer.from(`<message to='${c.jid}' id='bad'><body>`), Buffer.from(bytes), Buffer.from("</body></message>")]));
    expect(await nextStreamError(c, 2000)).toBe("unsupported-encoding");
    await c.waitClosed();
  });

  it("invalid UTF-8 in the stream header ends the stream too", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    c.write(Buffer.concat([Buffer.from(HEADER.replace("to='localhost'", "to='local")), Buffer.from([0xc3, 0x28]), Buffer.from("host'>")]));
    expect(await nextStreamError(c, 2000)).toBe("unsupported-encoding");
    await c.waitClosed();
  });

  it("stanzas sent in clear behind <starttls/> are never handled (no STARTTLS command injection)", async () => {
    const c = await RawClient.connect(ts.c2sPort);
    await c.stream();
    await c.starttls(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0alice\0wonderland").toString("base64")}</auth>`);
    const features = await c.stream();
    expect(features.name).toBe("features");
    expect(features.getChild("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")).toBeDefined();
    await c.nothing(200);
    const ok = await c.auth("SCRAM-SHA-1", "alice", "wonderland");
    expect(ok.name).toBe("success");
    c.close();
  });

  it("an unterminated comment is refused before it ends", async () => {
    const c = await RawClient.login(ts.c2sPort, "alice", "wonderland", { resource: "comment" });
    c.write("<message><!-- and so on, for ever");
    expect(await nextStreamError(c, 2000)).toBe("restricted-xml");
    await c.waitClosed();
  });
});

describe("hostile input over WebSocket (RFC 7395)", () => {
  async function wsOpen(): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<number> }> {
    const ws = new WebSocket(`ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`, "xmpp");
    const frames: string[] = [];
    ws.on("message", (d) => frames.push(String(d)));
    const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => resolve());
      ws.on("error", reject);
    });
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    return { ws, frames, closed };
  }

  it.each([
    ["deep nesting", "<message xmlns='jabber:client'>" + "<a>".repeat(20000), "policy-violation"],
    ["a stray '&'", "<message xmlns='jabber:client'><body>fish & chips</body></message>", "not-well-formed"],
    ["a message that is not a complete element", "<message xmlns='jabber:client'><body>", "not-well-formed"],
    ["a comment", "<!-- hello -->", "restricted-xml"],
  ])("%s ends the stream with the right error", async (_what, payload, condition) => {
    const { ws, frames, closed } = await wsOpen();
    ws.send(payload);
    ws.send("<iq xmlns='jabber:client' type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>");
    await closed;
    const error = frames.find((f) => f.startsWith("<stream:error"));
    expect(error).toContain(`<${condition} xmlns='${NS_STREAMS}'/>`);
    expect(frames.some((f) => f.includes("id='after'"))).toBe(false);
    expect(frames[frames.length - 1]).toBe("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
  });
});
