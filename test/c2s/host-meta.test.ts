// XEP-0156: /.well-known/host-meta and host-meta.json on the HTTP listeners list the connection
// methods that are on (WebSocket always, BOSH with "bosh" in modules_enabled), readable cross-origin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";

let withBosh: TestServer;
let withoutBosh: TestServer;
let proxied: TestServer;

beforeAll(async () => {
  [withBosh, withoutBosh, proxied] = await Promise.all([
    startTestServer({ config: `modules_enabled = { "bosh" }\nVirtualHost "localhost"\n` }),
    startTestServer({ config: `modules_enabled = { "ping" }\nVirtualHost "localhost"\n` }),
    startTestServer({ config: `modules_enabled = { "bosh" }\nhttp_external_url = "https://chat.example.com/xmpp/"\nVirtualHost "localhost"\n` }),
  ]);
});
afterAll(async () => {
  await Promise.all([withBosh?.stop(), withoutBosh?.stop(), proxied?.stop()]);
});

async function links(ts: TestServer): Promise<Record<string, string>> {
  const r = await fetch(`http://127.0.0.1:${ts.httpPort}/.well-known/host-meta.json`, { headers: { origin: "https://web.example" } });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("application/json");
  expect(r.headers.get("access-control-allow-origin")).toBe("*");
  const json = (await r.json()) as { links: Array<{ rel: string; href: string }> };
  return Object.fromEntries(json.links.map((l) => [l.rel, l.href]));
}

describe("XEP-0156 host-meta", () => {
  it("advertises BOSH and WebSocket in host-meta.json, at the address the client used", async () => {
    const base = `127.0.0.1:${withBosh.httpPort}`;
    expect(await links(withBosh)).toEqual({
      "urn:xmpp:alt-connections:xbosh": `http://${base}/http-bind`,
      "urn:xmpp:alt-connections:websocket": `ws://${base}/xmpp-websocket`,
    });
    // The advertised BOSH URL answers.
    const bosh = await fetch(`http://${base}/http-bind`);
    expect(bosh.status).toBe(200);
  });

  it("serves the XRD form at /.well-known/host-meta", async () => {
    const r = await fetch(`http://127.0.0.1:${withBosh.httpPort}/.well-known/host-meta`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/xrd+xml");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    const xml = await r.text();
    expect(xml).toContain("<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>");
    expect(xml).toContain(`<Link rel='urn:xmpp:alt-connections:xbosh' href='http://127.0.0.1:${withBosh.httpPort}/http-bind'/>`);
    expect(xml).toContain(`<Link rel='urn:xmpp:alt-connections:websocket' href='ws://127.0.0.1:${withBosh.httpPort}/xmpp-websocket'/>`);
  });

  it("advertises only WebSocket when BOSH is off", async () => {
    expect(Object.keys(await links(withoutBosh))).toEqual(["urn:xmpp:alt-connections:websocket"]);
  });

  it("uses http_external_url behind a proxy, and wss:// for https", async () => {
    expect(await links(proxied)).toEqual({
      "urn:xmpp:alt-connections:xbosh": "https://chat.example.com/xmpp/http-bind",
      "urn:xmpp:alt-connections:websocket": "wss://chat.example.com/xmpp/xmpp-websocket",
    });
  });

  it("uses https:// and wss:// on the HTTPS listener", async () => {
    // The HTTPS listener has a self-signed certificate; ask with node's https and no verification.
    const { request } = await import("node:https");
    const body = await new Promise<string>((ok, fail) => {
      const req = request({ host: "127.0.0.1", port: withBosh.httpsPort, path: "/.well-known/host-meta.json", rejectUnauthorized: false, headers: { host: "localhost:5281" } }, (res) => {
        let s = "";
        res.on("data", (d: Buffer) => (s += d.toString()));
        res.on("end", () => ok(s));
      });
      req.on("error", fail);
      req.end();
    });
    const json = JSON.parse(body) as { links: Array<{ rel: string; href: string }> };
    expect(json.links.map((l) => l.href)).toEqual(["https://localhost:5281/http-bind", "wss://localhost:5281/xmpp-websocket"]);
  });
});
