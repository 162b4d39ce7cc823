import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger, fileSink, levelRange, LogRouter, sinkFor, type LogLevel, type LogSink } from "./logger.js";

const dir = mkdtempSync(join(tmpdir(), "herald-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");

function memorySink(level: LogLevel): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return { level, lines, write: (line) => lines.push(line) };
}

describe("file sinks", () => {
  it("write in the background: a log call never waits for the disk; flush() waits until all is written, in order", async () => {
    const path = join(dir, "a.log");
    const router = new LogRouter([fileSink(path, "info")]);
    const log = createLogger(router, "c2s");
    for (let i = 0; i < 2000; i++) log.info(`line ${i}`);
    log.debug("not at this level");
    expect(read(path)).not.toContain("line 1999"); // nothing has had a chance to run yet: still in the buffer
    await router.flush();
    const lines = read(path).trimEnd().split("\n");
    expect(lines).toHaveLength(2000);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z c2s {18}info {2}line 0$/);
    expect(lines[1999]).toMatch(/ line 1999$/);
    await router.replace([]);
  });

  it("append to what is there, and close when replaced (a reload of `log`)", async () => {
    const path = join(dir, "b.log");
    const first = fileSink(path, "info");
    const router = new LogRouter([first]);
    createLogger(router).info("one");
    await router.flush();
    const second = fileSink(path, "warn");
    await router.replace([second]);
    const log = createLogger(router);
    log.info("two (below warn)");
    log.error("three");
    await router.flush();
    expect(read(path)).toMatch(/ one\n.* three\n$/);
    await router.replace([]);
  });

  it("an unwritable path does not throw into the caller", async () => {
    const router = new LogRouter([fileSink(join(dir, "missing-dir", "x.log"), "info")]);
    expect(() => createLogger(router).info("into the void")).not.toThrow();
    await router.flush();
  });
});

describe("levels per sink (Prosody's log option)", () => {
  it("a sink takes its level and up, or exactly the levels it was given", () => {
    const all = memorySink("info");
    const some = memorySink("debug");
    const router = new LogRouter([all, sinkFor(new Set<LogLevel>(["debug", "error"]), some)]);
    const log = createLogger(router);
    for (const l of ["debug", "info", "warn", "error"] as const) log[l](l);
    expect(all.lines.map((l) => l.split(" ").pop())).toEqual(["info", "warn", "error"]);
    expect(some.lines.map((l) => l.split(" ").pop())).toEqual(["debug", "error"]);
    expect([...levelRange("info", "warn")]).toEqual(["info", "warn"]);
  });
});
