import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../src/storage/memory.js";
import type { KeyvalStore } from "../../src/storage/types.js";
import { Blocklist, type StoredBlocklist } from "./blocklist.js";
import { BlocklistCache } from "./cache.js";
import { inboundAction, outboundAction, senderListApplies } from "./gates.js";

/** A real in-memory keyval store whose reads are counted (and can be held back). */
function countingStore() {
  const inner = new MemoryStorage().keyval<StoredBlocklist>("localhost", "blocklist");
  const reads: string[] = [];
  let gate: Promise<void> | undefined;
  const store: KeyvalStore<StoredBlocklist> = {
    ...inner,
    get: async (user) => {
      reads.push(user);
      const value = await inner.get(user);
      if (gate) await gate;
      return value;
    },
  };
  return {
    store,
    reads,
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("blocklist cache", () => {
  it("reads an account's list once, caching 'no list' as the shared empty list", async () => {
    const { store, reads } = countingStore();
    const cache = new BlocklistCache(store, 10);
    expect(await cache.get("romeo")).toBe(Blocklist.EMPTY);
    expect(await cache.get("romeo")).toBe(Blocklist.EMPTY);
    expect(reads).toEqual(["romeo"]);
  });

  it("shares one storage read among concurrent misses", async () => {
    const { store, reads, hold } = countingStore();
    await store.set("romeo", { items: [{ jid: "tybalt@localhost", since: 1 }] });
    const cache = new BlocklistCache(store, 10);
    const release = hold();
    const both = Promise.all([cache.get("romeo"), cache.get("romeo")]);
    release();
    const [a, b] = await both;
    expect(a).toBe(b);
    expect(a.blocks("tybalt@localhost/x")).toBe(true);
    expect(reads).toEqual(["romeo"]);
  });

  it("does not cache a read that raced a write", async () => {
    const { store, reads, hold } = countingStore();
    const cache = new BlocklistCache(store, 10);
    const release = hold();
    const stale = cache.get("romeo"); // reads "no list"...
    await new Promise((r) => setImmediate(r));
    await cache.set("romeo", Blocklist.EMPTY.edit("block", ["tybalt@localhost"], 1)); // ...while a block is written
    release();
    await stale;
    expect((await cache.get("romeo")).has("tybalt@localhost")).toBe(true);
    expect(reads).toEqual(["romeo"]);
  });

  it("keeps the lists of online accounts beyond the LRU's size until their last session unbinds", async () => {
    const { store, reads } = countingStore();
    const cache = new BlocklistCache(store, 1);
    const s1 = {};
    const s2 = {};
    cache.bind("romeo", s1);
    cache.bind("romeo", s2);
    await cache.get("romeo");
    for (const other of ["a", "b", "c"]) await cache.get(other); // an LRU of one: each pushes out the last
    expect(cache.has("romeo")).toBe(true);
    expect(cache.has("a")).toBe(false);
    cache.unbind("romeo", s1);
    expect(cache.has("romeo")).toBe(true);
    cache.unbind("romeo", s2); // now in the LRU, the most recent
    expect(cache.has("c")).toBe(false);
    await cache.get("romeo");
    expect(reads.filter((u) => u === "romeo")).toHaveLength(1);
    await cache.get("a");
    expect(cache.has("romeo")).toBe(false);
  });

  it("forgets a deleted account's list", async () => {
    const { store, reads } = countingStore();
    const cache = new BlocklistCache(store, 10);
    await cache.get("romeo");
    cache.purge("romeo");
    expect(cache.has("romeo")).toBe(false);
    await cache.get("romeo");
    expect(reads).toEqual(["romeo", "romeo"]);
  });
});

describe("blocked stanzas (XEP-0191)", () => {
  const quiet = { bounceMessages: false, toConnectedResource: false };
  const bouncing = { bounceMessages: true, toConnectedResource: false };

  it("inbound: presence dropped, iq get/set bounced, messages bounced only with bounce_blocked_messages", () => {
    expect(inboundAction("presence", undefined, bouncing)).toBe("drop");
    expect(inboundAction("iq", "get", quiet)).toBe("bounce");
    expect(inboundAction("iq", "set", quiet)).toBe("bounce");
    expect(inboundAction("iq", "result", bouncing)).toBe("drop");
    expect(inboundAction("iq", "error", bouncing)).toBe("drop");
    expect(inboundAction("message", "chat", quiet)).toBe("drop");
    for (const type of [undefined, "normal", "chat"]) expect(inboundAction("message", type, bouncing)).toBe("bounce");
    for (const type of ["headline", "groupchat", "error"]) expect(inboundAction("message", type, bouncing)).toBe("drop");
    expect(inboundAction("message", "chat", { bounceMessages: true, toConnectedResource: true })).toBe("drop");
  });

  it("outbound: refused, except errors and iq results, which are dropped", () => {
    expect(outboundAction("message", "chat")).toBe("refuse");
    expect(outboundAction("iq", "get")).toBe("refuse");
    expect(outboundAction("presence", undefined)).toBe("refuse");
    expect(outboundAction("message", "error")).toBe("drop");
    expect(outboundAction("iq", "result")).toBe("drop");
    expect(outboundAction("presence", "error")).toBe("drop");
  });

  it("the sender's own list applies to availability and probes, not to subscription management", () => {
    for (const type of [undefined, "unavailable", "probe"]) expect(senderListApplies(type)).toBe(true);
    for (const type of ["subscribe", "subscribed", "unsubscribe", "unsubscribed", "error"]) expect(senderListApplies(type)).toBe(false);
  });
});
