// Group commit keeps the durability promise: a write whose promise resolved is in the database after
// the process that made it is killed with SIGKILL in the middle of a write storm. A child process
// (the built driver, dist/) writes from many concurrent loops and reports each write on stdout only
// after its promise resolved; the test kills it and reopens the database.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { LevelStorage } from "../../src/storage/leveldb.js";

const DRIVER = fileURLToPath(new URL("../../dist/src/storage/leveldb.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "herald-kill-test-"));

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The child: 48 loops of keyval sets and archive appends (trimmed to 50 per node), acks on stdout. */
const CHILD = `
const { LevelStorage } = await import(process.env.DRIVER_URL);
const d = new LevelStorage(process.env.DB_PATH);
await d.open();
const kv = d.keyval("h", "kv");
const arch = d.archive("h", "items");
process.stdout.write("open\\n");
let n = 0;
await Promise.all(Array.from({ length: 48 }, async (_, loop) => {
  for (;;) {
    const k = n++;
    if (loop % 2 === 0) {
      await kv.set("k" + k, { k });
      process.stdout.write("kv " + k + "\\n");
    } else {
      await arch.append("node" + (k % 4), { k }, { id: "i" + k, keep: 50 });
      process.stdout.write("item " + (k % 4) + " " + k + "\\n");
    }
  }
}));
`;

describe("group commit under SIGKILL", () => {
  it("every write whose promise resolved is in the database after kill -9", async () => {
    if (!existsSync(DRIVER)) throw new Error("run `npm run build` first (the child process uses dist/)");
    const path = join(root, "db");
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
      env: { ...process.env, DRIVER_URL: new URL(`file://${DRIVER}`).href, DB_PATH: path },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const acked: string[] = [];
    let text = "";
    let started = false;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${acked.length} writes acknowledged in 60 s`)), 60_000);
      child.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
      child.stdout!.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        const lines = text.split("\n");
        text = lines.pop()!;
        for (const line of lines) {
          if (line === "open") started = true;
          else acked.push(line);
        }
        // Kill mid-storm, once plenty of writes have been acknowledged and more are in flight.
        if (started && acked.length >= 3000) {
          clearTimeout(timer);
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    await exited;
    // Lines that arrived between the kill and the exit are acknowledged too.
    for (const line of text.split("\n")) if (line !== "" && line !== "open") acked.push(line);

    const d = new LevelStorage(path);
    await d.open();
    try {
      const kv = d.keyval("h", "kv");
      const arch = d.archive("h", "items");
      const newestAcked = new Map<number, number[]>();
      let kvCount = 0;
      for (const line of acked) {
        const [kind, a, b] = line.split(" ");
        if (kind === "kv") {
          kvCount++;
          expect(await kv.get(`k${a}`), `acknowledged set k${a}`).toEqual({ k: Number(a) });
        } else {
          const list = newestAcked.get(Number(a)) ?? [];
          list.push(Number(b));
          newestAcked.set(Number(a), list);
        }
      }
      expect(kvCount).toBeGreaterThan(100);
      // Appends to one node are serialised, so acknowledged ones are in order: the newest 50
      // acknowledged items of each node are present unless a newer (unacknowledged, but written)
      // item pushed them out; either way the node holds 50 items and the count agrees.
      for (const [node, list] of newestAcked) {
        const stored = (await arch.find(`node${node}`)).map((i) => Number(i.id.slice(1)));
        expect(await arch.count(`node${node}`)).toBe(stored.length);
        const newest = list[list.length - 1];
        expect(stored, `node${node} has its newest acknowledged item i${newest}`).toContain(newest);
        const olderKept = stored.filter((k) => k <= newest);
        // Every acknowledged item newer than the oldest one kept is still there.
        for (const k of list) if (k >= olderKept[0]) expect(stored).toContain(k);
        expect(stored.length).toBe(50);
      }
    } finally {
      await d.close();
    }
  }, 90_000);
});
