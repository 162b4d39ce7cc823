import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../../src/storage/index.js";
import { Element } from "../../../src/xml/stanza.js";
import { StanzaBroadcaster } from "./broadcaster.js";
import { resultOf, type ProtocolResult } from "./context.js";
import { Notifier } from "./notifications.js";
import { DurableReplies } from "./replies.js";
import { HeraldPubsubStore } from "./store.js";

const iq = (id: string) => new Element("iq", { type: "set", id });
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
});
