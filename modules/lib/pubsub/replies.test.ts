import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LevelStorage, MemoryStorage } from "../../../src/storage/index.js";
import { Element } from "../../../src/xml/stanza.js";
import { StanzaBroadcaster } from "./broadcaster.js";
import { resultOf, type ProtocolResult } from "./context.js";
import { Notifier } from "./notifications.js";
import { DurableReplies } from "./replies.js";
import { HeraldPubsubStore } from "./store.js";
import { COMPONENT_NODE_DEFAULTS, type ItemsEvent } from "../../../src/util/pubsub/index.js";

const iq = (id: string, from?: string) => new Element("iq", from === undefined ? { type: "set", id } : { type: "set", id, from });
const item = (id: string) => ({ id, publisher: "a@b", published: 1, payload: new Element("x", { xmlns: "urn:test" }) });

/**
 * What module.iq does with reply()'s answer: a `now` result is sent at once and its after-action
 * awaited (the sender waits); a `later` one is sent when it settles, then afterSent runs.
 */
async function answer(replies: DurableReplies, request: Element, run: () => Promise<ProtocolResult>, send: (reply: Element) => void): Promise<void> {
  const r = await replies.reply(request, run);
  if ("now" in r) {
    send(r.now.reply);
    if (r.now.after) await r.now.after();
    return;
  }
  void r.later.then(async (done) => {
    send(done.reply);
    await r.afterSent();
  });
}

function setup(storage: MemoryStorage) {
  const store = new HeraldPubsubStore(
    { nodes: storage.keyval("h", "n"), subscriptions: storage.map("h", "s"), items: storage.archive("h", "i") },
    { writeBehind: true },
  );
  const broadcaster = new StanzaBroadcaster(new Notifier({ from: "h", maxItems: 10, nextId: () => "m" }), { post: async () => {}, gate: () => store.written() });
  const errors: unknown[] = [];
  const replies = new DurableReplies({
    store,
    broadcaster,
    failure: (request) => new Element("iq", { type: "error", id: request.attrs.id }),
    onError: (err) => errors.push(err),
  });
  return { store, replies, errors };
}

