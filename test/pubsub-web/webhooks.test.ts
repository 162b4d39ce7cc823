// mod_pubsub_post webhooks: a receiver on loopback checks the signatures, refuses some deliveries
// and sees them retried; deliveries queued before a restart (LevelDB) arrive after it. The receivers
// are on loopback, so these servers allow private webhook addresses (pubsub_webhook_allow_private).

import { createHmac } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { createNode, expectResult, login, nextId, publish, startPubsubServer, submitForm, PUBSUB } from "../pubsub/helpers.js";

const NODE = "urn:herald:pubsub:webhooks";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

interface Received {
  body: string;
  json: Record<string, unknown>;
  delivery: string;
  signatureOk: boolean;
  status: number;
}

/** An HTTP receiver on 127.0.0.1 that answers `statuses` in turn (then 204) and checks signatures. */
async function receiver(secret: () => string, statuses: number[] = []): Promise<{ server: Server; url: string; got: Received[]; next: () => Promise<Received> }> {
  const got: Received[] = [];
  let waiter: (() => void) | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const expected = `sha256=${createHmac("sha256", secret()).update(body).digest("hex")}`;
      const status = statuses.shift() ?? 204;
      got.push({
        body,
        json: JSON.parse(body) as Record<string, unknown>,
        delivery: String(req.headers["x-herald-delivery"]),
        signatureOk: req.headers["x-herald-signature-256"] === expected,
        status,
      });
      res.writeHead(status).end();
      waiter?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  let seen = 0;
  const next = async () => {
    const deadline = Date.now() + 20_000;
    while (got.length <= seen) {
      if (Date.now() > deadline) throw new Error("no delivery arrived");
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 200);
      });
    }
    return got[seen++];
  };
  return { server, url, got, next };
}

function configure(c: RawClient, fields: Record<string, string | string[]>): Promise<Element> {
  return c.iq(`<iq type='set' to='${PUBSUB}' id='${nextId()}'><command xmlns='http://jabber.org/protocol/commands' node='${NODE}' action='execute'>${submitForm(undefined, fields)}</command></iq>`);
}

