// Storage benchmark: npx vitest bench --run test/bench/storage.bench.ts
// Prints ops/s (hz) for keyval set/get, archive append (synced, one at a time and 16 concurrent)
// and archive find, for the LevelDB driver (synced and, for comparison, unsynced) and memory.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { LevelStorage } from "../../src/storage/leveldb.js";
import { MemoryStorage } from "../../src/storage/memory.js";
import type { StorageDriver } from "../../src/storage/types.js";

const root = mkdtempSync(join(tmpdir(), "herald-storage-bench-"));
const synced = new LevelStorage(join(root, "sync"));
const unsynced = new LevelStorage(join(root, "nosync"), { sync: false });
const memory = new MemoryStorage();
const drivers: Array<[string, StorageDriver]> = [
  ["leveldb sync", synced],
  ["leveldb nosync", unsynced],
  ["memory", memory],
];

const ITEMS = 10_000;
const value = { xml: "<item id='x'><entry xmlns='http://www.w3.org/2005/Atom'><title>Hello</title></entry></item>", n: 0 };

// Populate a big archive per driver for the find benchmarks (unsynced batches would be faster, but
// this also exercises concurrent synced appends).
for (const [, d] of drivers) {
  await d.open();
  const a = d.archive("bench.example", "big");
  for (let start = 0; start < ITEMS; start += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, k) =>
        a.append("node", { ...value, n: start + k }, { id: `item${start + k}`, with: (start + k) % 10 === 0 ? "x@h" : "y@h" }),
      ),
    );
  }
  await d.keyval("bench.example", "kv").set("user", value);
}

afterAll(async () => {
  for (const [, d] of drivers) await d.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const opts = { time: 1500, warmupTime: 200 };

describe("keyval set", () => {
  for (const [name, d] of drivers) {
    const kv = d.keyval("bench.example", "kv");
    bench(name, async () => {
      await kv.set(`u${n++ % 1000}`, value);
    }, opts);
  }
});

describe("keyval get", () => {
  for (const [name, d] of drivers) {
    const kv = d.keyval("bench.example", "kv");
    bench(name, async () => {
      await kv.get("user");
    }, opts);
  }
});

describe("archive append (one at a time)", () => {
  for (const [name, d] of drivers) {
    const a = d.archive("bench.example", "log");
    bench(name, async () => {
      await a.append(`user${n++ % 10}`, value);
    }, opts);
  }
});

describe("archive append x16 concurrent (ops/s = hz * 16)", () => {
  for (const [name, d] of drivers) {
    const a = d.archive("bench.example", "log16");
    bench(name, async () => {
      await Promise.all(Array.from({ length: 16 }, (_, k) => a.append(`user${k}`, value)));
    }, opts);
  }
});

describe("archive append, same id replaced (pubsub republish)", () => {
  for (const [name, d] of drivers) {
    const a = d.archive("bench.example", "replace");
    bench(name, async () => {
      await a.append("node", value, { id: `i${n++ % 50}` });
    }, opts);
  }
});

describe(`archive find in ${ITEMS} items`, () => {
  for (const [name, d] of drivers) {
    const a = d.archive("bench.example", "big");
    bench(`${name}: after id, limit 20`, async () => {
      await a.find("node", { after: `item${n++ % (ITEMS - 100)}`, limit: 20 });
    }, opts);
    bench(`${name}: before id, limit 20 (previous page)`, async () => {
      await a.find("node", { before: `item${100 + (n++ % (ITEMS - 100))}`, limit: 20 });
    }, opts);
    bench(`${name}: newest 20 (reverse)`, async () => {
      await a.find("node", { reverse: true, limit: 20 });
    }, opts);
    bench(`${name}: with filter, limit 20`, async () => {
      await a.find("node", { with: "x@h", limit: 20 });
    }, opts);
    bench(`${name}: get by id`, async () => {
      await a.get("node", `item${n++ % ITEMS}`);
    }, opts);
  }
});
