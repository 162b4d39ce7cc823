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

  it("keeps held entries above capacity until they may go", () => {
    const held = new Set(["a"]);
    const lru = new Lru<string, number>(1, undefined, (k) => !held.has(k));
    lru.set("a", 1).set("b", 2);
    expect([...lru.keys()].sort()).toEqual(["a"]);
    // all held: stays above capacity
    held.add("c");
    lru.set("c", 3);
    lru.set("d", 4); // the only entry that may go, newest or not
    expect(lru.has("a") && lru.has("c")).toBe(true);
    expect(lru.has("d")).toBe(false);
    expect(lru.size).toBe(2);
    held.clear();
    lru.shrink();
    expect(lru.size).toBe(1);
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
