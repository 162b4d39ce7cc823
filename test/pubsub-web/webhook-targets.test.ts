// Webhook endpoints must be on the public Internet: a node owner cannot make Herald POST to
// loopback, the private network or a cloud metadata service. Refused when configured (with the
// reason), and checked again on the address each delivery connects to; pubsub_webhook_allow_private
// and pubsub_webhook_allow_cidr let receivers on such addresses in. Real HTTP receivers on loopback.

import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer } from "../harness/index.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { createNode, expectResult, login, nextId, publish, pubsubConfig, startPubsubServer, submitForm, PUBSUB } from "../pubsub/helpers.js";

const NODE = "urn:herald:pubsub:webhooks";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** An HTTP receiver on 127.0.0.1 answering every POST with `status` (and `headers`). */
async function receiver(status = 204, headers: Record<string, string> = {}): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hits.push(req.url ?? "");
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

function configure(c: RawClient, node: string, urls: string): Promise<Element> {
  return c.iq(
    `<iq type='set' to='${PUBSUB}' id='${nextId()}'><command xmlns='http://jabber.org/protocol/commands' node='${NODE}' action='execute'>${submitForm(undefined, { "pubsub#node": node, webhook_urls: urls, webhook_secret: "k" })}</command></iq>`,
  );
}

function refusal(iq: Element): string {
  expect(iq.attrs.type).toBe("error");
  const error = iq.getChild("error")!;
  expect(error.getChild("not-acceptable", STANZAS)).toBeDefined();
  return error.getChild("text", STANZAS)?.getText() ?? "";
}

/** The next message's body, skipping other stanzas. */
async function nextMessage(c: RawClient): Promise<string> {
  for (;;) {
    const el = await c.next(20_000);
    if (el.name === "message") return el.getChild("body")?.getText() ?? "";
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("webhook endpoints", () => {
  it("refuses endpoints on loopback, private, link-local and unique local addresses by default, saying why", async () => {
    const rx = await receiver();
    cleanups.push(() => void rx.server.close());
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    await createNode(admin, "hooked");
    for (const url of [
      `http://127.0.0.1:${rx.port}/hook`,
      `http://localhost:${rx.port}/hook`,
      `http://[::1]:${rx.port}/hook`,
      `http://[::ffff:127.0.0.1]:${rx.port}/hook`,
      `http://0.0.0.0:${rx.port}/hook`,
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/hook",
      "https://192.168.1.1/hook",
      "http://[fd00::1]/hook",
      "http://2130706433/hook", // 127.0.0.1 as a number
    ]) {
      const text = refusal(await configure(admin, "hooked", url));
      expect(text, url).toContain("pubsub_webhook_allow_private");
      expect(text, url).toMatch(/not a public address|resolves only to addresses that are not public/);
    }
    // One bad endpoint among good ones refuses the whole list; nothing was stored.
    refusal(await configure(admin, "hooked", `http://93.184.216.34/hook http://127.0.0.1:${rx.port}/hook`));
    expectResult(await publish(admin, "hooked", "x"));
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.hits).toEqual([]);
  });

  it("pubsub_webhook_allow_cidr lets an internal receiver in, and only it", async () => {
    const rx = await receiver();
    cleanups.push(() => void rx.server.close());
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_cidr = { "127.0.0.0/8" }` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    await createNode(admin, "hooked");
    expect(refusal(await configure(admin, "hooked", `http://[::1]:${rx.port}/hook`))).toContain("::1 is not a public address");
    expect(refusal(await configure(admin, "hooked", "http://10.1.2.3/hook"))).toContain("10.1.2.3");
    expectResult(await configure(admin, "hooked", `http://127.0.0.1:${rx.port}/in`));
    expectResult(await publish(admin, "hooked", "x"));
    const deadline = Date.now() + 20_000;
    while (rx.hits.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(rx.hits).toEqual(["/in"]);
  });

  it("checks the address each delivery connects to: endpoints stored when allowed are refused once they are not", async () => {
    const rx = await receiver();
    cleanups.push(() => void rx.server.close());
    // Registered while private addresses were allowed: an address literal, and a name that resolves
    // to loopback (as a name re-pointed after the check would, DNS rebinding).
    const config = (extra: string) => pubsubConfig({ storage: "leveldb", component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_retry_delay = 3600\n${extra}` });
    const first = await startTestServer({ config: config("pubsub_webhook_allow_private = true"), transport: "memory", users: ["admin"], keepData: true });
    const dataDir = first.dataDir;
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    try {
      const admin = await login(first, "admin");
      await createNode(admin, "hooked");
      expectResult(await configure(admin, "hooked", `http://127.0.0.1:${rx.port}/literal http://localhost:${rx.port}/name`));
      admin.close();
    } finally {
      await first.stop();
    }

    const ts = await startTestServer({ config: config(""), transport: "memory", dataDir });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    admin.send("<presence/>");
    expectResult(await publish(admin, "hooked", "x"));
    // Each delivery is given up at once (no retries: the address will not change its kind) and the
    // owner is told why.
    const notes = [await nextMessage(admin), await nextMessage(admin)].sort();
    expect(notes[0]).toContain(`to http://127.0.0.1:${rx.port}/literal failed after 1 attempts: 127.0.0.1 is not a public address`);
    expect(notes[1]).toContain(`to http://localhost:${rx.port}/name failed after 1 attempts: localhost resolves only to addresses that are not public`);
    for (const n of notes) expect(n).toContain("pubsub_webhook_allow_private");
    expect(rx.hits).toEqual([]);
  });

  it("does not follow redirects", async () => {
    const target = await receiver();
    cleanups.push(() => void target.server.close());
    const rx = await receiver(307, { location: `http://127.0.0.1:${target.port}/elsewhere` });
    cleanups.push(() => void rx.server.close());
    const ts = await startPubsubServer({ component: `modules_enabled = { "pubsub_post" }\npubsub_webhook_allow_private = true\npubsub_webhook_max_attempts = 1` });
    cleanups.push(() => ts.stop());
    const admin = await login(ts, "admin");
    cleanups.push(() => admin.close());
    admin.send("<presence/>");
    await createNode(admin, "hooked");
    expectResult(await configure(admin, "hooked", `http://127.0.0.1:${rx.port}/hook`));
    expectResult(await publish(admin, "hooked", "x"));
    expect(await nextMessage(admin)).toContain("HTTP 307 (redirects are not followed)");
    expect(rx.hits).toEqual(["/hook"]);
    expect(target.hits).toEqual([]);
  });
});
