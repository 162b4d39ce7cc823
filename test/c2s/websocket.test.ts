// A real third-party client, @xmpp/client, logs in over WebSocket (RFC 7395) and pings the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, xml } from "@xmpp/client";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "../helpers/harness.js";

// COMPAT: @xmpp/websocket uses the global WebSocket, which Node only has from version 22.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.server.accounts("localhost").create("carol", "s3cret");
});
afterAll(() => ts?.stop());

describe("WebSocket (RFC 7395)", () => {
  it("@xmpp/client logs in with SCRAM-SHA-1 and pings the server", async () => {
    const xmpp = client({ service: `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`, domain: "localhost", username: "carol", password: "s3cret", resource: "web", timeout: 15000 }); // its 2 s default per step is short for a loaded 2-core machine
    xmpp.on("error", () => {});
    const mechanisms: string[] = [];
    xmpp.on("nonza", (el: { is(n: string, ns?: string): boolean; getChild(n: string): { getChildren(n: string): Array<{ text(): string }> } | undefined }) => {
      if (el.is("features", "http://etherx.jabber.org/streams")) {
        for (const m of el.getChild("mechanisms")?.getChildren("mechanism") ?? []) mechanisms.push(m.text());
      }
    });
    const jid = await xmpp.start();
    expect(String(jid)).toBe("carol@localhost/web");
    expect(mechanisms).toContain("SCRAM-SHA-1");
    const pong = await xmpp.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    expect(pong.attrs.from).toBe("localhost");
    await xmpp.stop();
  });

  it("refuses an upgrade without the xmpp subprotocol", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`);
    const outcome = await new Promise<string>((resolve) => {
      ws.on("open", () => resolve("open"));
      ws.on("error", (e) => resolve(`error: ${e.message}`));
      ws.on("unexpected-response", (_req, res) => resolve(`status ${res.statusCode}`));
    });
    expect(outcome).toBe("status 400");
  });

  it("frames every stanza on its own and closes with <close/>", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`, "xmpp");
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on("open", () => resolve());
      ws.on("error", reject);
    });
    ws.on("message", (d) => frames.push(String(d)));
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    await new Promise((r) => setTimeout(r, 200));
    expect(frames[0]).toMatch(/^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='localhost' id='[^']+' version='1.0' xml:lang='en'\/>$/);
    expect(frames[1]).toMatch(/^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>.*SCRAM-SHA-1.*<\/stream:features>$/);
    const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
    ws.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    expect(await closed).toBe(1000);
    expect(frames[frames.length - 1]).toBe("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
  });
});
