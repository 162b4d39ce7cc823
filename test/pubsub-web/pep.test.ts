// mod_pubsub_http on a VirtualHost: an account's PEP nodes as feeds and event streams at
// /pubsub/<user@host>/<node>, over real HTTP, where the node's access model allows (as XMPP items
// retrieval does): open nodes public, presence nodes only for contacts with a presence subscription.

import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { login, publish, startPepServer, subscribe } from "../pep/helpers.js";

let ts: TestServer;
let juliet: RawClient;

const url = (path: string) => `http://127.0.0.1:${ts.httpPort}/pubsub/juliet@localhost${path}`;
const basic = (user: string, pw = "pw") => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const GEO = "http://jabber.org/protocol/geoloc";
const geo = (lat: number) => `<geoloc xmlns='${GEO}'><lat>${lat}</lat></geoloc>`;

beforeAll(async () => {
  ts = await startPepServer(["juliet", "romeo", "tybalt"], {
    modules: ["roster", "presence", "message", "disco", "pep", "pubsub_http"],
    extra: "pubsub_http_rate_limit = 0",
    transport: "sockets",
  });
  await subscribe(ts, "romeo", "juliet"); // romeo and juliet: presence subscriptions both ways
  juliet = await login(ts, "juliet", "balcony");
  const ok = (r: { attrs: Record<string, string | undefined> }) => expect(r.attrs.type).toBe("result");
  ok(await publish(juliet, "blog", "post1", "<entry xmlns='http://www.w3.org/2005/Atom'><title>Hello</title></entry>", { "pubsub#access_model": "open" }));
  ok(await publish(juliet, GEO, "here", geo(45))); // presence: the PEP default
});
afterAll(async () => {
  juliet?.close();
  await ts?.stop();
});

describe("PEP nodes on the web", () => {
  it("an open PEP node is public", async () => {
    const r = await fetch(url("/blog?format=json"));
    expect(r.status).toBe(200);
    const feed = (await r.json()) as { items: Array<{ id: string; title?: string }> };
    expect(feed.items.map((i) => i.id)).toEqual(["post1"]);
    expect(feed.items[0].title).toBe("Hello");
  });

  it("a presence node: 401 without credentials, 403 for a stranger, 200 for a subscribed contact", async () => {
    const node = `/${encodeURIComponent(GEO)}?format=json`;
    const anon = await fetch(url(node));
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toMatch(/^Basic /);
    expect(await anon.text()).not.toContain("45");
    const stranger = await fetch(url(node), { headers: { authorization: basic("tybalt@localhost") } });
    expect(stranger.status).toBe(403);
    expect(await stranger.text()).not.toContain("45");
    const wrongPassword = await fetch(url(node), { headers: { authorization: basic("romeo@localhost", "nope") } });
    expect(wrongPassword.status).toBe(401);
    const contact = await fetch(url(node), { headers: { authorization: basic("romeo") } });
    expect(contact.status).toBe(200);
    const feed = (await contact.json()) as { items: Array<{ id: string; content_html?: string; content_text?: string }> };
    expect(feed.items.map((i) => i.id)).toEqual(["here"]);
    expect(JSON.stringify(feed.items[0])).toContain("45");
  });

  it("the account's node list shows what the requester may read", async () => {
    const anon = (await (await fetch(url(""))).json()) as { service: string; nodes: Array<{ node: string }> };
    expect(anon.service).toBe("juliet@localhost");
    expect(anon.nodes.map((n) => n.node)).toEqual(["blog"]);
    const contact = (await (await fetch(url(""), { headers: { authorization: basic("romeo@localhost") } })).json()) as { nodes: Array<{ node: string }> };
    expect(contact.nodes.map((n) => n.node).sort()).toEqual(["blog", GEO].sort());
  });

  it("no such account, or another host's address: 404", async () => {
    expect((await fetch(`http://127.0.0.1:${ts.httpPort}/pubsub/nobody@localhost/blog`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${ts.httpPort}/pubsub/juliet@elsewhere.example/blog`)).status).toBe(404);
  });

  it("an event stream of a PEP node receives a publish; a stranger's is refused", async () => {
    const events = url(`/${encodeURIComponent(GEO)}/events`);
    const refused = await fetch(events, { headers: { authorization: basic("tybalt@localhost") } });
    expect(refused.status).toBe(403);
    await refused.body?.cancel();
    const es = new EventSource(events, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: basic("romeo@localhost") } }),
    });
    try {
      const got = new Promise<{ id: string; data: string }>((resolve) => es.addEventListener("publish", (e) => resolve({ id: e.lastEventId, data: e.data })));
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = (e) => reject(new Error(`EventSource error ${e.code ?? ""}`));
      });
      expect((await publish(juliet, GEO, "moved", geo(46))).attrs.type).toBe("result");
      const e = await got;
      expect(e.id).toBe("moved");
      expect(JSON.parse(e.data).id).toBe("moved");
      expect(e.data).toContain("46");
    } finally {
      es.close();
    }
  });
});
