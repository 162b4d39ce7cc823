// mod_pubsub_post: publishing over HTTP with Node's fetch, and the XMPP notifications it causes.

import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { createNode, expectResult, login, pubsub, startPubsubServer, NS_EVENT } from "../pubsub/helpers.js";

const SECRET = "hook-secret";
let ts: TestServer;
let admin: RawClient;
let juliet: RawClient;
let base: string;

const basic = (user: string, pw = "pw") => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;

beforeAll(async () => {
  ts = await startPubsubServer(
    {
      transport: "sockets",
      component: `modules_enabled = { "pubsub_post" }\npubsub_post_secrets = { hooked = "${SECRET}" }`,
      global: `c2s_stanza_size_limit = 10240\nhttp_cors_override = { pubsub_post = { origins = { "https://app.example" } } }`,
    },
    ["juliet", "romeo"],
  );
  base = `http://127.0.0.1:${ts.httpPort}/pubsub/pubsub.localhost`;
  admin = await login(ts, "admin");
  juliet = await login(ts, "juliet");
  for (const node of ["news", "hooked"]) {
    await createNode(admin, node);
    expectResult(await pubsub(juliet, "set", `<subscribe node='${node}' jid='${juliet.jid}'/>`));
  }
});

afterAll(async () => {
  admin?.close();
  juliet?.close();
  await ts?.stop();
});

describe("publishing over HTTP", () => {
  it("JSON with Basic auth: 201 with Location, and subscribers get the item wrapped as XEP-0335", async () => {
    const r = await fetch(`${base}/news`, {
      method: "POST",
      headers: { authorization: basic("admin@localhost"), "content-type": "application/json" },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(r.status).toBe(201);
    const id = (await r.text()).trim();
    expect(id).not.toBe("");
    expect(r.headers.get("location")).toBe(`https://pubsub.localhost:${ts.httpsPort}/pubsub/pubsub.localhost/news/${id}`);
    const msg = await juliet.next();
    const item = msg.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!;
    expect(item.attrs.id).toBe(id);
    const json = item.getChild("json", "urn:xmpp:json:0")!;
    expect(JSON.parse(json.getText())).toEqual({ hello: "world" });
  });

  it("PUT of an Atom entry uses the item id; DELETE retracts it", async () => {
    const atom = `<?xml version="1.0"?>\n<entry xmlns="http://www.w3.org/2005/Atom"><title>Hi</title></entry>`;
    const r = await fetch(`${base}/news/first-post`, {
      method: "PUT",
      headers: { authorization: basic("admin@localhost"), "content-type": "application/atom+xml" },
      body: atom,
    });
    expect(r.status).toBe(201);
    const msg = await juliet.next();
    const item = msg.getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!;
    expect(item.attrs.id).toBe("first-post");
    expect(item.getChild("entry", "http://www.w3.org/2005/Atom")!.getChild("title")!.getText()).toBe("Hi");

    const d = await fetch(`${base}/news/first-post`, { method: "DELETE", headers: { authorization: basic("admin") } });
    expect(d.status).toBe(204);
    const retract = (await juliet.next()).getChild("event", NS_EVENT)!.getChild("items")!.getChild("retract")!;
    expect(retract.attrs.id).toBe("first-post");
    const again = await fetch(`${base}/news/first-post`, { method: "DELETE", headers: { authorization: basic("admin") } });
    expect(again.status).toBe(404);
  });

  it("refuses bad credentials, missing ones, and accounts without publish rights", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/news`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect((await post({ authorization: basic("admin@localhost", "wrong") })).status).toBe(401);
    expect((await post({ authorization: basic("nobody@localhost") })).status).toBe(401);
    // romeo is no publisher of the node (publish_model = publishers).
    expect((await post({ authorization: basic("romeo@localhost") })).status).toBe(403);
    await juliet.nothing(200);
  });

  it("publishes with a valid X-Hub-Signature-256 for the node's secret, as the service", async () => {
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const sig = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const r = await fetch(`${base}/hooked`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sig }, body });
    expect(r.status).toBe(201);
    const item = (await juliet.next()).getChild("event", NS_EVENT)!.getChild("items")!.getChild("item")!;
    expect(JSON.parse(item.getChild("json", "urn:xmpp:json:0")!.getText())).toEqual({ ref: "refs/heads/main" });

    const forged = await fetch(`${base}/hooked`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body,
    });
    expect(forged.status).toBe(403);
    // The secret is that node's only.
    const other = await fetch(`${base}/news`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sig }, body });
    expect(other.status).toBe(403);
    await juliet.nothing(200);
  });

  it("limits the body to c2s_stanza_size_limit and refuses unknown content types and bad payloads", async () => {
    const auth = { authorization: basic("admin@localhost") };
    const big = await fetch(`${base}/news`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(20000) }),
    });
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/news`, { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "hi" })).status).toBe(415);
    expect((await fetch(`${base}/news`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{nope" })).status).toBe(400);
    expect((await fetch(`${base}/news`, { method: "POST", headers: { ...auth, "content-type": "application/xml" }, body: "<a/><b/>" })).status).toBe(400);
    expect((await fetch(`${base}/nosuchnode`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}" })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${ts.httpPort}/pubsub/elsewhere/news`, { method: "POST", headers: { ...auth }, body: "{}" })).status).toBe(404);
    await juliet.nothing(200);
  });

  it("throttles failed Basic logins per address (limit_auth_max, limit_auth_period)", async () => {
    const t = await startPubsubServer({ transport: "sockets", component: `modules_enabled = { "pubsub_post" }`, global: "limit_auth_max = 2\nlimit_auth_period = 600" });
    try {
      const url = `http://127.0.0.1:${t.httpPort}/pubsub/pubsub.localhost/news`;
      const post = (pw: string, signal?: AbortSignal) =>
        fetch(url, { method: "POST", headers: { authorization: basic("admin@localhost", pw), "content-type": "application/json" }, body: "{}", signal });
      expect((await post("wrong1")).status).toBe(401);
      expect((await post("wrong2")).status).toBe(401);
      // The third waits for its turn (minutes away); while it waits, a fourth is refused outright,
      // even with the right password.
      const waiting = new AbortController();
      const third = post("wrong3", waiting.signal).catch(() => "aborted");
      await new Promise((r) => setTimeout(r, 300));
      const fourth = await post("pw");
      expect(fourth.status).toBe(429);
      waiting.abort();
      expect(await third).toBe("aborted");
    } finally {
      await t.stop();
    }
  });

  it("answers CORS for the origins of http_cors_override.pubsub_post only", async () => {
    const pre = await fetch(`${base}/news`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    const other = await fetch(`${base}/news`, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