function fieldValues(iq: Element, name: string): string[] {
  const x = iq.getChild("command", "http://jabber.org/protocol/commands")!.getChild("x", "jabber:x:data")!;
  const f = x.childElements("field").find((e) => e.attrs.var === name);
  return f ? f.childElements("value").map((v) => v.getText()) : [];
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("webhooks", () => {
  it("POSTs each event as signed JSON and retries refused deliveries", async () => {
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_private = true\npubsub_webhook_retry_delay = 0.1` }, ["juliet"]);
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    const juliet = await login(ts, "juliet");
    cleanups.push(() => (admin.close(), juliet.close()));
    await createNode(admin, "hooked");
    const rx = await receiver(() => "s3cret", [503, 500]);
    cleanups.push(() => void rx.server.close());

    // Only owners register hooks; only http(s) URLs.
    const refused = await configure(juliet, { "pubsub#node": "hooked", webhook_urls: rx.url, webhook_secret: "s3cret" });
    expect(refused.attrs.type).toBe("error");
    expect(refused.getChild("error")!.getChild("forbidden", STANZAS)).toBeDefined();
    const notHttp = await configure(admin, { "pubsub#node": "hooked", webhook_urls: "file:///etc/passwd", webhook_secret: "s3cret" });
    expect(notHttp.getChild("error")!.getChild("not-acceptable", STANZAS)).toBeDefined();
    const ok = expectResult(await configure(admin, { "pubsub#node": "hooked", webhook_urls: rx.url, webhook_secret: "s3cret" }));
    expect(fieldValues(ok, "webhook_urls")).toEqual([rx.url]);

    expectResult(await publish(admin, "hooked", "item-1", "<json xmlns='urn:xmpp:json:0'>{\"n\":1}</json>"));
    const first = await rx.next();
    const second = await rx.next();
    const third = await rx.next();
    expect([first.status, second.status, third.status]).toEqual([503, 500, 204]);
    for (const d of [first, second, third]) {
      expect(d.signatureOk).toBe(true);
      expect(d.delivery).toBe(first.delivery);
    }
    expect(third.json).toMatchObject({ service: PUBSUB, node: "hooked", event: "item-published", id: "item-1", publisher: "admin@localhost", json: { n: 1 } });

    // A retraction is an event too; then nothing more is sent.
    expectResult(await admin.iq(`<iq type='set' to='${PUBSUB}' id='${nextId()}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='hooked'><item id='item-1'/></retract></pubsub></iq>`));
    const retracted = await rx.next();
    expect(retracted.json).toMatchObject({ node: "hooked", event: "item-retracted", ids: ["item-1"] });
    expect(retracted.signatureOk).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.got).toHaveLength(4);
  });

  it("POSTs a node's purge and deletion; a node made again under the name has no hooks", async () => {
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_private = true\npubsub_webhook_retry_delay = 0.1` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    await createNode(admin, "doomed");
    const rx = await receiver(() => "purge-key");
    cleanups.push(() => void rx.server.close());
    expectResult(await configure(admin, { "pubsub#node": "doomed", webhook_urls: rx.url, webhook_secret: "purge-key" }));
    const owner = (body: string) =>
      admin.iq(`<iq type='set' to='${PUBSUB}' id='${nextId()}'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>${body}</pubsub></iq>`);

    expectResult(await publish(admin, "doomed", "a"));
    expect((await rx.next()).json).toMatchObject({ node: "doomed", event: "item-published", id: "a" });
    expectResult(await owner("<purge node='doomed'/>"));
    const purged = await rx.next();
    expect(purged.json).toEqual({ service: PUBSUB, node: "doomed", event: "node-purged" });
    expect(purged.signatureOk).toBe(true);
    expectResult(await owner("<delete node='doomed'/>"));
    const deleted = await rx.next();
    expect(deleted.json).toEqual({ service: PUBSUB, node: "doomed", event: "node-deleted" });
    expect(deleted.signatureOk).toBe(true);

    await createNode(admin, "doomed");
    expectResult(await publish(admin, "doomed", "b"));
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.got.map((d) => d.json.event)).toEqual(["item-published", "node-purged", "node-deleted"]);
  });

  it("gives up after pubsub_webhook_max_attempts and tells the owners", async () => {
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_private = true\npubsub_webhook_retry_delay = 0.05\npubsub_webhook_max_attempts = 2` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    // Available, so a message to the bare JID reaches this session.
    admin.send("<presence/>");
    await admin.next();
    await createNode(admin, "failing");
    const rx = await receiver(() => "k", [500, 500, 500, 500]);
    cleanups.push(() => void rx.server.close());
    expectResult(await configure(admin, { "pubsub#node": "failing", webhook_urls: rx.url, webhook_secret: "k" }));
    expectResult(await publish(admin, "failing", "x"));
    const note = await admin.next(20_000);
    expect(note.name).toBe("message");
    expect(note.getChild("body")!.getText()).toContain(`failed after 2 attempts: HTTP 500`);
    expect(rx.got).toHaveLength(2);
    // The command lists the failure too.
    const listed = expectResult(await configure(admin, { "pubsub#node": "failing", webhook_urls: rx.url, webhook_secret: "k" }));
    expect(fieldValues(listed, "webhook_failures")[0]).toContain(`${rx.url} after 2 attempts: HTTP 500`);
  });

  it("keeps queued deliveries across a restart (LevelDB)", async () => {
    let ts: TestServer = await startPubsubServer({ storage: "leveldb", component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_private = true\npubsub_webhook_retry_delay = 3600` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    await createNode(admin, "durable");
    const rx = await receiver(() => "d", [503]);
    cleanups.push(() => void rx.server.close());
    expectResult(await configure(admin, { "pubsub#node": "durable", webhook_urls: rx.url, webhook_secret: "d" }));
    expectResult(await publish(admin, "durable", "kept"));
    // The first attempt is refused; the next is an hour away.
    const refused = await rx.next();
    expect(refused.status).toBe(503);
    admin.close();
    cleanups.pop();
    cleanups.pop();
    ts = await ts.restart();
    cleanups.push(
      async () => {
        await ts.stop();
        rmSync(ts.dataDir, { recursive: true, force: true });
      },
      () => void rx.server.close(),
    );
    const again = await rx.next();
    expect(again.status).toBe(204);
    expect(again.delivery).toBe(refused.delivery);
    expect(again.signatureOk).toBe(true);
    expect(again.json).toMatchObject({ node: "durable", id: "kept", event: "item-published" });
  });
});
