import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { afterAll, describe, expect, it } from "vitest";
import { createStorage } from "../../src/storage/index.js";
import { LevelStorage, decodeComponent, encodeComponent } from "../../src/storage/leveldb.js";
import { MemoryStorage, compareKeys } from "../../src/storage/memory.js";
import { TRICKY_NAMES, codePointSort, storageContract } from "./contract.js";

const root = mkdtempSync(join(tmpdir(), "herald-leveldb-test-"));
let counter = 0;
const freshPath = () => join(root, `db${++counter}`);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

storageContract("leveldb", async () => new LevelStorage(freshPath()));

describe("leveldb driver", () => {
  it("createStorage maps 'internal' and 'leveldb' to LevelDB and needs a path", async () => {
    for (const kind of ["internal", "leveldb"] as const) {
      const d = createStorage(kind, { path: freshPath() });
      expect(d).toBeInstanceOf(LevelStorage);
      expect(d.name).toBe("leveldb");
      await d.open();
      await d.close();
      expect(() => createStorage(kind, {})).toThrow(/path/);
    }
  });

  it("keeps everything across close and reopen", async () => {
    const path = freshPath();
    const one = new LevelStorage(path);
    await one.open();
    await one.keyval("h", "accounts").set("alice", { pw: "x" });
    await one.map("h", "roster").setMany("alice", [
      ["bob@h", { sub: "both" }],
      ["carol@h", { sub: "to" }],
    ]);
    const a = one.archive("h", "mam");
    await a.append("alice", "m1", { id: "m1", when: 1000, with: "bob@h" });
    await a.append("alice", "m2", { id: "m2", when: 2000 });
    await a.append("alice", "m3", { id: "m3", when: 2000 });
    const generated = await a.append("alice", "m4");
    await one.close();

    const two = new LevelStorage(path);
    await two.open();
    expect(await two.keyval("h", "accounts").get("alice")).toEqual({ pw: "x" });
    expect(await two.keyval("h", "accounts").users()).toEqual(["alice"]);
    expect([...(await two.map("h", "roster").getAll("alice")).keys()]).toEqual(["bob@h", "carol@h"]);
    const b = two.archive("h", "mam");
    expect((await b.find("alice")).map((i) => i.id)).toEqual(["m1", "m2", "m3", generated]);
    expect(await b.get("alice", "m1")).toEqual({ id: "m1", when: 1000, with: "bob@h", value: "m1" });
    expect((await b.find("alice", { after: "m1", limit: 1 })).map((i) => i.id)).toEqual(["m2"]);
    // Sequence numbers continue after a reopen: a new item with an existing `when` goes after it.
    await b.append("alice", "m5", { id: "m5", when: 2000 });
    expect((await b.find("alice")).map((i) => i.id)).toEqual(["m1", "m2", "m3", "m5", generated]);
    // Replacing by id still works (the id index is on disk).
    await b.append("alice", "m1 again", { id: "m1" });
    expect((await b.find("alice")).map((i) => i.id)).toEqual(["m2", "m3", "m5", generated, "m1"]);
    // purgeUser finds the stores written before the reopen.
    await two.purgeUser("h", "alice");
    expect(await two.keyval("h", "accounts").get("alice")).toBeUndefined();
    expect((await two.map("h", "roster").getAll("alice")).size).toBe(0);
    expect(await b.count("alice")).toBe(0);
    await two.close();
  });

  it("clearAll survives a reopen", async () => {
    const path = freshPath();
    const one = new LevelStorage(path);
    await one.open();
    await one.keyval("h", "s").set("u", 1);
    await one.clearAll();
    await one.close();
    const two = new LevelStorage(path);
    await two.open();
    expect(await two.keyval("h", "s").get("u")).toBeUndefined();
    await two.keyval("h", "s").set("u", 2);
    await two.close();
  });

  it("close waits for writes in progress", async () => {
    const path = freshPath();
    const one = new LevelStorage(path);
    await one.open();
    const a = one.archive("h", "s");
    const writes = Array.from({ length: 50 }, (_, n) => a.append("u", n, { id: `x${n}` }));
    await one.close();
    await Promise.all(writes);
    const two = new LevelStorage(path);
    await two.open();
    expect(await two.archive("h", "s").count("u")).toBe(50);
    await two.close();
  });

  it("can be used before open() resolves", async () => {
    const d = new LevelStorage(freshPath());
    await d.keyval("h", "s").set("u", 1);
    await d.open();
    expect(await d.keyval("h", "s").get("u")).toBe(1);
    await d.close();
  });

  it("refuses a second process/instance on the same directory", async () => {
    const path = freshPath();
    const one = new LevelStorage(path);
    await one.open();
    const two = new LevelStorage(path);
    await expect(two.open()).rejects.toThrow();
    await one.close();
  });

  it("refuses a database with another key format", async () => {
    const path = freshPath();
    const raw = new Level<string, string>(path);
    await raw.open();
    await raw.put("Vformat", "999");
    await raw.close();
    const d = new LevelStorage(path);
    await expect(d.open()).rejects.toThrow(/format/);
  });

  it("migrates a format 1 database: archive counters are added, everything reads as before", async () => {
    // Keys exactly as format 1 wrote them (KEYS.md before the C keys): data, id index, registry.
    const path = freshPath();
    const raw = new Level<string, string>(path);
    await raw.open();
    const c = encodeComponent;
    const ops: Array<{ type: "put"; key: string; value: string }> = [{ type: "put", key: "Vformat", value: "1" }];
    const item = (host: string, store: string, user: string, id: string, when: number, seq: number) => {
      const suffix = `${String(when).padStart(16, "0")}-${String(seq).padStart(10, "0")}`;
      ops.push({ type: "put", key: `A${c(host)}${c(store)}${c(user)}${suffix}`, value: JSON.stringify({ id, when, value: { id } }) });
      ops.push({ type: "put", key: `I${c(host)}${c(store)}${c(user)}${c(id)}`, value: suffix });
    };
    for (let n = 0; n < 250; n++) item("pubsub.h", "pubsub_items", "node", `n${n}`, 1000 + n, 0);
    for (let n = 0; n < 3; n++) item("pubsub.h", "pubsub_items", "node\x00", `x${n}`, 5000, n);
    item("h", "mam", "", "only", 7, 0);
    ops.push({ type: "put", key: `S${c("pubsub.h")}A${c("pubsub_items")}`, value: "" }, { type: "put", key: `S${c("h")}A${c("mam")}`, value: "" });
    await raw.batch(ops);
    await raw.close();

    const d = new LevelStorage(path);
    await d.open();
    const a = d.archive("pubsub.h", "pubsub_items");
    expect(await a.count("node")).toBe(250);
    expect(await a.count("node\x00")).toBe(3);
    expect(await d.archive("h", "mam").count("")).toBe(1);
    expect(await a.truncate("node", 100)).toBe(150);
    expect((await a.find("node", { limit: 1 }))[0].id).toBe("n150");
    await a.append("node", "new", { id: "new", keep: 100 });
    expect(await a.count("node")).toBe(100);
    expect((await a.find("node", { limit: 1 }))[0].id).toBe("n151");
    expect((await a.find("node\x00")).map((i) => i.id)).toEqual(["x0", "x1", "x2"]);
    await d.close();

    const check = new Level<string, string>(path);
    await check.open();
    expect(await check.get("Vformat")).toBe("2");
    expect(await check.get(`C${c("pubsub.h")}${c("pubsub_items")}${c("node")}`)).toBe("100");
    await check.close();
    const again = new LevelStorage(path);
    await again.open();
    expect(await again.archive("pubsub.h", "pubsub_items").count("node")).toBe(100);
    await again.close();
  });

  it("group commit: concurrent writes share synced batches, each stays atomic and durable", async () => {
    const path = freshPath();
    const one = new LevelStorage(path);
    await one.open();
    const kv = one.keyval("h", "kv");
    const map = one.map("h", "map");
    const arch = one.archive("h", "arch");
    const before = { ...one.commitStats };
    const writes: Array<Promise<unknown>> = [];
    for (let n = 0; n < 200; n++) {
      writes.push(kv.set(`u${n}`, n));
      writes.push(map.setMany("u", [[`a${n}`, n], [`b${n}`, n]]));
      writes.push(arch.append(`node${n % 5}`, n, { id: `i${n}`, keep: 30 }));
    }
    await Promise.all(writes);
    const batches = one.commitStats.batches - before.batches;
    expect(one.commitStats.writes - before.writes).toBeGreaterThanOrEqual(600);
    expect(batches).toBeLessThan(600);
    expect(batches).toBeGreaterThan(0);
    await one.close();

    const two = new LevelStorage(path);
    await two.open();
    expect(await two.keyval("h", "kv").users()).toHaveLength(200);
    expect((await two.map("h", "map").getAll("u")).size).toBe(400);
    for (let k = 0; k < 5; k++) {
      const a = two.archive("h", "arch");
      expect(await a.count(`node${k}`)).toBe(30);
      expect((await a.find(`node${k}`)).map((i) => i.id)).toEqual(Array.from({ length: 30 }, (_, j) => `i${50 + k + 5 * j}`));
    }
    await two.close();
  });

  it("compacts a user's trimmed range after many trims; the archive reads the same before and after", async () => {
    const d = new LevelStorage(freshPath());
    await d.open();
    const a = d.archive("h", "busy");
    await a.append("other", "x", { id: "o", when: 1 });
    let n = 0;
    for (let round = 0; round < 45; round++) {
      await a.appendMany("node", Array.from({ length: 500 }, () => ({ value: n, options: { id: `i${n++}`, when: 1000 + n } })), { keep: 10 });
    }
    await d.close(); // waits for the background compaction
    expect(d.commitStats.compactions).toBeGreaterThan(0);
    const again = new LevelStorage(d.path);
    await again.open();
    const b = again.archive("h", "busy");
    expect((await b.find("node")).map((i) => i.id)).toEqual(Array.from({ length: 10 }, (_, k) => `i${n - 10 + k}`));
    expect(await b.count("node")).toBe(10);
    expect(await b.get("node", "i0")).toBeUndefined();
    expect((await b.find("other")).map((i) => i.id)).toEqual(["o"]);
    await again.close();
  });

  it("trimming at keep reads ahead of the oldest items and stays exact through deletes, replacements and past-dated appends", async () => {
    // The same random sequence on the memory driver (the reference) and on LevelDB, whose trims take
    // the oldest items from a read-ahead head that every other write must keep right.
    const ref = new MemoryStorage();
    const lvl = new LevelStorage(freshPath(), { sync: false });
    await Promise.all([ref.open(), lvl.open()]);
    const [ra, la] = [ref.archive("h", "s"), lvl.archive("h", "s")];
    let seed = 11;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    let when = 10_000;
    for (let step = 0; step < 1500; step++) {
      const op = rand(40);
      const user = `u${rand(2)}`;
      if (op < 34) {
        const entries = Array.from({ length: 1 + rand(3) }, () => ({
          value: step,
          // mostly new ids at later times; sometimes an id again (a replacement) or a time in the past
          options: { id: rand(4) === 0 ? `r${rand(12)}` : `n${step}-${rand(1e6)}`, when: rand(10) === 0 ? when - 1 - rand(5000) : (when += 1 + rand(3)) },
        }));
        const keep = 8 + rand(4);
        await Promise.all([ra.appendMany(user, entries, { keep }), la.appendMany(user, entries, { keep })]);
      } else if (op < 37) {
        const items = await ra.find(user);
        if (items.length === 0) continue;
        // often the oldest items: those a trim would take next
        const ids = rand(2) === 0 ? [items[0].id] : [items[rand(items.length)].id, items[rand(items.length)].id];
        await Promise.all([ra.delete(user, { ids }), la.delete(user, { ids })]);
      } else if (op === 37) {
        const keep = 3 + rand(10);
        await Promise.all([ra.truncate(user, keep), la.truncate(user, keep)]);
      } else if (op === 38) {
        if (rand(5) === 0) await Promise.all([ref.purgeUser("h", user), lvl.purgeUser("h", user)]);
      } else {
        const end = when - rand(3000);
        await Promise.all([ra.delete(user, { end }), la.delete(user, { end })]);
      }
      for (const u of ["u0", "u1"]) {
        const [want, got] = [await ra.find(u), await la.find(u)];
        expect(got.map((i) => i.id), `step ${step}, ${u}`).toEqual(want.map((i) => i.id));
        expect(await la.count(u)).toBe(want.length);
      }
    }
    await Promise.all([ref.close(), lvl.close()]);
  });

  describe("key components", () => {
    const random = (n: number) => {
      const alphabet = ["\x00", "\x01", "\x02", "a", "b", "/", "é", "\uffff", "😀", "\u0080"];
      let s = "";
      const len = Math.floor(Math.random() * n);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
      return s;
    };
    const bytes = (s: string) => Buffer.from(s, "utf8");

    it("round-trip and never contain a NUL except the terminator", () => {
      for (const s of [...TRICKY_NAMES, ...Array.from({ length: 500 }, () => random(8))]) {
        const e = encodeComponent(s);
        expect(e.indexOf("\x00")).toBe(e.length - 1);
        expect(decodeComponent("pre" + e + "post", 3)).toEqual([s, 3 + e.length]);
      }
    });

    it("preserve code point order, also as a prefix of longer keys", () => {
      for (let i = 0; i < 2000; i++) {
        const a = random(6);
        const b = random(6);
        const expected = Math.sign(Buffer.compare(bytes(a), bytes(b)));
        expect(Math.sign(compareKeys(a, b))).toBe(expected);
        const ka = encodeComponent(a) + random(3);
        const kb = encodeComponent(b) + random(3);
        if (a !== b) expect(Math.sign(Buffer.compare(bytes(ka), bytes(kb)))).toBe(expected);
      }
      expect(codePointSort(["\uff21", "😀", "\x00", ""])).toEqual(["", "\x00", "\uff21", "😀"]);
    });
  });
});
