import { describe, expect, it } from "vitest";
import { Lru } from "./lru.js";

describe("Lru", () => {
  it("evicts the least recently used entry beyond capacity", () => {
    const evicted: string[] = [];
    const lru = new Lru<string, number>(2, (k) => evicted.push(k));
    lru.set("a", 1).set("b", 2);
    expect(lru.get("a")).toBe(1); // a is now the most recent
    lru.set("c", 3);
    expect(evicted).toEqual(["b"]);
    expect([...lru.keys()]).toEqual(["a", "c"]);
    expect(lru.size).toBe(2);
  });

  it("peek does not refresh an entry", () => {
    const lru = new Lru<string, number>(2);
    lru.set("a", 1).set("b", 2);
    expect(lru.peek("a")).toBe(1);
    lru.set("c", 3);
    expect(lru.has("a")).toBe(false);
    expect(lru.has("b")).toBe(true);
  });

  it("caches undefined and null values, told apart from misses", () => {
    const lru = new Lru<string, string | null | undefined>(3);
    lru.set("none", null).set("undef", undefined);
    expect(lru.has("none")).toBe(true);
    expect(lru.lookup("none")).toEqual({ value: null });
    expect(lru.lookup("undef")).toEqual({ value: undefined });
    expect(lru.lookup("missing")).toBeUndefined();
    // get() of a cached undefined refreshes it too
    lru.get("undef");
    lru.set("x", "1").set("y", "2");
    expect(lru.has("none")).toBe(false);
    expect(lru.has("undef")).toBe(true);
  });

  it("keeps held entries apart, above capacity, until they may go; never evicts the entry just set", () => {
    const held = new Set(["a"]);
    const evicted: string[] = [];
    const lru = new Lru<string, number>(1, (k) => evicted.push(k), (k) => !held.has(k));
    lru.set("a", 1).set("b", 2);
    expect(lru.has("a") && lru.has("b")).toBe(true);
    // all others held: the new entry stays, the held ones wait beside the LRU
    held.add("c");
    lru.set("c", 3);
    lru.set("d", 4);
    expect(lru.peek("d")).toBe(4);
    expect(lru.has("a") && lru.has("c")).toBe(true);
    expect(evicted).toEqual(["b"]);
    lru.set("e", 5); // d may go
    expect(evicted).toEqual(["b", "d"]);
    expect(lru.size).toBe(3);
    held.clear();
    lru.release();
    expect(lru.size).toBe(1);
    expect(evicted).toEqual(["b", "d", "a", "c"]);
    expect(lru.peek("e")).toBe(5);
  });

  it("a held entry read after its hold is lifted goes back to the LRU as recently used", () => {
    const held = new Set(["a"]);
    const lru = new Lru<string, number>(2, undefined, (k) => !held.has(k));
    lru.set("a", 1).set("b", 2).set("c", 3); // a is pinned
    held.clear();
    expect(lru.get("a")).toBe(1); // back in the LRU, b (the oldest) makes room
    expect([...lru.keys()]).toEqual(["c", "a"]);
  });

  it("sweeps lifted holds while entries are set, so pinned entries do not pile up", () => {
    const held = new Set<string>();
    const lru = new Lru<string, number>(10, undefined, (k) => !held.has(k));
    for (let i = 0; i < 10; i++) {
      held.add(`u${i}`);
      lru.set(`u${i}`, i);
    }
    for (let i = 0; i < 10; i++) lru.set(`x${i}`, i); // every u is pinned
    expect(lru.size).toBe(20);
    held.clear();
    for (let i = 0; i < 10; i++) lru.set(`y${i}`, i);
    expect(lru.size).toBe(10);
  });

  it("refuses a capacity below 1", () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });

  it("delete and clear", () => {
    const lru = new Lru<string, number>(5);
    lru.set("a", 1).set("b", 2);
    expect(lru.delete("a")).toBe(true);
    expect(lru.delete("a")).toBe(false);
    lru.clear();
    expect(lru.size).toBe(0);
  });
});
