import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EXPECTED_FAILURES_FILE,
  findScripts,
  main,
  parseExpectedFailures,
  runScansion,
  runScansionReport,
  type ServerHandle,
} from "./cli.js";
import { startFakeServer, type FakeServer } from "./fake-server.js";
import { applySubstitutions, heraldSubstitutions, pathMatches } from "./substitutions.js";
import { parseScript } from "./parser.js";
import { sharedDir } from "../../test/helpers/shared.js";

const SHARED = sharedDir("scansion", "the substitution test on the shared version.scs is", process.env.SCANSION_DIR);

const CLIENT = "[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n-----\nRomeo connects\n";
const PASSING = `# Passes\n${CLIENT}\nRomeo sends:\n\t<presence/>\n\nRomeo receives:\n\t<presence/>\n\nRomeo disconnects\n`;
const FAILING = `# Fails\n${CLIENT}\nRomeo sends:\n\t<presence/>\n\nRomeo receives:\n\t<presence type='unavailable'/>\n`;

let dir: string;
let server: FakeServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "scansion-cli-"));
  mkdirSync(join(dir, "core"));
  mkdirSync(join(dir, "pubsub"));
  writeFileSync(join(dir, "core", "b_pass.scs"), PASSING);
  writeFileSync(join(dir, "core", "a_fail.scs"), FAILING);
  writeFileSync(join(dir, "pubsub", "c_pass.scs"), PASSING);
  writeFileSync(join(dir, "pubsub", "d_broken.scs"), "# Broken\n[Client] R\n\tjid: r@h\n\tpassword: p\nR dances\n");
  writeFileSync(join(dir, "README"), "not a script");
  server = await startFakeServer({ onStanza: (el, s) => el.name === "presence" && s.send(`<presence from='${s.jid}'/>`) });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function collect(): { lines: string[]; out: (l: string) => void } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(...l.split("\n")) };
}

describe("runScansion", () => {
  it("runs every script in sorted order and ends with the summary line", async () => {
    const { lines, out } = collect();
    const code = await runScansion({ paths: [dir], host: "127.0.0.1", port: server.port, timeoutMs: 300, out });
    expect(code).toBe(1);
    const status = lines.filter((l) => /^(PASS|FAIL|XFAIL|XPASS) /.test(l));
    expect(status.map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "FAIL core/a_fail.scs",
      "PASS core/b_pass.scs",
      "PASS pubsub/c_pass.scs",
      "FAIL pubsub/d_broken.scs",
    ]);
    expect(status[0]).toMatch(/line 11: Romeo receives: the received stanza does not match$/);
    expect(status[3]).toMatch(/d_broken\.scs:5: cannot understand this line/);
    expect(lines).toContain("    first difference: presence: attribute type missing (expected 'unavailable')");
    expect(lines.at(-2)).toBe("expected failures: 0");
    expect(lines.at(-1)).toBe("2 passed, 2 failed");
  });

  it("expected failures: XFAIL is not counted as failed, XPASS is", async () => {
    const { lines, out } = collect();
    const expected = new Map([
      ["core/a_fail.scs", "presence types not built yet"],
      ["pubsub/c_pass.scs", "thought to fail"],
      ["pubsub/d_broken.scs", "broken on purpose"],
    ]);
    const report = await runScansionReport({
      paths: [join(dir, "core"), join(dir, "pubsub")],
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 300,
      expectedFailures: expected,
      expectedFailuresFile: "prosody-compat/scansion/expected-failures.txt",
      out,
    });
    expect(report.results.map((r) => `${r.outcome} ${r.name}`)).toEqual([
      "XFAIL core/a_fail.scs",
      "PASS core/b_pass.scs",
      "XPASS pubsub/c_pass.scs",
      "XFAIL pubsub/d_broken.scs",
    ]);
    expect(lines).toContain("XFAIL core/a_fail.scs  (expected: presence types not built yet)");
    expect(lines).toContain("XPASS pubsub/c_pass.scs  listed as an expected failure (thought to fail) but passed: remove it from the list");
    expect(lines.at(-2)).toBe("expected failures: 2 (listed in prosody-compat/scansion/expected-failures.txt)");
    expect(lines.at(-1)).toBe("1 passed, 1 failed");
    expect(report.exitCode).toBe(1);
  });

  it("exit code 0 when everything is as expected", async () => {
    const { lines, out } = collect();
    const code = await runScansion({
      paths: [dir],
      host: "127.0.0.1",
      port: server.port,
      timeoutMs: 300,
      expectedFailures: new Map([
        ["a_fail.scs", "x"],
        ["d_broken.scs", "y"],
      ]),
      out,
    });
    expect(lines.at(-1)).toBe("2 passed, 0 failed");
    expect(code).toBe(0);
  });

  it("startServer: started once with the first script's name, reset between scripts, stopped at the end", async () => {
    const calls: string[] = [];
    const startServer = async (name: string): Promise<ServerHandle> => {
      calls.push(`start ${name}`);
      return {
        host: "127.0.0.1",
        port: server.port,
        reset: async () => void calls.push("reset"),
        stop: async () => void calls.push("stop"),
      };
    };
    const { lines, out } = collect();
    await runScansion({ paths: [join(dir, "core")], startServer, timeoutMs: 300, out });
    expect(calls).toEqual(["start a_fail.scs", "reset", "stop"]);
    expect(lines.at(-1)).toBe("1 passed, 1 failed");
  });

  it("a failing reset fails that script, and the server is still stopped", async () => {
    const calls: string[] = [];
    const startServer = async (): Promise<ServerHandle> => ({
      host: "127.0.0.1",
      port: server.port,
      reset: async () => {
        throw new Error("reset broke");
      },
      stop: async () => void calls.push("stop"),
    });
    const { lines, out } = collect();
    const report = await runScansionReport({ paths: [join(dir, "pubsub")], startServer, timeoutMs: 300, out });
    expect(report.results.map((r) => r.outcome)).toEqual(["PASS", "FAIL"]);
    expect(lines.join("\n")).toMatch(/reset broke/);
    expect(calls).toEqual(["stop"]);
  });

  it("no scripts found", async () => {
    const empty = mkdtempSync(join(tmpdir(), "scansion-empty-"));
    const { lines, out } = collect();
    expect(await runScansion({ paths: [empty], out })).toBe(1);
    expect(lines.at(-1)).toBe("0 passed, 0 failed");
    rmSync(empty, { recursive: true });
  });

  it("findScripts: recursive, .scs only, sorted, unique", async () => {
    const files = await findScripts([dir, join(dir, "core", "b_pass.scs")]);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(["core/a_fail.scs", "core/b_pass.scs", "pubsub/c_pass.scs", "pubsub/d_broken.scs"]);
  });
});

