// mod_pubsub_http and mod_pubsub_post loaded together on one server: both serve /pubsub/, so CORS
// preflights of every path (the component's and the accounts' PEP services) are answered once,
// with the policy of the module that serves the requested method; reads and writes of one
// component both work; and HTTP Basic logins of both modules (and SASL) share one throttle per
// client address, so alternating endpoints gives a guesser no more attempts.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../harness/index.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { createNode, expectResult } from "../pubsub/helpers.js";
import { publish as pepPublish } from "../pep/helpers.js";

let ts: TestServer;
let admin: RawClient;
let juliet: RawClient;

const READER = "https://reader.example";
const WRITER = "https://writer.example";
const basic = (user: string, pw = "pw") => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const url = (path: string) => `http://127.0.0.1:${ts.httpPort}/pubsub/${path}`;
const preflight = (path: string, origin: string, method?: string) =>
  fetch(url(path), { method: "OPTIONS", headers: method ? { origin, "access-control-request-method": method } : { origin } });

beforeAll(async () => {
  ts = await startTestServer({
    transport: "sockets",
    users: ["admin", "juliet"],
    config: `
admins = { "admin@localhost" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
limit_auth_max = 4
limit_auth_period = 3600
http_cors_override = { pubsub_http = { origins = { "${READER}" } }; pubsub_post = { origins = { "${WRITER}" } } }
modules_enabled = { "roster"; "presence"; "disco"; "pep"; "pubsub_http" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
modules_enabled = { "pubsub_http"; "pubsub_post" }
pubsub_http_rate_limit = 0
Component "drop.localhost" "pubsub"
modules_enabled = { "pubsub_post" }
`,
  });
  admin = await ts.login("admin", "pw");
  juliet = await ts.login("juliet", "pw");
  await createNode(admin, "news");
  expectResult(await pepPublish(juliet, "blog", "p1", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Hi</title></entry>", { "pubsub#access_model": "open" }));
});

afterAll(async () => {
  admin?.close();
  juliet?.close();
  await ts?.stop();
});

describe("pubsub_http and pubsub_post together", () => {
  it("reads and writes one component's nodes", async () => {
    const posted = await fetch(url("pubsub.localhost/news"), {
      method: "POST",
      headers: { authorization: basic("admin@localhost"), "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    expect(posted.status).toBe(201);
    const id = (await posted.text()).trim();
    const feed = await fetch(url("pubsub.localhost/news?format=json"));
    expect(feed.status).toBe(200);
    expect(((await feed.json()) as { items: Array<{ id: string }> }).items.map((i) => i.id)).toEqual([id]);
    // A method neither serves: 405 with what the path allows.
    const patch = await fetch(url("pubsub.localhost/news"), { method: "PATCH" });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
  });

  it("answers each preflight with the policy of the module serving the requested method", async () => {
    // The component: GET is pubsub_http's (reader origin), POST is pubsub_post's (writer origin).
    const get = await preflight("pubsub.localhost/news", READER, "GET");
    expect(get.status).toBe(204);
    expect(get.headers.get("access-control-allow-origin")).toBe(READER);
    expect(get.headers.get("access-control-allow-methods")).toContain("GET");
    expect(get.headers.get("access-control-allow-headers")).toContain("Last-Event-ID");
    const getOther = await preflight("pubsub.localhost/news", WRITER, "GET");
    expect(getOther.headers.get("access-control-allow-origin")).toBeNull();
    const post = await preflight("pubsub.localhost/news", WRITER, "POST");
    expect(post.status).toBe(204);
    expect(post.headers.get("access-control-allow-origin")).toBe(WRITER);
    expect(post.headers.get("access-control-allow-methods")).toContain("POST");
    expect(post.headers.get("access-control-allow-headers")).toContain("X-Hub-Signature-256");
    const postOther = await preflight("pubsub.localhost/news", READER, "POST");
    expect(postOther.headers.get("access-control-allow-origin")).toBeNull();
    const del = await preflight("pubsub.localhost/news/item", WRITER, "DELETE");
    expect(del.headers.get("access-control-allow-origin")).toBe(WRITER);
    // A plain OPTIONS lists every method of the path.
    const plain = await preflight("pubsub.localhost/news", READER);
    expect(plain.status).toBe(204);
    expect(plain.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

    // An account's PEP service: pubsub_http of the VirtualHost answers, though pubsub_post (loaded
    // later, on the component) serves /pubsub/ too.
    const pep = await preflight("juliet@localhost/blog", READER, "GET");
    expect(pep.status).toBe(204);
    expect(pep.headers.get("access-control-allow-origin")).toBe(READER);
    expect(pep.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    // Nobody writes there: no CORS for POST, and POST itself is 405.
    const pepPost = await preflight("juliet@localhost/blog", WRITER, "POST");
    expect(pepPost.headers.get("access-control-allow-origin")).toBeNull();
    expect((await fetch(url("juliet@localhost/blog"), { method: "POST", body: "{}" })).status).toBe(405);
    const feed = await fetch(url("juliet@localhost/blog?format=json"), { headers: { origin: READER } });
    expect(feed.status).toBe(200);
    expect(feed.headers.get("access-control-allow-origin")).toBe(READER);
    // Unknown services are 404, preflight or not.
    expect((await preflight("nowhere.localhost/x", READER, "GET")).status).toBe(404);
  });

  it("counts failed Basic logins of both modules against one budget per address (limit_auth_max)", async () => {
    // Four attempts at once are allowed (limit_auth_max = 4), then one per hour / 4: alternating the
    // feeds of one component (pubsub_http) and publishing to another (pubsub_post) gains nothing.
    const read = () => fetch(url("pubsub.localhost/news"), { headers: { authorization: basic("admin@localhost", "guess") } });
    const write = () =>
      fetch(url("drop.localhost/news"), { method: "POST", headers: { authorization: basic("admin@localhost", "guess"), "content-type": "application/json" }, body: "{}" });
    const statuses: number[] = [];
    for (const attempt of [read, write, read, write]) statuses.push((await attempt()).status);
    expect(statuses).toEqual([401, 401, 401, 401]);
    // The fifth waits for its turn (15 minutes away); while it waits, neither endpoint takes another
    // attempt, not even with the right password.
    const waiting = new AbortController();
    const fifth = fetch(url("pubsub.localhost/news"), { headers: { authorization: basic("admin@localhost", "guess") }, signal: waiting.signal }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 300));
    expect((await fetch(url("pubsub.localhost/news"), { headers: { authorization: basic("admin@localhost") } })).status).toBe(429);
    expect(
      (await fetch(url("drop.localhost/news"), { method: "POST", headers: { authorization: basic("admin@localhost"), "content-type": "application/json" }, body: "{}" })).status,
    ).toBe(429);
    // The budget is the one SASL uses: a password login from this address is refused too.
    await expect(ts.login("juliet", "pw")).rejects.toThrow();
    waiting.abort();
    expect(await fifth).toBe("aborted");
  });
});
