// Prosody's `log` option as Herald reads it (simple, per-level and advanced forms), and file logs
// complete on disk once the server has stopped.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { logRouterFromConfig } from "../../bin/load-config.js";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { Config } from "../../src/config/options.js";
import { createLogger, fileSink } from "../../src/util/logger.js";
import { startTestServer } from "../helpers/harness.js";

const dir = mkdtempSync(join(tmpdir(), "herald-logcfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logEachLevel(logText: string): Promise<void> {
  const config = new Config(parseConfig(`log = ${logText}\nVirtualHost "localhost"\n`, "t.cfg.lua", { env: {}, baseDir: dir }));
  const router = logRouterFromConfig(config);
  const log = createLogger(router, "t");
  for (const l of ["debug", "info", "warn", "error"] as const) log[l](`at-${l}`);
  await router.flush();
  await router.replace([]);
}

const levelsIn = (file: string) => [...readFileSync(join(dir, file), "utf8").matchAll(/at-(\w+)/g)].map((m) => m[1]);

describe("the log option", () => {
  it("a file name: info and up to it", async () => {
    await logEachLevel(JSON.stringify(join(dir, "plain.log")));
    expect(levelsIn("plain.log")).toEqual(["info", "warn", "error"]);
  });

  it("level = target pairs: that level and up", async () => {
    await logEachLevel(`{ debug = ${JSON.stringify(join(dir, "debug.log"))}, error = ${JSON.stringify(join(dir, "error.log"))} }`);
    expect(levelsIn("debug.log")).toEqual(["debug", "info", "warn", "error"]);
    expect(levelsIn("error.log")).toEqual(["error"]);
  });

  it("the advanced form: levels as { min, max }, as a list, or left out", async () => {
    const f = (name: string) => JSON.stringify(join(dir, name));
    await logEachLevel(`{
      { levels = { min = "debug", max = "info" }, to = "file", filename = ${f("range.log")} };
      { levels = { "debug", "error" }, to = "file", filename = ${f("list.log")} };
      { to = "file", filename = ${f("default.log")} };
    }`);
    expect(levelsIn("range.log")).toEqual(["debug", "info"]);
    expect(levelsIn("list.log")).toEqual(["debug", "error"]);
    expect(levelsIn("default.log")).toEqual(["info", "warn", "error"]);
  });
});

describe("file logs and shutdown", () => {
  it("everything the server logged is in the file when stop() resolves", async () => {
    const path = join(dir, "server.log");
    const ts = await startTestServer({ logSinks: [fileSink(path, "info")] });
    await ts.stop();
    expect(readFileSync(path, "utf8")).toMatch(/ general {14}info  Stopped\n$/);
  });
});
