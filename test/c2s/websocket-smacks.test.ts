// Stream management (XEP-0198) over WebSocket with a real client, @xmpp/client: it enables SM,
// its WebSocket is closed under it (no <close/>), it reconnects on its own and resumes; every
// message sent to it meanwhile arrives, once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client } from "@xmpp/client";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { waitUntil } from "../helpers/wait.js";
import type { C2SConnection } from "../../src/net/c2s.js";

// COMPAT: @xmpp/websocket uses the global WebSocket, which Node only has from version 22.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "smacks" }
VirtualHost "localhost"
`,
  });
  for (const u of ["carol", "dan"]) await ts.server.accounts("localhost").create(u, "s3cret");
});
afterAll(() => ts?.stop());

const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = 15000) => waitUntil(cond, ms, what);

interface SmApi {
  id: string;
  enabled: boolean;
  on(event: "resumed", fn: () => void): void;
}

describe("@xmpp/client over WebSocket with stream management", () => {
  it("resumes after its WebSocket is lost, with every message once", async () => {
    const xmpp = client({ service: `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`, domain: "localhost", username: "carol", password: "s3cret", resource: "web" });
    xmpp.on("error", () => {});
    const sm = (xmpp as unknown as { streamManagement: SmApi }).streamManagement;
    const ids: string[] = [];
    xmpp.on("stanza", (el: { name: string; attrs: Record<string, string> }) => {
      if (el.name === "message") ids.push(el.attrs.id);
    });
    let resumed = 0;
    sm.on("resumed", () => resumed++);
    await xmpp.start();
    await waitFor("stream management to be enabled", () => sm.enabled && sm.id !== "");
    const firstId = sm.id;

    const dan = await RawClient.login(ts.c2sPort, "dan", "s3cret", { resource: "d", noTls: true, mechanism: "PLAIN" });
    const chat = (id: string) => `<message to='carol@localhost/web' type='chat' id='${id}'><body>${id}</body></message>`;
    dan.send(chat("x0"));
    await waitFor("the first message", () => ids.length === 1);

    // The WebSocket closes under the client, without <close/>: to the server the connection is lost.
    const disconnected = new Promise<void>((r) => xmpp.once("disconnect", () => r()));
    (xmpp as unknown as { socket: { socket: WebSocket } }).socket.socket.close();
    await disconnected;
    dan.send(chat("x1"));
    dan.send(chat("x2"));

    await waitFor("the client to resume", () => resumed === 1);
    await waitFor("the messages sent meanwhile", () => ids.length >= 3);
    await new Promise((r) => setTimeout(r, 500)); // anything sent twice would have come by now
    expect(ids).toEqual(["x0", "x1", "x2"]);
    expect(sm.id).toBe(firstId);
    const s = ts.server.hosts.get("localhost")!.session("carol", "web") as C2SConnection;
    expect(s.hibernating).toBe(false);
    expect(s.transportKind).toBe("websocket");
    await dan.next(300).then(
      (el) => expect.fail(`dan got ${el}`),
      (err: Error) => expect(err.message).toMatch(/nothing received/),
    );
    await xmpp.stop();
    dan.close();
  });
});
