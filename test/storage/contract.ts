// The storage contract: every StorageDriver must pass these. Run by memory.test.ts and leveldb.test.ts.
// This is the executable specification of src/storage/types.ts.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ArchiveItem, Json, StorageDriver } from "../../src/storage/types.js";

/** Code point order, computed independently of the drivers: the byte order of UTF-8. */
export function codePointSort(names: string[]): string[] {
  return names.slice().sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
}

/** Names that a naive "host/store/user" key encoding would confuse. */
export const TRICKY_NAMES = ["", "a", "b", "a/b", "b/c", "a\x00b", "a\x00", "\x00", "\x01", "a\x01b", "é", "e\u0301", "😀", "\uffff"];

const ids = (items: ArchiveItem[]) => items.map((i) => i.id);
const nums = (items: ArchiveItem[]) => items.map((i) => Number(i.id.slice(1)));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

export function storageContract(name: string, makeDriver: () => Promise<StorageDriver>): void {
  describe(`storage contract: ${name}`, () => {
    let d: StorageDriver;

    beforeEach(async () => {
      d = await makeDriver();
      await d.open();
    });

    afterEach(async () => {
      await d.close();
    });

    describe("keyval", () => {
      it("returns undefined for a missing user", async () => {
        expect(await d.keyval("h", "s").get("nobody")).toBeUndefined();
      });

      it("sets, overwrites and deletes with undefined; null is a value", async () => {
        const kv = d.keyval("h", "s");
        await kv.set("u", { a: 1 });
        expect(await kv.get("u")).toEqual({ a: 1 });
        await kv.set("u", [1, "two", true, null]);
        expect(await kv.get("u")).toEqual([1, "two", true, null]);
        await kv.set("u", null);
        expect(await kv.get("u")).toBeNull();
        expect(await kv.users()).toEqual(["u"]);
        await kv.set("u", undefined);
        expect(await kv.get("u")).toBeUndefined();
        expect(await kv.users()).toEqual([]);
        await kv.set("never", undefined); // deleting a missing value is fine
      });

      it("stores scalars and the empty user", async () => {
        const kv = d.keyval("h", "s");
        await kv.set("", "host-wide");
        await kv.set("n", 0);
        await kv.set("f", false);
        await kv.set("e", "");
        expect(await kv.get("")).toBe("host-wide");
        expect(await kv.get("n")).toBe(0);
        expect(await kv.get("f")).toBe(false);
        expect(await kv.get("e")).toBe("");
      });

      it("lists users with data in code point order", async () => {
        const kv = d.keyval("h", "s");
        const users = ["zed", "Alice", "", "é", "😀", "\uff21", "a/b", "a\x00"];
        for (const u of users) await kv.set(u, u);
        expect(await kv.users()).toEqual(codePointSort(users));
        // Code point order differs from JS string order here: U+FF21 < U+1F600.
        expect((await kv.users()).slice(-2)).toEqual(["\uff21", "😀"]);
      });

      it("deep-copies on the way in and out", async () => {
        const kv = d.keyval<{ list: number[] }>("h", "s");
        const obj = { list: [1] };
        await kv.set("u", obj);
        obj.list.push(2);
        const got = await kv.get("u");
        expect(got).toEqual({ list: [1] });
        got!.list.push(3);
        expect(await kv.get("u")).toEqual({ list: [1] });
        expect(await kv.get("u")).not.toBe(await kv.get("u"));
      });

      it("has JSON round-trip semantics", async () => {
        const kv = d.keyval("h", "s");
        const value = { a: undefined, b: 1, d: new Date(0), s: "\ud800 lone", n: Number.NaN };
        await kv.set("u", value as unknown as Json);
        expect(await kv.get("u")).toEqual({ b: 1, d: "1970-01-01T00:00:00.000Z", s: "\ud800 lone", n: null });
      });

      it("rejects values JSON cannot represent, storing nothing", async () => {
        const kv = d.keyval("h", "s");
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        for (const bad of [() => 1, Symbol("x"), 1n, cyclic]) {
          await expect(kv.set("u", bad as unknown as Json)).rejects.toThrow(TypeError);
        }
        expect(await kv.users()).toEqual([]);
      });

      it("rejects names with lone surrogates", async () => {
        expect(() => d.keyval("h\ud800", "s")).toThrow(TypeError);
        expect(() => d.keyval("h", "\udc00")).toThrow(TypeError);
        const kv = d.keyval("h", "s");
        await expect(kv.set("\ud800", 1)).rejects.toThrow(TypeError);
        await expect(kv.get("x\udfff")).rejects.toThrow(TypeError);
      });
    });

    describe("map", () => {
      it("gets, sets and deletes single keys", async () => {
        const m = d.map("h", "s");
        expect(await m.get("u", "k")).toBeUndefined();
        await m.set("u", "k", { v: 1 });
        await m.set("u", "k2", null);
        expect(await m.get("u", "k")).toEqual({ v: 1 });
        expect(await m.get("u", "k2")).toBeNull();
        expect(await m.get("other", "k")).toBeUndefined();
        await m.set("u", "k", undefined);
        expect(await m.get("u", "k")).toBeUndefined();
        expect(await m.get("u", "k2")).toBeNull();
      });

      it("getAll returns every key of one user in code point order", async () => {
        const m = d.map("h", "s");
        const keys = ["b", "a", "", "é", "😀", "\uff21", "a\x00", "a/b"];
        for (const k of keys) await m.set("u", k, k.length);
        await m.set("u2", "zzz", 1);
        await m.set("u\x00", "zzz", 1);
        const all = await m.getAll("u");
        expect([...all.keys()]).toEqual(codePointSort(keys));
        for (const k of keys) expect(all.get(k)).toBe(k.length);
        expect(await m.getAll("nobody")).toEqual(new Map());
      });

      it("setMany applies sets and deletes; later entries win", async () => {
        const m = d.map("h", "s");
        await m.setMany("u", [
          ["a", 1],
          ["b", 2],
          ["c", 3],
        ]);
        await m.setMany("u", [
          ["a", undefined],
          ["b", 20],
          ["d", 4],
          ["d", 40],
          ["c", 30],
          ["c", undefined],
        ]);
        expect(await m.getAll("u")).toEqual(
          new Map<string, Json>([
            ["b", 20],
            ["d", 40],
          ]),
        );
        await m.setMany("u", []);
        expect((await m.getAll("u")).size).toBe(2);
      });

      it("setMany is all or nothing", async () => {
        const m = d.map("h", "s");
        await m.set("u", "keep", 1);
        await expect(
          m.setMany("u", [
            ["keep", undefined],
            ["new", 2],
            ["bad", 1n as unknown as Json],
          ]),
        ).rejects.toThrow(TypeError);
        await expect(
          m.setMany("u", [
            ["keep", undefined],
            ["bad\ud800", 1],
          ]),
        ).rejects.toThrow(TypeError);
        expect(await m.getAll("u")).toEqual(new Map([["keep", 1]]));
      });

      it("clear removes one user's keys; users lists users with keys", async () => {
        const m = d.map("h", "s");
        await m.setMany("a", [
          ["x", 1],
          ["y", 2],
        ]);
        await m.set("b", "x", 1);
        await m.set("", "x", 1);
        await m.set("a\x00", "x", 1);
        expect(await m.users()).toEqual(codePointSort(["a", "b", "", "a\x00"]));
        await m.clear("a");
        expect(await m.getAll("a")).toEqual(new Map());
        expect(await m.get("a\x00", "x")).toBe(1);
        expect(await m.users()).toEqual(codePointSort(["b", "", "a\x00"]));
        await m.set("b", "x", undefined);
        expect(await m.users()).toEqual(codePointSort(["", "a\x00"]));
        await m.clear("nobody");
      });

      it("deep-copies on the way in and out", async () => {
        const m = d.map<{ list: number[] }>("h", "s");
        const obj = { list: [1] };
        await m.set("u", "k", obj);
        await m.setMany("u", [["k2", obj]]);
        obj.list.push(2);
        const one = await m.get("u", "k");
        const all = await m.getAll("u");
        expect(one).toEqual({ list: [1] });
        expect(all.get("k2")).toEqual({ list: [1] });
        one!.list.push(3);
        all.get("k")!.list.push(3);
        expect(await m.get("u", "k")).toEqual({ list: [1] });
        expect(await m.get("u", "k2")).toEqual({ list: [1] });
      });
    });

    describe("archive", () => {
      const W = "a@x";
      const B = "b@x";
      /** Items i0..i9, when 1000..10000, with alternating a@x / b@x, value { n }. */
      async function fixture(user = "u") {
        const a = d.archive("h", "s");
        for (let n = 0; n < 10; n++) {
          await a.append(user, { n }, { id: `i${n}`, when: 1000 * (n + 1), with: n % 2 === 0 ? W : B });
        }
        return a;
      }

      it("appends with generated ids: unique, URL-safe, sorted by time", async () => {
        const a = d.archive("h", "s");
        const before = Date.now();
        const got: string[] = [];
        for (let n = 0; n < 50; n++) got.push(await a.append("u", n));
        const after = Date.now();
        expect(new Set(got).size).toBe(50);
        for (const id of got) expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(got.slice().sort()).toEqual(got);
        const items = await a.find("u");
        expect(ids(items)).toEqual(got);
        expect(items.map((i) => i.value)).toEqual([...Array(50).keys()]);
        for (const i of items) {
          expect(i.when).toBeGreaterThanOrEqual(before);
          expect(i.when).toBeLessThanOrEqual(after);
          expect("with" in i).toBe(false);
        }
      });

      it("returns items in the stored shape; get by id", async () => {
        const a = d.archive("h", "s");
        expect(await a.append("u", { body: "hi" }, { id: "x", when: 5, with: "j@h/r" })).toBe("x");
        expect(await a.append("u", "plain", { id: "y", when: 6 })).toBe("y");
        expect(await a.get("u", "x")).toEqual({ id: "x", when: 5, with: "j@h/r", value: { body: "hi" } });
        const y = await a.get("u", "y");
        expect(y).toEqual({ id: "y", when: 6, value: "plain" });
        expect(Object.keys(y!).sort()).toEqual(["id", "value", "when"]);
        expect(await a.get("u", "nope")).toBeUndefined();
        expect(await a.get("other", "x")).toBeUndefined();
        expect(await d.archive("h", "other").get("u", "x")).toBeUndefined();
      });

      it("an existing id is replaced and moves to the end", async () => {
        const a = d.archive("h", "s");
        await a.append("u", 1, { id: "a" });
        await a.append("u", 2, { id: "b" });
        await a.append("u", 3, { id: "c" });
        await a.append("u", 10, { id: "a", with: "w@x" });
        const items = await a.find("u");
        expect(ids(items)).toEqual(["b", "c", "a"]);
        expect(items[2].value).toBe(10);
        expect(items[2].with).toBe("w@x");
        expect(await a.count("u")).toBe(3);
        expect((await a.get("u", "a"))!.value).toBe(10);
        // Replacing without `with` drops the old one.
        await a.append("u", 11, { id: "a" });
        expect(await a.get("u", "a")).not.toHaveProperty("with");
        expect(await a.count("u")).toBe(3);
      });

      it("orders by when, then append order", async () => {
        const a = d.archive("h", "s");
        await a.append("u", 0, { id: "x", when: 5000 });
        await a.append("u", 0, { id: "y", when: 5000 });
        await a.append("u", 0, { id: "z", when: 5000 });
        await a.append("u", 0, { id: "late", when: 9000 });
        await a.append("u", 0, { id: "w", when: 5000 });
        await a.append("u", 0, { id: "v", when: 4000 });
        await a.append("u", 0, { id: "zero", when: 0 });
        expect(ids(await a.find("u"))).toEqual(["zero", "v", "x", "y", "z", "w", "late"]);
        // Replacing with an older when places the item chronologically.
        await a.append("u", 1, { id: "late", when: 4500 });
        expect(ids(await a.find("u"))).toEqual(["zero", "v", "late", "x", "y", "z", "w"]);
        // Replacing within the same `when` moves it after its equals.
        await a.append("u", 1, { id: "x", when: 5000 });
        expect(ids(await a.find("u"))).toEqual(["zero", "v", "late", "y", "z", "w", "x"]);
        // After deleting the newest items, equal `when`s still keep append order.
        await a.delete("u", { start: 5000 });
        await a.append("u", 0, { id: "p", when: 5000 });
        await a.append("u", 0, { id: "q", when: 4500 });
        await a.append("u", 0, { id: "r", when: 5000 });
        const s = await a.append("u", 0);
        expect(ids(await a.find("u"))).toEqual(["zero", "v", "late", "q", "p", "r", s]);
      });

      it("rejects a bad when, id, with or value", async () => {
        const a = d.archive("h", "s");
        for (const when of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
          await expect(a.append("u", 1, { when })).rejects.toThrow(TypeError);
        }
        await expect(a.append("u", 1, { id: "\ud800" })).rejects.toThrow(TypeError);
        await expect(a.append("u", 1, { with: "\udc00" })).rejects.toThrow(TypeError);
        await expect(a.append("u", 1n as unknown as Json)).rejects.toThrow(TypeError);
        expect(await a.count("u")).toBe(0);
        expect(await a.users()).toEqual([]);
      });

      it("concurrent appends keep call order; concurrent same-id appends leave one item", async () => {
        const a = d.archive("h", "s");
        const got = await Promise.all(Array.from({ length: 30 }, (_, n) => a.append("u", n)));
        expect(ids(await a.find("u"))).toEqual(got);
        await Promise.all(Array.from({ length: 10 }, (_, n) => a.append("v", n, { id: "same" })));
        const v = await a.find("v");
        expect(v).toHaveLength(1);
        expect(v[0].value).toBe(9);
      });

      it("find filters by start/end (inclusive), with and ids", async () => {
        const a = await fixture();
        expect(nums(await a.find("u"))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(nums(await a.find("u", {}))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(nums(await a.find("u", { start: 3000 }))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
        expect(nums(await a.find("u", { start: 3500 }))).toEqual([3, 4, 5, 6, 7, 8, 9]);
        expect(nums(await a.find("u", { end: 3000 }))).toEqual([0, 1, 2]);
        expect(nums(await a.find("u", { end: 2999.5 }))).toEqual([0, 1]);
        expect(nums(await a.find("u", { start: 3000, end: 5000 }))).toEqual([2, 3, 4]);
        expect(nums(await a.find("u", { start: 5000, end: 3000 }))).toEqual([]);
        expect(nums(await a.find("u", { start: -5, end: 1e300 }))).toHaveLength(10);
        expect(nums(await a.find("u", { start: 1e300 }))).toEqual([]);
        expect(nums(await a.find("u", { end: -1 }))).toEqual([]);
        expect(nums(await a.find("u", { with: W }))).toEqual([0, 2, 4, 6, 8]);
        expect(nums(await a.find("u", { with: "nobody@x" }))).toEqual([]);
        expect(nums(await a.find("u", { ids: ["i3", "i1", "nope", "i3"] }))).toEqual([1, 3]);
        expect(nums(await a.find("u", { ids: [] }))).toEqual([]);
        expect(nums(await a.find("u", { ids: ["i1", "i2", "i3", "i4"], with: B, start: 3000 }))).toEqual([3]);
        expect(await a.find("nobody")).toEqual([]);
      });

      it("find pages with after/before/limit/reverse", async () => {
        const a = await fixture();
        expect(nums(await a.find("u", { after: "i6" }))).toEqual([7, 8, 9]);
        expect(nums(await a.find("u", { before: "i2" }))).toEqual([0, 1]);
        expect(nums(await a.find("u", { after: "i2", before: "i6" }))).toEqual([3, 4, 5]);
        expect(nums(await a.find("u", { after: "i6", before: "i2" }))).toEqual([]);
        expect(nums(await a.find("u", { after: "i3", before: "i3" }))).toEqual([]);
        expect(nums(await a.find("u", { after: "i9" }))).toEqual([]);
        expect(nums(await a.find("u", { before: "i0" }))).toEqual([]);
        expect(nums(await a.find("u", { limit: 3 }))).toEqual([0, 1, 2]);
        expect(nums(await a.find("u", { limit: 0 }))).toEqual([]);
        expect(nums(await a.find("u", { limit: 100 }))).toHaveLength(10);
        expect(nums(await a.find("u", { reverse: true }))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        expect(nums(await a.find("u", { reverse: true, limit: 3 }))).toEqual([9, 8, 7]);
        // RSM next page: the first `limit` after.
        expect(nums(await a.find("u", { after: "i2", limit: 3 }))).toEqual([3, 4, 5]);
        // RSM previous page: the LAST `limit` before, in chronological order.
        expect(nums(await a.find("u", { before: "i7", limit: 3 }))).toEqual([4, 5, 6]);
        expect(nums(await a.find("u", { before: "i7", limit: 3, reverse: true }))).toEqual([6, 5, 4]);
        expect(nums(await a.find("u", { before: "i2", limit: 5 }))).toEqual([0, 1]);
        // reverse takes from the newest end whatever the bounds.
        expect(nums(await a.find("u", { after: "i2", limit: 3, reverse: true }))).toEqual([9, 8, 7]);
        expect(nums(await a.find("u", { after: "i1", before: "i8", limit: 2 }))).toEqual([2, 3]);
        expect(nums(await a.find("u", { after: "i1", before: "i8", limit: 2, reverse: true }))).toEqual([7, 6]);
        // Combined with filters: the limit counts matching items only.
        expect(nums(await a.find("u", { with: W, after: "i1", limit: 2 }))).toEqual([2, 4]);
        expect(nums(await a.find("u", { with: B, before: "i7", limit: 2 }))).toEqual([3, 5]);
        expect(nums(await a.find("u", { start: 2000, end: 8000, reverse: true, limit: 2 }))).toEqual([7, 6]);
        expect(nums(await a.find("u", { with: W, start: 3000, before: "i8", limit: 2 }))).toEqual([4, 6]);
        expect(nums(await a.find("u", { ids: ["i1", "i4", "i5", "i8"], before: "i8", limit: 2 }))).toEqual([4, 5]);
        expect(nums(await a.find("u", { ids: ["i1", "i4", "i5", "i8"], after: "i1", limit: 2 }))).toEqual([4, 5]);
        expect(nums(await a.find("u", { ids: ["i1", "i4", "i5", "i8"], reverse: true, limit: 3 }))).toEqual([8, 5, 4]);
        // The bound item may itself be filtered out by `with`.
        expect(nums(await a.find("u", { with: B, after: "i2" }))).toEqual([3, 5, 7, 9]);
      });

      it("an unknown after/before id rejects with code item-not-found", async () => {
        const a = await fixture();
        await fixture("other");
        await a.append("third", 1, { id: "only-here" });
        for (const query of [{ after: "nope" }, { before: "nope" }, { after: "i1", before: "nope" }, { after: "only-here" }]) {
          const err = await rejection(a.find("u", query));
          expect(err).toBeInstanceOf(Error);
          expect((err as { code?: string }).code).toBe("item-not-found");
        }
        const err = await rejection(a.find("nobody", { before: "i1" }));
        expect((err as { code?: string }).code).toBe("item-not-found");
      });

      it("find rejects a bad limit", async () => {
        const a = await fixture();
        await expect(a.find("u", { limit: -1 })).rejects.toThrow(TypeError);
        await expect(a.find("u", { limit: 1.5 })).rejects.toThrow(TypeError);
      });

      it("pages through a whole archive forwards and backwards (RSM)", async () => {
        const a = d.archive("h", "s");
        const all: string[] = [];
        for (let n = 0; n < 25; n++) all.push(await a.append("u", n));
        // Forwards.
        const forward: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = ids(await a.find("u", { after, limit: 10 }));
          if (page.length === 0) break;
          forward.push(page);
          after = page[page.length - 1];
        }
        expect(forward.map((p) => p.length)).toEqual([10, 10, 5]);
        expect(forward.flat()).toEqual(all);
        // Backwards from the last page.
        const last = ids(await a.find("u", { reverse: true, limit: 10 })).reverse();
        expect(last).toEqual(all.slice(15));
        const backward: string[][] = [last];
        let before = last[0];
        for (;;) {
          const page = ids(await a.find("u", { before, limit: 10 }));
          if (page.length === 0) break;
          backward.unshift(page);
          before = page[0];
        }
        expect(backward.map((p) => p.length)).toEqual([5, 10, 10]);
        expect(backward.flat()).toEqual(all);
      });

      it("count counts matching items", async () => {
        const a = await fixture();
        expect(await a.count("u")).toBe(10);
        expect(await a.count("u", {})).toBe(10);
        expect(await a.count("u", { start: 3000, end: 5000 })).toBe(3);
        expect(await a.count("u", { with: B })).toBe(5);
        expect(await a.count("u", { with: W, start: 5000 })).toBe(3);
        expect(await a.count("nobody")).toBe(0);
      });

      it("delete removes matching items and returns how many", async () => {
        const a = await fixture();
        expect(await a.delete("u", { with: W, start: 5000 })).toBe(3);
        expect(nums(await a.find("u"))).toEqual([0, 1, 2, 3, 5, 7, 9]);
        expect(await a.delete("u", { ids: ["i1", "nope", "i4"] })).toBe(1);
        expect(await a.delete("u", { ids: ["i2", "i3", "i5"], end: 3000 })).toBe(1);
        expect(nums(await a.find("u"))).toEqual([0, 3, 5, 7, 9]);
        expect(await a.get("u", "i1")).toBeUndefined();
        expect((await rejection(a.find("u", { after: "i1" })) as { code?: string }).code).toBe("item-not-found");
        expect(await a.delete("u", { start: 6500, end: 7500 })).toBe(0);
        expect(await a.delete("u", { ids: [] })).toBe(0);
        expect(await a.delete("nobody")).toBe(0);
        // A deleted id can be reused.
        await a.append("u", "again", { id: "i1", when: 1 });
        expect(nums(await a.find("u"))).toEqual([1, 0, 3, 5, 7, 9]);
        expect(await a.delete("u")).toBe(6);
        expect(await a.find("u")).toEqual([]);
        expect(await a.users()).toEqual([]);
      });

      it("truncate keeps the newest items", async () => {
        const a = await fixture();
        expect(await a.truncate("u", 100)).toBe(0);
        expect(await a.truncate("u", 10)).toBe(0);
        expect(await a.truncate("u", 3)).toBe(7);
        expect(nums(await a.find("u"))).toEqual([7, 8, 9]);
        expect(await a.get("u", "i0")).toBeUndefined();
        expect((await rejection(a.find("u", { before: "i6" })) as { code?: string }).code).toBe("item-not-found");
        await a.append("u", 1, { id: "i0" });
        expect(await a.count("u")).toBe(4);
        expect(await a.truncate("u", 0)).toBe(4);
        expect(await a.users()).toEqual([]);
        expect(await a.truncate("nobody", 0)).toBe(0);
        await expect(a.truncate("u", -1)).rejects.toThrow(TypeError);
      });

      it("append with keep trims the oldest items in the same write", async () => {
        const a = await fixture();
        await a.append("u", "n", { id: "new", when: 20000, keep: 4 });
        expect(ids(await a.find("u"))).toEqual(["i7", "i8", "i9", "new"]);
        expect(await a.count("u")).toBe(4);
        expect(await a.get("u", "i6")).toBeUndefined();
        // Replacing an existing id: it moves to the end, the count does not grow.
        await a.append("u", "again", { id: "i8", when: 30000, keep: 4 });
        expect(ids(await a.find("u"))).toEqual(["i7", "i9", "new", "i8"]);
        // Replacing the oldest item itself while full.
        await a.append("u", "oldest", { id: "i7", when: 40000, keep: 4 });
        expect(ids(await a.find("u"))).toEqual(["i9", "new", "i8", "i7"]);
        // A new item older than all that remain is itself the one trimmed.
        await a.append("u", "late", { id: "late", when: 1, keep: 4 });
        expect(ids(await a.find("u"))).toEqual(["i9", "new", "i8", "i7"]);
        expect(await a.get("u", "late")).toBeUndefined();
        // With room to spare, an older item is placed chronologically and kept.
        await a.append("u", "early", { id: "early", when: 2, keep: 5 });
        expect(ids(await a.find("u"))).toEqual(["early", "i9", "new", "i8", "i7"]);
        expect(await a.count("u")).toBe(5);
        expect(await a.find("u", { limit: 2 })).toMatchObject([{ id: "early" }, { id: "i9" }]);
        await a.append("u", "x", { id: "y", keep: 1 });
        expect(ids(await a.find("u"))).toEqual(["y"]);
        for (const keep of [0, -1, 1.5, "2"]) {
          await expect(a.append("u", 1, { id: "z", keep: keep as number })).rejects.toThrow(TypeError);
        }
        expect(ids(await a.find("u"))).toEqual(["y"]);
      });

      it("appendMany is the same as appending one by one with keep, in one all-or-nothing write", async () => {
        const a = d.archive("h", "s");
        let seed = 7;
        const rand = (n: number) => {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          return seed % n;
        };
        for (let round = 0; round < 40; round++) {
          const keep = 1 + rand(6);
          const entries = Array.from({ length: 1 + rand(6) }, () => {
            const options: { id: string; when: number } = { id: `x${rand(8)}`, when: 1000 + rand(5) * (rand(3) === 0 ? 1 : 100) };
            return { value: { round, v: rand(1000) }, options };
          });
          const got = await a.appendMany("many", entries, { keep });
          expect(got).toEqual(entries.map((e) => e.options.id));
          for (const e of entries) await a.append("one", e.value, { ...e.options, keep });
          const [many, one] = [await a.find("many"), await a.find("one")];
          expect(many, `round ${round}`).toEqual(one);
          expect(await a.count("many")).toBe(many.length);
        }
        expect(await a.appendMany("many", [])).toEqual([]);
        const before = await a.find("many");
        await expect(a.appendMany("many", [{ value: 1, options: { id: "ok" } }, { value: 2, options: { when: -1 } }])).rejects.toThrow(TypeError);
        await expect(a.appendMany("many", [{ value: 1 }], { keep: 0 })).rejects.toThrow(TypeError);
        expect(await a.find("many")).toEqual(before);
        const generated = await a.appendMany("fresh", [{ value: 1 }, { value: 2 }, { value: 3 }], { keep: 2 });
        expect(new Set(generated).size).toBe(3);
        expect(ids(await a.find("fresh"))).toEqual(generated.slice(1));
      });

      it("count stays exact through appends, replacements, deletes, truncation and purges", async () => {
        const a = d.archive("h", "s");
        const check = async (user: string) => expect(await a.count(user)).toBe((await a.find(user)).length);
        for (let n = 0; n < 30; n++) await a.append("u", n, { id: `k${n % 20}`, when: 1000 + n, keep: n < 25 ? 100 : 12 });
        await check("u");
        expect(await a.count("u")).toBe(12);
        await a.delete("u", { ids: ["k19", "k18", "absent"] });
        await check("u");
        await a.delete("u", { end: (await a.find("u", { limit: 1 }))[0].when });
        await check("u");
        expect(await a.truncate("u", 5)).toBeGreaterThan(0);
        expect(await a.count("u")).toBe(5);
        await check("u");
        // Many trims in a row, then reads from the start and an item older than everything.
        for (let n = 0; n < 200; n++) await a.append("u", n, { id: `m${n}`, when: 2000 + n, keep: 3 });
        expect(ids(await a.find("u"))).toEqual(["m197", "m198", "m199"]);
        await a.append("u", "old", { id: "old", when: 5 });
        expect(ids(await a.find("u", { limit: 2 }))).toEqual(["old", "m197"]);
        expect(await a.count("u", { end: 10 })).toBe(1);
        await check("u");
        await d.purgeUser("h", "u");
        expect(await a.count("u")).toBe(0);
        await a.append("u", 1);
        expect(await a.count("u")).toBe(1);
        await d.clearAll();
        expect(await a.count("u")).toBe(0);
        await a.append("u", 1, { keep: 1 });
        expect(await a.count("u")).toBe(1);
      });

      it("users lists users with items", async () => {
        const a = d.archive("h", "s");
        for (const u of ["b", "", "a\x00", "a", "é"]) {
          await a.append(u, 1);
          await a.append(u, 2);
        }
        expect(await a.users()).toEqual(codePointSort(["b", "", "a\x00", "a", "é"]));
        await a.delete("a");
        expect(await a.users()).toEqual(codePointSort(["b", "", "a\x00", "é"]));
      });

      it("deep-copies on the way in and out", async () => {
        const a = d.archive<{ list: number[] }>("h", "s");
        const obj = { list: [1] };
        await a.append("u", obj, { id: "x" });
        obj.list.push(2);
        const found = await a.find("u");
        expect(found[0].value).toEqual({ list: [1] });
        found[0].value.list.push(3);
        found[0].id = "changed";
        const got = await a.get("u", "x");
        expect(got!.value).toEqual({ list: [1] });
        got!.value.list.push(4);
        expect((await a.find("u"))[0]).toEqual({ id: "x", when: got!.when, value: { list: [1] } });
      });
    });

    describe("isolation", () => {
      const hosts = ["a", "a/b", "", "a\x00b", "é"];
      const stores = ["b", "c", "b/c", "", "\x01", "a/b"];
      const users = TRICKY_NAMES;

      it("hosts, stores, users and kinds with similar names never see each other's data", async () => {
        const writes: Promise<unknown>[] = [];
        for (const h of hosts) {
          for (const s of stores) {
            for (const u of users) {
              writes.push(d.keyval(h, s).set(u, ["kv", h, s, u]));
              writes.push(d.map(h, s).set(u, u, ["map", h, s, u]));
              writes.push(d.archive(h, s).append(u, ["ar", h, s, u], { id: u, with: h }));
            }
          }
        }
        await Promise.all(writes);
        const sortedUsers = codePointSort(users);
        for (const h of hosts) {
          for (const s of stores) {
            const kv = d.keyval(h, s);
            const m = d.map(h, s);
            const a = d.archive(h, s);
            expect(await kv.users()).toEqual(sortedUsers);
            expect(await m.users()).toEqual(sortedUsers);
            expect(await a.users()).toEqual(sortedUsers);
            for (const u of users) {
              expect(await kv.get(u)).toEqual(["kv", h, s, u]);
              expect(await m.getAll(u)).toEqual(new Map([[u, ["map", h, s, u]]]));
              expect(await a.find(u)).toEqual([{ id: u, when: expect.any(Number), with: h, value: ["ar", h, s, u] }]);
            }
          }
        }
      });

      it("deleting one user's data leaves similarly named users alone", async () => {
        const m = d.map("h", "s");
        const a = d.archive("h", "s");
        for (const u of users) {
          await m.set(u, "k", u);
          await a.append(u, u, { id: "x" });
        }
        await m.clear("a");
        await a.delete("a");
        await a.truncate("a\x00", 0);
        const rest = users.filter((u) => u !== "a");
        expect(await m.users()).toEqual(codePointSort(rest));
        expect(await a.users()).toEqual(codePointSort(rest.filter((u) => u !== "a\x00")));
        for (const u of rest) expect(await m.get(u, "k")).toBe(u);
      });
    });

    describe("purgeUser and clearAll", () => {
      async function populate(host: string, user: string) {
        await d.keyval(host, "accounts").set(user, { pw: user });
        await d.keyval(host, "vcard").set(user, "card");
        await d.map(host, "roster").set(user, "friend@x", { sub: "both" });
        await d.archive(host, "mam").append(user, "msg");
        await d.archive(host, "pubsub").append(user, "item", { id: "i" });
      }

      async function hasData(host: string, user: string): Promise<boolean[]> {
        return [
          (await d.keyval(host, "accounts").get(user)) !== undefined,
          (await d.keyval(host, "vcard").get(user)) !== undefined,
          (await d.map(host, "roster").getAll(user)).size > 0,
          (await d.archive(host, "mam").count(user)) > 0,
          (await d.archive(host, "pubsub").count(user)) > 0,
        ];
      }

      it("removes every store of one user on one host only", async () => {
        for (const h of ["h1", "h2", "h1/x"]) for (const u of ["alice", "bob", "", "alice\x00", "alice/x"]) await populate(h, u);
        await d.purgeUser("h1", "alice");
        expect(await hasData("h1", "alice")).toEqual([false, false, false, false, false]);
        for (const [h, u] of [
          ["h1", "bob"],
          ["h1", ""],
          ["h1", "alice\x00"],
          ["h1", "alice/x"],
          ["h2", "alice"],
          ["h1/x", "alice"],
        ]) {
          expect(await hasData(h, u)).toEqual([true, true, true, true, true]);
        }
        expect(await d.keyval("h1", "accounts").users()).not.toContain("alice");
        expect(await d.archive("h1", "pubsub").users()).not.toContain("alice");
        // The id index went too.
        expect((await rejection(d.archive("h1", "pubsub").find("alice", { after: "i" })) as { code?: string }).code).toBe(
          "item-not-found",
        );
        expect(await d.archive("h1", "pubsub").get("alice", "i")).toBeUndefined();
        await d.archive("h1", "pubsub").append("alice", "new", { id: "i" });
        expect(await d.archive("h1", "pubsub").find("alice")).toMatchObject([{ id: "i", value: "new" }]);
        await d.purgeUser("h1", "");
        expect(await hasData("h1", "")).toEqual([false, false, false, false, false]);
        expect(await hasData("h1", "bob")).toEqual([true, true, true, true, true]);
        await d.purgeUser("nohost", "alice");
        await d.purgeUser("h1", "nobody");
      });

      it("clearAll removes everything and the driver stays usable", async () => {
        await populate("h1", "alice");
        await populate("h2", "bob");
        await d.clearAll();
        expect(await hasData("h1", "alice")).toEqual([false, false, false, false, false]);
        expect(await hasData("h2", "bob")).toEqual([false, false, false, false, false]);
        expect(await d.keyval("h1", "accounts").users()).toEqual([]);
        await populate("h1", "alice");
        expect(await hasData("h1", "alice")).toEqual([true, true, true, true, true]);
        await d.purgeUser("h1", "alice");
        expect(await hasData("h1", "alice")).toEqual([false, false, false, false, false]);
      });
    });

    describe("upgradeValues", () => {
      const double = (v: Json): Json => (typeof v === "number" ? v * 2 : v);

      it("rewrites every value of one store in place once, then records the version", async () => {
        await d.keyval("h", "s").set("a", 1);
        await d.keyval("h", "s").set("b", "x");
        await d.keyval("h", "other").set("a", 1);
        await d.keyval("h2", "s").set("a", 1);
        await d.map("h", "s").setMany("a", [
          ["k1", 1],
          ["k2", 2],
        ]);
        const arch = d.archive("h", "s");
        await arch.append("a", 1, { id: "one", when: 5, with: "w@x" });
        await arch.append("a", 2, { id: "two", when: 5 });
        await arch.append("a", 3, { id: "three", when: 3 });

        expect(await d.upgradeValues("h", "keyval", "s", 1, double)).toBe(1);
        expect(await d.keyval("h", "s").get("a")).toBe(2);
        expect(await d.keyval("h", "s").get("b")).toBe("x");
        expect(await d.keyval("h", "other").get("a")).toBe(1);
        expect(await d.keyval("h2", "s").get("a")).toBe(1);
        expect(await d.map("h", "s").get("a", "k1")).toBe(1); // another kind, another store
        // Recorded: the same version again changes nothing; a later one runs.
        expect(await d.upgradeValues("h", "keyval", "s", 1, double)).toBe(0);
        expect(await d.keyval("h", "s").get("a")).toBe(2);
        expect(await d.upgradeValues("h", "keyval", "s", 2, double)).toBe(1);
        expect(await d.keyval("h", "s").get("a")).toBe(4);

        expect(await d.upgradeValues("h", "map", "s", 1, double)).toBe(2);
        expect([...(await d.map("h", "s").getAll("a"))]).toEqual([
          ["k1", 2],
          ["k2", 4],
        ]);

        // Archive items keep their ids, when, with and order.
        expect(await d.upgradeValues("h", "archive", "s", 1, double)).toBe(3);
        expect(await arch.find("a")).toEqual([
          { id: "three", when: 3, value: 6 },
          { id: "one", when: 5, with: "w@x", value: 2 },
          { id: "two", when: 5, value: 4 },
        ]);
        expect(await arch.find("a", { after: "one" })).toMatchObject([{ id: "two" }]);
        expect(await arch.count("a")).toBe(3);
        expect(await d.upgradeValues("h", "archive", "s", 1, double)).toBe(0);
        expect(await d.upgradeValues("h", "archive", "empty", 1, double)).toBe(0);
      });
    });

    describe("lifecycle", () => {
      it("rejects operations after close and works again after open, keeping data", async () => {
        const kv = d.keyval("h", "s");
        await kv.set("u", 1);
        await d.close();
        await expect(kv.get("u")).rejects.toThrow();
        await expect(kv.set("u", 2)).rejects.toThrow();
        await expect(d.archive("h", "s").append("u", 1)).rejects.toThrow();
        await d.open();
        expect(await kv.get("u")).toBe(1);
      });

      it("open is idempotent", async () => {
        await d.open();
        await d.keyval("h", "s").set("u", 1);
        expect(await d.keyval("h", "s").get("u")).toBe(1);
      });

      it("has a name", () => {
        expect(typeof d.name).toBe("string");
        expect(d.name.length).toBeGreaterThan(0);
      });
    });
  });
}
