// mod_pubsub_http feeds on a real server, read with Node's fetch: Atom 1.0, RSS 2.0 (both checked by
// @rowanmanning/feed-parser), JSON Feed 1.1, newest first, paging, ETag / Last-Modified, the node
// list; access for every access model exactly as XMPP retrieval decides it (HTTP Basic
// authentication against the accounts); the per-address limit on unauthenticated requests and CORS.

import { parseFeed } from "@rowanmanning/feed-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { ATOM, createNode, drain, expectResult, login, owner, publish, pubsub, startPubsubServer } from "../pubsub/helpers.js";

let ts: TestServer;
let juliet: RawClient;
let romeo: RawClient;
let nurse: RawClient;

const GEO = "<geoloc xmlns='http://jabber.org/protocol/geoloc'><lat>45.44</lat><locality>Verona &amp; around</locality></geoloc>";
const basic = (user: string, pw = "pw") => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const url = (path: string, service = "pubsub.localhost") => `http://127.0.0.1:${ts.httpPort}/pubsub/${service}${path}`;
const get = (path: string, headers: Record<string, string> = {}, service?: string) => fetch(url(path, service), { headers });

beforeAll(async () => {
  ts = await startPubsubServer(
    {
      transport: "sockets",
      component: `pubsub_create_node = "local"
modules_enabled = { "pubsub_http" }
pubsub_http_rate_limit = 100000
Component "limited.localhost" "pubsub"
pubsub_create_node = "local"
modules_enabled = { "pubsub_http" }
pubsub_http_rate_limit = 3`,
      global: `http_cors_override = { pubsub_http = { origins = { "https://app.example" } } }`,
    },
    ["romeo", "juliet", "nurse"],
  );
  juliet = await login(ts, "juliet", "balcony");
  romeo = await login(ts, "romeo", "orchard");
  nurse = await login(ts, "nurse", "chamber");
  for (const [jid, group] of [["romeo@localhost", "friends"], ["nurse@localhost", "family"]]) {
    expectResult(await juliet.iq(`<iq type='set' id='rs-${jid}'><query xmlns='jabber:iq:roster'><item jid='${jid}'><group>${group}</group></item></query></iq>`));
  }
  romeo.send("<presence type='subscribe' to='juliet@localhost'/>");
  await drain(juliet, 200);
  juliet.send("<presence type='subscribed' to='romeo@localhost'/>");
  await Promise.all([drain(juliet, 200), drain(romeo, 200), drain(nurse, 100)]);

  await createNode(juliet, "news", { "pubsub#access_model": "open", "pubsub#title": "Verona News", "pubsub#itemreply": "publisher" });
  expectResult(await publish(juliet, "news", "first", ATOM));
  expectResult(await publish(juliet, "news", "second", GEO));
  expectResult(await publish(juliet, "news", "third", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Third</title><content>Wherefore art thou</content></entry>"));
});
afterAll(async () => {
  for (const c of [juliet, romeo, nurse]) c?.close();
  await ts?.stop();
});

describe("feeds", () => {
  it("Atom 1.0: newest first, Atom payloads as entries, other payloads as escaped text with id, publisher and time", async () => {
    const res = await get("/news");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/atom\+xml/);
    const text = await res.text();
    const feed = parseFeed(text);
    expect(feed.meta.type).toBe("atom");
    expect(feed.title).toBe("Verona News");
    expect(feed.items.map((i) => i.title)).toEqual(["Third", "second", "Soliloquy"]);
    expect(feed.items[0].content).toBe("Wherefore art thou");
    expect(feed.items[1].id).toBe("xmpp:pubsub.localhost?;node=news;item=second");
    expect(feed.items[1].content).toContain("<geoloc xmlns='http://jabber.org/protocol/geoloc'>");
    // Escaped once as the payload's XML, once more as the entry's text.
    expect(text).toContain("&lt;locality&gt;Verona &amp;amp; around&lt;/locality&gt;");
    expect(feed.items[1].authors.map((a) => a.name)).toEqual(["juliet@localhost"]);
    expect(feed.items[1].published?.getTime()).toBeGreaterThan(Date.now() - 600_000);
  });

  it("RSS 2.0 with ?format=rss, JSON Feed 1.1 with ?format=json or by Accept", async () => {
    const rss = await get("/news?format=rss");
    expect(rss.headers.get("content-type")).toMatch(/^application\/rss\+xml/);
    const feed = parseFeed(await rss.text());
    expect(feed.meta.type).toBe("rss");
    expect(feed.items.map((i) => i.id)).toEqual(["third", "second", "first"].map((id) => `xmpp:pubsub.localhost?;node=news;item=${id}`));
    expect(feed.items[2].title).toBe("Soliloquy");
    expect(feed.items[2].description).toBe("To be, or not to be");

    for (const res of [await get("/news?format=json"), await get("/news", { accept: "application/feed+json" })]) {
      expect(res.headers.get("content-type")).toMatch(/^application\/feed\+json/);
      const json = (await res.json()) as { version: string; title: string; items: Array<{ id: string; content_text: string; date_published: string }> };
      expect(json.version).toBe("https://jsonfeed.org/version/1.1");
      expect(json.title).toBe("Verona News");
      expect(json.items.map((i) => i.id)).toEqual(["third", "second", "first"]);
      expect(Number.isNaN(Date.parse(json.items[0].date_published))).toBe(false);
    }
    expect((await get("/news", { accept: "application/rss+xml" })).headers.get("content-type")).toMatch(/^application\/rss\+xml/);
    expect((await get("/news?format=html")).status).toBe(400);
  });

  it("?max=N and paging by item id (the next link)", async () => {
    const first = (await (await get("/news?format=json&max=2")).json()) as { next_url?: string; items: Array<{ id: string }> };
    expect(first.items.map((i) => i.id)).toEqual(["third", "second"]);
    expect(first.next_url).toBeDefined();
    expect(new URL(first.next_url!).searchParams.get("before")).toBe("second");
    const second = (await (await fetch(first.next_url!.replace(/^http:\/\/[^/]+/, `http://127.0.0.1:${ts.httpPort}`))).json()) as {
      next_url?: string;
      items: Array<{ id: string }>;
    };
    expect(second.items.map((i) => i.id)).toEqual(["first"]);
    expect(second.next_url).toBeUndefined();
    expect((await get("/news?max=0")).status).toBe(400);
  });

  it("ETag and If-None-Match give 304 until the node changes; Last-Modified and If-Modified-Since", async () => {
    await createNode(juliet, "etag", {});
    expectResult(await publish(juliet, "etag", "a", ATOM));
    const res = await get("/etag");
    const etag = res.headers.get("etag")!;
    const lastModified = res.headers.get("last-modified")!;
    expect(etag).toMatch(/^".+"$/);
    expect(Number.isNaN(Date.parse(lastModified))).toBe(false);
    const same = await get("/etag", { "if-none-match": etag });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe("");
    expect((await get("/etag", { "if-modified-since": lastModified })).status).toBe(304);
    // Another format is another representation.
    expect((await get("/etag?format=rss", { "if-none-match": etag })).status).toBe(200);
    expectResult(await publish(juliet, "etag", "b", ATOM));
    const changed = await get("/etag", { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    // Retracting changes the count.
    const before = changed.headers.get("etag")!;
    expectResult(await pubsub(juliet, "set", "<retract node='etag'><item id='a'/></retract>"));
    expect((await get("/etag", { "if-none-match": before })).status).toBe(200);
  });

  it("GET /pubsub/<service> lists the open nodes (and, authenticated, those the account may read)", async () => {
    await createNode(juliet, "secret", { "pubsub#access_model": "whitelist" });
    const anon = (await (await get("")).json()) as { nodes: Array<{ node: string; title?: string }> };
    expect(anon.nodes.map((n) => n.node)).toContain("news");
    expect(anon.nodes.find((n) => n.node === "news")?.title).toBe("Verona News");
    expect(anon.nodes.map((n) => n.node)).not.toContain("secret");
    const owned = (await (await get("", { authorization: basic("juliet") })).json()) as { nodes: Array<{ node: string }> };
    expect(owned.nodes.map((n) => n.node)).toContain("secret");
    expect((await get("/nope")).status).toBe(404);
  });
});

/** The feed of `node` as `user` (anonymous when undefined): status, and the body text. */
async function read(node: string, user?: string, pw?: string): Promise<{ status: number; body: string; auth: string | null }> {
  const res = await get(`/${node}?format=json`, user === undefined ? {} : { authorization: basic(user, pw) });
  return { status: res.status, body: await res.text(), auth: res.headers.get("www-authenticate") };
}

describe("access: the node's access model, as for XMPP retrieval", () => {
  const SECRET = "<entry xmlns='http://www.w3.org/2005/Atom'><title>The potion</title></entry>";

  async function node(name: string, config: Record<string, string | string[]>) {
    await createNode(juliet, name, config);
    expectResult(await publish(juliet, name, "p1", SECRET));
  }
  function refused(r: { status: number; body: string }, status: number) {
    expect(r.status).toBe(status);
    expect(r.body).not.toContain("potion");
    expect(r.body).not.toContain("p1");
  }
  function allowed(r: { status: number; body: string }) {
    expect(r.status).toBe(200);
    expect(r.body).toContain("The potion");
  }

  it("open: public", async () => {
    await node("m-open", { "pubsub#access_model": "open" });
    allowed(await read("m-open"));
    allowed(await read("m-open", "nurse"));
  });

  it("whitelist: members and owners; anonymous 401 with a Basic challenge, others 403, bad passwords 401", async () => {
    await node("m-wl", { "pubsub#access_model": "whitelist" });
    const anon = await read("m-wl");
    refused(anon, 401);
    expect(anon.auth).toMatch(/^Basic realm=/);
    refused(await read("m-wl", "romeo"), 403);
    allowed(await read("m-wl", "juliet"));
    allowed(await read("m-wl", "juliet@localhost"));
    refused(await read("m-wl", "juliet", "wrong"), 401);
    refused(await read("m-wl", "nobody", "pw"), 401);
    expectResult(await owner(juliet, "set", "<affiliations node='m-wl'><affiliation jid='romeo@localhost' affiliation='member'/></affiliations>"));
    await drain(romeo, 100);
    allowed(await read("m-wl", "romeo"));
  });

  it("presence: accounts with a presence subscription to the owner", async () => {
    await node("m-pr", { "pubsub#access_model": "presence" });
    refused(await read("m-pr"), 401);
    allowed(await read("m-pr", "romeo"));
    refused(await read("m-pr", "nurse"), 403);
    allowed(await read("m-pr", "juliet"));
  });

  it("roster: accounts in the allowed roster groups", async () => {
    await node("m-ro", { "pubsub#access_model": "roster", "pubsub#roster_groups_allowed": ["family"] });
    refused(await read("m-ro"), 401);
    allowed(await read("m-ro", "nurse"));
    refused(await read("m-ro", "romeo"), 403);
  });

  it("authorize: approved subscribers only", async () => {
    await node("m-au", { "pubsub#access_model": "authorize" });
    refused(await read("m-au"), 401);
    refused(await read("m-au", "romeo"), 403);
    allowed(await read("m-au", "juliet"));
    expectResult(await owner(juliet, "set", "<subscriptions node='m-au'><subscription jid='romeo@localhost' subscription='subscribed'/></subscriptions>"));
    await drain(romeo, 100);
    allowed(await read("m-au", "romeo"));
  });
});

describe("limits and CORS", () => {
  it("unauthenticated requests are limited per address (pubsub_http_rate_limit); authenticated ones are not", async () => {
    expectResult(await pubsub(juliet, "set", "<create node='l1'/>", undefined, "limited.localhost"));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get("/l1", {}, "limited.localhost")).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const limited = await get("/l1", {}, "limited.localhost");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await get("/l1", { authorization: basic("juliet") }, "limited.localhost")).status).toBe(200);
  });

  it("CORS follows http_cors_override.pubsub_http", async () => {
    const ok = await get("/news", { origin: "https://app.example" });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    const other = await get("/news", { origin: "https://evil.example" });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await fetch(url("/news"), { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "GET" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toContain("Authorization");
  });
});
