// mod_pubsub_http live streams on a real server, read with the `eventsource` package (the WhatWG
// EventSource) and raw sockets: publish / retract / purge / delete events, Last-Event-ID resuming from
// the node's items, access as for retrieval, and slow readers dropped while others keep receiving.

import { connect, type Socket } from "node:net";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { ATOM, createNode, expectResult, login, owner, publish, pubsub, startPubsubServer } from "../pubsub/helpers.js";
import { eventStreamsOf } from "../../modules/mod_pubsub_http/sse.js";

let ts: TestServer;
let juliet: RawClient;

const url = (path: string) => `http://127.0.0.1:${ts.httpPort}/pubsub/pubsub.localhost${path}`;
const basic = (user: string) => `Basic ${Buffer.from(`${user}:pw`).toString("base64")}`;

beforeAll(async () => {
  ts = await startPubsubServer(
    { transport: "sockets", component: `pubsub_create_node = "local"\nmodules_enabled = { "pubsub_http" }\npubsub_http_sse_buffer = 4096\npubsub_http_rate_limit = 0` },
    ["juliet", "romeo"],
  );
  juliet = await login(ts, "juliet", "balcony");
});
afterAll(async () => {
  juliet?.close();
  await ts?.stop();
});

interface Seen {
  type: string;
  id: string;
  data: string;
}

/** An EventSource on `path` that records publish / retract / purge / delete events. */
function listen(path: string, headers: Record<string, string> = {}): { es: EventSource; seen: Seen[]; opened: Promise<void>; next: (n: number) => Promise<Seen[]> } {
  const es = new EventSource(url(path), {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
  });
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  for (const type of ["publish", "retract", "purge", "delete"]) {
    es.addEventListener(type, (e) => {
      seen.push({ type, id: e.lastEventId, data: e.data });
      for (const w of waiters.splice(0)) w();
    });
  }
  const opened = new Promise<void>((resolve, reject) => {
    es.onopen = () => resolve();
    es.onerror = (e) => reject(new Error(`EventSource error ${e.code ?? ""} ${e.message ?? ""}`));
  });
  const next = async (n: number) => {
    const deadline = Date.now() + 15_000;
    while (seen.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${seen.length} of ${n} events: ${JSON.stringify(seen)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return seen.slice(0, n);
  };
  return { es, seen, opened, next };
}

describe("Server-Sent Events", () => {
  it("publish (id = item id, data = the JSON Feed item), retract, purge and delete as named events", async () => {
    await createNode(juliet, "live", { "pubsub#itemreply": "publisher" });
    const l = listen("/live/events");
    await l.opened;
    expectResult(await publish(juliet, "live", "i1", ATOM));
    expectResult(await publish(juliet, "live", "i2", "<geoloc xmlns='http://jabber.org/protocol/geoloc'><lat>1</lat></geoloc>"));
    expectResult(await pubsub(juliet, "set", "<retract node='live'><item id='i1'/></retract>"));
    expectResult(await owner(juliet, "set", "<purge node='live'/>"));
    expectResult(await owner(juliet, "set", "<delete node='live'/>"));
    const events = await l.next(5);
    expect(events.map((e) => e.type)).toEqual(["publish", "publish", "retract", "purge", "delete"]);
    expect(events[0].id).toBe("i1");
    const first = JSON.parse(events[0].data) as { id: string; title: string; content_text: string; authors: Array<{ name: string }> };
    expect(first).toMatchObject({ id: "i1", title: "Soliloquy", content_text: "To be, or not to be", authors: [{ name: "juliet@localhost" }] });
    expect(JSON.parse(events[1].data)).toMatchObject({ id: "i2", title: "i2" });
    expect(JSON.parse(events[1].data).content_text).toContain("<lat>1</lat>");
    expect(JSON.parse(events[2].data)).toEqual({ id: "i1" });
    l.es.close();
  });

  it("Last-Event-ID resumes with the items published after it", async () => {
    await createNode(juliet, "resume", {});
    for (const id of ["r1", "r2", "r3"]) expectResult(await publish(juliet, "resume", id, ATOM));
    const l = listen("/resume/events", { "last-event-id": "r1" });
    const events = await l.next(2);
    expect(events.map((e) => [e.type, e.id])).toEqual([["publish", "r2"], ["publish", "r3"]]);
    expectResult(await publish(juliet, "resume", "r4", ATOM));
    expect((await l.next(3))[2].id).toBe("r4");
    l.es.close();
  });

  it("access as for retrieval: 401 anonymous, 403 outsiders, the owner streams", async () => {
    await createNode(juliet, "closed", { "pubsub#access_model": "whitelist" });
    const anon = await fetch(url("/closed/events"));
    expect(anon.status).toBe(401);
    const romeo = await fetch(url("/closed/events"), { headers: { authorization: basic("romeo") } });
    expect(romeo.status).toBe(403);
    const l = listen("/closed/events", { authorization: basic("juliet") });
    await l.opened;
    expectResult(await publish(juliet, "closed", "c1", ATOM));
    expect((await l.next(1))[0].id).toBe("c1");
    l.es.close();
  });

  it("an affiliation change ends the node's streams; a reader no longer allowed is refused on reconnecting", async () => {
    await createNode(juliet, "members", { "pubsub#access_model": "whitelist" });
    expectResult(await owner(juliet, "set", "<affiliations node='members'><affiliation jid='romeo@localhost' affiliation='member'/></affiliations>"));
    const res = await fetch(url("/members/events"), { headers: { authorization: basic("romeo") } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the opening comment
    expectResult(await owner(juliet, "set", "<affiliations node='members'><affiliation jid='romeo@localhost' affiliation='none'/></affiliations>"));
    let text = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    expect(text).not.toContain("event: publish");
    expect((await fetch(url("/members/events"), { headers: { authorization: basic("romeo") } })).status).toBe(403);
  });

  it("a reader that does not read is dropped; the others get every event", async () => {
    await createNode(juliet, "flood", { "pubsub#max_items": "5" });
    const streams = eventStreamsOf("pubsub.localhost")!;
    const droppedBefore = streams.stats.dropped;
    const good = listen("/flood/events");
    await good.opened;
    // A client that sends its request and never reads the answer.
    const stalled: Socket = connect(ts.httpPort, "127.0.0.1");
    await new Promise<void>((r) => stalled.once("connect", () => r()));
    stalled.pause();
    stalled.write("GET /pubsub/pubsub.localhost/flood/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    const big = `<entry xmlns='http://www.w3.org/2005/Atom'><title>big</title><content>${"x".repeat(60_000)}</content></entry>`;
    let n = 0;
    while (streams.stats.dropped === droppedBefore && n < 600) {
      expectResult(await publish(juliet, "flood", `f${++n}`, big));
    }
    expect(streams.stats.dropped).toBeGreaterThan(droppedBefore);
    const events = await good.next(n);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: n }, (_, i) => `f${i + 1}`));
    stalled.destroy();
    good.es.close();
  });
});