describe("main (command line)", () => {
  it("runs against --host/--port with an expected-failures file", async () => {
    const list = join(dir, "xf.txt");
    writeFileSync(list, "# header\n\ncore/a_fail.scs # not yet\npubsub/d_broken.scs   #  broken\n");
    const { lines, out } = collect();
    const code = await main(["--host", "127.0.0.1", "--port", String(server.port), "--timeout", "300", "--expected-failures", list, dir], out);
    expect(code).toBe(0);
    expect(lines.at(-2)).toBe(`expected failures: 2 (listed in ${list})`);
    expect(lines.at(-1)).toBe("2 passed, 0 failed");
  });

  it("usage errors exit 2", async () => {
    const { out } = collect();
    expect(await main([], out)).toBe(2);
    expect(await main(["--frobnicate", dir], out)).toBe(2);
    expect(await main(["--port"], out)).toBe(2);
    expect(await main(["--port", "x", dir], out)).toBe(2);
    expect(await main(["--substitutions", "prosody", dir], out)).toBe(2);
  });
});

describe("expected-failures.txt", () => {
  it("parses path # reason lines, ignoring comments and blanks", () => {
    const m = parseExpectedFailures("# comment\n\n  core/blocking.scs # XEP-0191 not built  \npep/bookmarks2.scs#PEP\n");
    expect([...m]).toEqual([
      ["core/blocking.scs", "XEP-0191 not built"],
      ["pep/bookmarks2.scs", "PEP"],
    ]);
  });

  it("rejects lines without a reason, non-scripts and duplicates, with file:line", () => {
    expect(() => parseExpectedFailures("core/a.scs\n", "x.txt")).toThrow(/x\.txt:1: core\/a\.scs has no reason/);
    expect(() => parseExpectedFailures("\ncore/a.scs #\n", "x.txt")).toThrow(/x\.txt:2: core\/a\.scs has no reason/);
    expect(() => parseExpectedFailures("core/a # r\n", "x.txt")).toThrow(/x\.txt:1: "core\/a" is not a \.scs script/);
    expect(() => parseExpectedFailures("a b.scs # r\n", "x.txt")).toThrow(/x\.txt:1: expected/);
    expect(() => parseExpectedFailures("a.scs # r\na.scs # s\n", "x.txt")).toThrow(/x\.txt:2: a\.scs is listed twice/);
  });

  it("the repository's list parses", () => {
    expect(() => parseExpectedFailures(readFileSync(EXPECTED_FAILURES_FILE, "utf8"), EXPECTED_FAILURES_FILE)).not.toThrow();
  });
});

describe("substitutions", () => {
  it("match scripts by whole path segments", () => {
    expect(pathMatches("/x/shared/scansion/core/version.scs", "core/version.scs")).toBe(true);
    expect(pathMatches("/x/core/myversion.scs", "version.scs")).toBe(false);
    expect(pathMatches("core/version.scs", "./core/version.scs")).toBe(true);
  });

  it.skipIf(!SHARED.available)("Herald's substitution applies to the shared version.scs (../shared/scansion), in receives blocks only", () => {
    const path = join(SHARED.path, "core/version.scs");
    const script = parseScript(readFileSync(path, "utf8"), path);
    const { script: out, errors } = applySubstitutions(script, heraldSubstitutions);
    expect(errors).toEqual([]);
    const recv = out.steps.find((s) => s.action === "receives") as { xml: string };
    expect(recv.xml).toContain("<name>Herald</name>");
    expect(recv.xml).not.toContain("Prosody");
    expect(script.steps.find((s) => s.action === "receives")).not.toBe(recv);
  });

  it("sends-only substitutions leave receives alone", () => {
    const script = parseScript(`${CLIENT}Romeo sends:\n\t<presence><status>a</status></presence>\nRomeo receives:\n\t<presence><status>a</status></presence>\n`, "s.scs");
    const { script: out } = applySubstitutions(script, [{ script: "s.scs", find: ">a<", replace: ">b<", in: "sends", reason: "t" }]);
    expect(out.steps.map((s) => ("xml" in s ? s.xml : ""))).toEqual(["", "<presence><status>b</status></presence>", "<presence><status>a</status></presence>"]);
  });
});
