// Flow control on server-to-server connections: a pubsub fan-out to many users of another server
// goes at that server's pace. Before, everything was written at once and a fan-out larger than
// s2s_send_buffer_limit dropped the connection with what it held. Here the limit is its smallest
// (64 KiB); a publish to 300 subscribers of b.test while the connection is being made, then five
// at once on the ready connection, make about a megabyte of notifications:
// every one arrives, over the one connection, which never holds more than the limit. And a peer
// that stops reading altogether is waited for only REMOTE_FLOW_WAIT_MS (a real, paused socket).

import { connect, createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, login, startPair, type Pair } from "./helpers.js";
import { S2STransport } from "../../src/net/s2s-transport.js";
import { REMOTE_FLOW_WAIT_MS } from "../../src/router/router.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const SUBSCRIBERS = 300;
const PUBLISHES = 5;

describe("s2s flow control", () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair({ extra: "s2s_send_buffer_limit = 65536" });
  });
  afterAll(async () => {
    await pair?.stop();
  });

  it("delivers a fan-out many times s2s_send_buffer_limit without dropping the connection", async () => {
    const service = `pubsub.${A.domain}`;
    const admin = await login(pair.a, "admin", A.domain);
    const created = await admin.iq(`<iq type='set' to='${service}' id='c'><pubsub xmlns='${NS_PUBSUB}'><create node='flow'/></pubsub></iq>`, 20000);
    expect(created.attrs.type).toBe("result");
    // The owner subscribes the remote users (XEP-0060 §8.8.2): none of them needs to be online.
    const subs = Array.from({ length: SUBSCRIBERS }, (_, i) => `<subscription jid='u${i}@${B.domain}' subscription='subscribed'/>`).join("");
    const set = await admin.iq(`<iq type='set' to='${service}' id='s'><pubsub xmlns='${NS_PUBSUB}#owner'><subscriptions node='flow'>${subs}</subscriptions></pubsub></iq>`, 20000);
    expect(set.attrs.type).toBe("result");

    // Notifications of items of the node that reach b.test's users (each item id counted per user).
    const seen = new Set<string>();
    const off = pair.b.server.hosts.get(B.domain)!.bus.on(
      "message/bare",
      (ev) => {
        const item = ev.stanza.getChild("event", `${NS_PUBSUB}#event`)?.getChild("items")?.getChild("item")?.attrs.id;
        if (item) seen.add(`${ev.stanza.attrs.to} ${item}`);
        return undefined;
      },
      1000,
    );
    const received = () => seen.size;
    const before = 0;
    let largest = 0;
    const outStreams = new Set<string>();
    const sampler = setInterval(() => {
      for (const r of pair.a.server.s2s!.list()) {
        if (r.direction !== "out" || r.remote !== B.domain) continue;
        largest = Math.max(largest, r.buffered);
      }
    }, 5);
    const payload = "x".repeat(300);
    const publish = (k: number) =>
      admin.iq(`<iq type='set' to='${service}' id='p${k}'><pubsub xmlns='${NS_PUBSUB}'><publish node='flow'><item id='i${k}'><entry xmlns='http://www.w3.org/2005/Atom'><summary>${payload}</summary></entry></item></publish></pubsub></iq>`, 60000);
    const arrived = async (count: number) => {
      const deadline = Date.now() + 60000;
      while (received() - before < count && Date.now() < deadline) {
        for (const s of pair.a.server.s2s!.streams()) if (s.kind === "s2sout") outStreams.add(s.id);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(received() - before).toBe(count);
    };
    try {
      // The first publish's notifications wait for the connection to be made (s2s_send_queue_size,
      // 1000, is more than enough), then go out at the peer's pace too.
      expect((await publish(0)).attrs.type).toBe("result");
      await arrived(SUBSCRIBERS);
      // Then a burst on the ready connection.
      const publishes = Array.from({ length: PUBLISHES }, (_, k) =>
        publish(k + 1),
      );
      for (const r of await Promise.all(publishes)) expect(r.attrs.type).toBe("result");
      await arrived(SUBSCRIBERS * (PUBLISHES + 1));
    } finally {
      clearInterval(sampler);
      off();
    }
    // One connection carried them all, and it never held more than the limit.
    expect(outStreams.size).toBe(1);
    expect(largest).toBeLessThanOrEqual(65536);
    admin.close();
  }, 120000);
});

describe("a peer that stops reading", () => {
  it("is waited for while it reads, and no longer once it has read nothing for REMOTE_FLOW_WAIT_MS, until it catches up", async () => {
    // A real connection on loopback whose reading end is paused.
    let accepted!: Socket;
    const server = createServer((s) => {
      accepted = s;
      s.pause();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const socket = connect({ host: "127.0.0.1", port: (server.address() as { port: number }).port });
    await new Promise<void>((ok) => socket.once("connect", () => ok()));
    while (!accepted) await new Promise((r) => setTimeout(r, 10));
    const noTls = { ca: [], context: () => undefined, pair: () => undefined };
    const transport = new S2STransport(socket, noTls, false, 256 * 1024 * 1024);
    try {
      // Far more than the kernel's buffers take: most of it waits in the transport.
      const chunk = "x".repeat(64 * 1024);
      for (let i = 0; i < 256; i++) transport.write(chunk);
      await new Promise((r) => setImmediate(r));
      expect(transport.buffered).toBeGreaterThan(1024 * 1024);
      const first = transport.drained(REMOTE_FLOW_WAIT_MS);
      expect(first).toBeInstanceOf(Promise);
      expect(transport.drained(REMOTE_FLOW_WAIT_MS)).toBe(first); // one wait for every sender
      // Nothing read for longer than the patience: senders are not held any more.
      await new Promise((r) => setTimeout(r, REMOTE_FLOW_WAIT_MS + 500));
      expect(transport.drained(REMOTE_FLOW_WAIT_MS)).toBeUndefined();
      // The peer reads everything: the wait ends, and a new congestion is waited for again.
      let read = 0;
      accepted.on("data", (d: Buffer) => (read += d.length));
      accepted.resume();
      await first;
      expect(transport.buffered).toBe(0);
      accepted.pause();
      for (let i = 0; i < 256; i++) transport.write(chunk);
      await new Promise((r) => setImmediate(r));
      expect(transport.drained(REMOTE_FLOW_WAIT_MS)).toBeInstanceOf(Promise);
      expect(read).toBeGreaterThan(0);
    } finally {
      transport.destroy();
      accepted?.destroy();
      server.close();
    }
  }, 30000);
});
