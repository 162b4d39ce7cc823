import { describe, expect, it } from "vitest";
import { KeyedLock } from "./keyed-lock.js";

const tick = () => new Promise<void>((r) => setTimeout(r, 5));

describe("KeyedLock", () => {
  it("runs tasks for one key one after another, in order", async () => {
    const lock = new KeyedLock<string>();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([lock.run("k", task("1")), lock.run("k", task("2")), lock.run("k", task("3"))]);
    expect(results).toEqual(["1", "2", "3"]);
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("runs tasks for different keys concurrently", async () => {
    const lock = new KeyedLock<string>();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = lock.run("a", async () => {
      log.push("a start");
      await gate;
      log.push("a end");
    });
    const b = lock.run("b", async () => {
      log.push("b");
    });
    await b;
    expect(log).toEqual(["a start", "b"]);
    release();
    await a;
    expect(log).toEqual(["a start", "b", "a end"]);
  });

  it("a failing task rejects its own caller only and does not stop the queue", async () => {
    const lock = new KeyedLock<string>();
    const first = lock.run("k", async () => {
      await tick();
      throw new Error("boom");
    });
    const second = lock.run("k", () => 42);
    await expect(first).rejects.toThrow("boom");
    await expect(second).resolves.toBe(42);
  });

  it("forgets idle keys", async () => {
    const lock = new KeyedLock<string>();
    const p = lock.run("k", tick);
    expect(lock.busy("k")).toBe(true);
    expect(lock.size).toBe(1);
    await p;
    await tick();
    expect(lock.busy("k")).toBe(false);
    expect(lock.size).toBe(0);
  });

  it("a synchronous throw becomes a rejection", async () => {
    const lock = new KeyedLock<string>();
    await expect(
      lock.run("k", () => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    await expect(lock.run("k", () => "ok")).resolves.toBe("ok");
  });
});