describe("DurableReplies", () => {
  it("with nothing written, replies at once, and runs `after` once the reply is out", async () => {
    const storage = new MemoryStorage();
    await storage.open();
    const { replies } = setup(storage);
    const log: string[] = [];
    await answer(replies, iq("1"), async () => resultOf(iq("r1"), async () => void log.push("after")), (r) => void log.push(`sent ${r.attrs.id}`));
    expect(log).toEqual(["sent r1", "after"]);
  });

  it("a reply to a request that queued an item waits until it is stored; later replies keep request order", async () => {
    const storage = new MemoryStorage();
    await storage.open();
    const { store, replies } = setup(storage);
    const sent: string[] = [];
    const send = (r: Element) => void sent.push(r.attrs.id!);
    await answer(replies, iq("1"), async () => {
      await store.appendItem("n", item("a"));
      return resultOf(iq("r1"));
    }, send);
    await answer(replies, iq("2"), async () => resultOf(iq("r2")), send);
    // Both go out, the first before the second, once the item is durable.
    await store.durable(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual(["r1", "r2"]);
    expect(await store.countItems("n")).toBe(1);
  });

  it("settled() resolves once the replies already in the chain are sent (reads wait for them)", async () => {
    const storage = new MemoryStorage();
    await storage.open();
    const { store, replies } = setup(storage);
    const log: string[] = [];
    await answer(replies, iq("1"), async () => {
      await store.appendItem("n", item("a"));
      return resultOf(iq("r1"));
    }, (r) => void log.push(`sent ${r.attrs.id}`));
    expect(log).toEqual([]); // waiting for the item to be stored
    await replies.settled();
    log.push("read answered");
    expect(log).toEqual(["sent r1", "read answered"]);
    // With nothing in the chain it resolves at once.
    await replies.settled();
  });

  it("answers with the failure reply when the item could not be stored", async () => {
    const storage = new MemoryStorage();
    await storage.open();
    const { store, replies } = setup(storage);
    await storage.close();
    const sent: Element[] = [];
    await answer(replies, iq("7"), async () => {
      await store.appendItem("n", item("lost"));
      return resultOf(iq("r7"));
    }, (r) => void sent.push(r));
    await store.durable(0).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent.map((r) => `${r.attrs.type} ${r.attrs.id}`)).toEqual(["error 7"]);
  });

  describe("a publish's reply and its fan-out", () => {
    /**
     * A store and a broadcaster whose fan-out is costly (1 ms of CPU per notification, so a turn of
     * the event loop posts a chunk or two, as thousands of notifications do); every hand-over and
     * reply is logged.
     */
    async function fanout() {
      // LevelDB (synced writes): the item is still being written when its notifications are handed over.
      const dir = mkdtempSync(join(tmpdir(), "herald-replies-"));
      dirs.push(dir);
      const storage = new LevelStorage(join(dir, "db"));
      await storage.open();
      opened.push(storage);
      const store = new HeraldPubsubStore(
        { nodes: storage.keyval("h", "n"), subscriptions: storage.map("h", "s"), items: storage.archive("h", "i") },
        { writeBehind: true },
      );
      const log: string[] = [];
      const broadcaster = new StanzaBroadcaster(new Notifier({ from: "h", maxItems: 10, nextId: () => "m" }), {
        post: async (m) => {
          log.push(`to ${m.attrs.to}`);
          const start = performance.now();
          while (performance.now() - start < 1) {
            // serializing and writing a notification
          }
        },
        gate: () => store.written(),
        chunk: 2,
      });
      const replies = new DurableReplies({ store, broadcaster, failure: (request) => new Element("iq", { type: "error", id: request.attrs.id }), onError: (err) => log.push(`error ${String(err)}`) });
      /** Publish item `id` (the reply's id too); resolves once the reply is handed back (not sent). */
      const start = (from: string, subscribers: string[], id = "p") =>
        answer(
          replies,
          iq(id, from),
          async () => {
            await store.appendItem("n", item(id));
            const event: ItemsEvent = {
              kind: "items",
              node: "n",
              item: { id, publisher: from, published: 1 },
              recipients: subscribers.map((jid) => ({ jid, subids: [] })),
              config: COMPONENT_NODE_DEFAULTS,
              owners: [],
            };
            await broadcaster.notify(event);
            return resultOf(new Element("iq", { type: "result", id }));
          },
          (r) => void log.push(`reply ${r.attrs.id}`),
        );
      const done = async () => {
        await replies.settled();
        await broadcaster.idle();
      };
      const publish = async (from: string, subscribers: string[]) => {
        await start(from, subscribers);
        await done();
      };
      return { log, publish, start, done };
    }

    const subscribers = Array.from({ length: 8 }, (_, i) => `s${i}@h/r`);
    const dirs: string[] = [];
    const opened: LevelStorage[] = [];
    afterAll(async () => {
      for (const s of opened) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it("a publisher that is not a subscriber has its result once the item is stored, without waiting for the whole fan-out", async () => {
      const { log, publish } = await fanout();
      await publish("pub@h/desk", subscribers);
      expect(log.filter((l) => l.startsWith("to ")).sort()).toEqual(subscribers.map((s) => `to ${s}`).sort());
      // Stored first (the gate), then the reply went out while the fan-out was still being posted.
      const reply = log.indexOf("reply p");
      expect(reply).toBeGreaterThanOrEqual(0);
      expect(reply).toBeLessThan(log.length - 1);
    });

    it("a publisher with publishes in flight is held back by the fan-out: each result waits for the notifications of the publishes before it", async () => {
      const { log, start, done } = await fanout();
      // Both accepted before either item is stored: one round on disk, two fan-outs after it.
      await start("pub@h/desk", subscribers, "p1");
      await start("pub@h/desk", subscribers, "p2");
      await done();
      const notes = log.filter((l) => l.startsWith("to "));
      expect(notes).toHaveLength(16);
      // p1's result came before the end of its own fan-out; p2's only after all of p1's notifications.
      const lastOfP1 = log.indexOf(notes[7]);
      expect(log.indexOf("reply p1")).toBeLessThan(lastOfP1);
      expect(log.indexOf("reply p2")).toBeGreaterThan(lastOfP1);
    });

    it("a publisher that is also a subscriber (any of its resources) gets its own notification first, then its result", async () => {
      const { log, publish } = await fanout();
      await publish("s7@h/phone", subscribers);
      // The publisher's account is the last recipient: the reply follows every notification.
      expect(log[log.length - 1]).toBe("reply p");
      expect(log.filter((l) => l.startsWith("to "))).toHaveLength(8);
    });
  });
});
