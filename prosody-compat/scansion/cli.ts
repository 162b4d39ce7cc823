// Running a whole suite of scansion scripts and reporting, for `herald scansion` and CI.
//
//   runScansion({ paths, startServer? | host/port, expectedFailures?, substitutions? })
//
// Every .scs under the given paths runs, in sorted order, one after another. Per script one line:
//   PASS  core/basic.scs
//   FAIL  core/blocking.scs  line 42: Romeo receives: the received stanza does not match
//   XFAIL pubsub/pubsub_advanced.scs  (expected: <reason from the list>)
//   XPASS core/version.scs  listed as an expected failure but passed: remove it from the list
// then the details of each FAIL, then
//   expected failures: K (listed in prosody-compat/scansion/expected-failures.txt)
//   N passed, M failed
// where M counts the unexpected outcomes (FAIL and XPASS). The exit code is 0 when M is 0.
//
// Server: with `startServer`, the runner starts the server once (before the first script), calls
// `reset()` before every later script, and `stop()` at the end. Without it the scripts run against
// `host`/`port` (a server the runner did not start, so no reset happens between scripts).

import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadScript, ScriptError } from "./parser.js";
import { runScript, type ScriptResult } from "./runner.js";
import { heraldSubstitutions, pathMatches, type Insertion, type Substitution } from "./substitutions.js";

export interface ServerHandle {
  /** Where the server listens; read again after every reset(). */
  host: string;
  port: number;
  /** Bring the server back to an empty state between scripts. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface ScansionOptions {
  /** Script files and/or folders (searched recursively for *.scs). */
  paths: string[];
  /** An external server (used when `startServer` is not given). Default 127.0.0.1:5222. */
  host?: string;
  port?: number;
  /** Start the server under test; called once, with the first script's name. */
  startServer?: (scriptName: string) => Promise<ServerHandle>;
  /** Scripts expected to fail: relative path (e.g. "core/blocking.scs") -> reason. */
  expectedFailures?: Map<string, string>;
  /** Where the expected failures come from, for the summary line. */
  expectedFailuresFile?: string;
  /** Substitutions for the server under test (none by default; Herald uses `heraldSubstitutions`). */
  substitutions?: readonly (Substitution | Insertion)[];
  /** Print details of expected failures too, and warnings. */
  verbose?: boolean;
  /** Per-step timeouts (see RunOptions). */
  timeoutMs?: number;
  /** See RunOptions.skipUnlisted (off by default; for investigation only). */
  skipUnlisted?: boolean;
  /** Output (default: console.log). */
  out?: (line: string) => void;
}

export type Outcome = "PASS" | "FAIL" | "XFAIL" | "XPASS";

export interface ScansionReport {
  results: { name: string; outcome: Outcome; result: ScriptResult; reason?: string }[];
  passed: number;
  /** Unexpected outcomes: FAIL + XPASS. */
  failed: number;
  expectedFailures: number;
  exitCode: number;
}

/** Run every script under `paths` and print the report; resolves to the exit code. */
export async function runScansion(opts: ScansionOptions): Promise<number> {
  return (await runScansionReport(opts)).exitCode;
}

/** Like runScansion, with the per-script results. */
export async function runScansionReport(opts: ScansionOptions): Promise<ScansionReport> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const files = await findScripts(opts.paths);
  const root = commonRoot(opts.paths.map((p) => resolve(p)), files);
  const report: ScansionReport = { results: [], passed: 0, failed: 0, expectedFailures: 0, exitCode: 0 };
  if (files.length === 0) {
    out("no .scs scripts found under " + opts.paths.join(", "));
    out("0 passed, 0 failed");
    report.exitCode = 1;
    return report;
  }

  let server: ServerHandle | undefined;
  let host = opts.host ?? "127.0.0.1";
  let port = opts.port ?? 5222;
  const details: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const name = relative(root, file).split(sep).join("/");
      const expected = lookupExpected(opts.expectedFailures, file);

      let result: ScriptResult;
      try {
        if (opts.startServer) {
          if (!server) server = await opts.startServer(name);
          else await server.reset();
          // Read again after every reset: a restarted server may listen elsewhere.
          host = server.host;
          port = server.port;
        }
        const script = await loadScript(file);
        result = await runScript(script, {
          host,
          port,
          timeoutMs: opts.timeoutMs,
          substitutions: opts.substitutions,
          skipUnlisted: opts.skipUnlisted,
        });
        if (opts.verbose) for (const w of script.warnings) out(`  warning: ${w}`);
      } catch (e) {
        const message = e instanceof ScriptError ? e.message : `${(e as Error).message}`;
        result = { path: file, title: "", ok: false, steps: 0, durationMs: 0, failure: { line: 0, step: "(script)", message } };
      }

      let outcome: Outcome;
      if (expected === undefined) outcome = result.ok ? "PASS" : "FAIL";
      else outcome = result.ok ? "XPASS" : "XFAIL";
      report.results.push({ name, outcome, result, reason: expected });

      const f = result.failure;
      const where = f ? (f.line ? `line ${f.line}: ${f.step} ` : `${f.step} `) + f.message : "";
      switch (outcome) {
        case "PASS":
          report.passed++;
          out(`PASS  ${name}`);
          break;
        case "FAIL":
          report.failed++;
          out(`FAIL  ${name}  ${where}`);
          details.push(formatFailure(name, result));
          break;
        case "XFAIL":
          report.expectedFailures++;
          out(`XFAIL ${name}  (expected: ${expected})`);
          if (opts.verbose) details.push(formatFailure(name, result));
          break;
        case "XPASS":
          report.failed++;
          out(`XPASS ${name}  listed as an expected failure (${expected}) but passed: remove it from the list`);
          break;
      }
    }
  } finally {
    await server?.stop();
  }

  for (const d of details) out(d);
  const listed = opts.expectedFailuresFile ? ` (listed in ${opts.expectedFailuresFile})` : "";
  out(`expected failures: ${report.expectedFailures}${listed}`);
  out(`${report.passed} passed, ${report.failed} failed`);
  report.exitCode = report.failed === 0 ? 0 : 1;
  return report;
}

/** The failure details of one script, as printed after the per-script lines. */
export function formatFailure(name: string, r: ScriptResult): string {
  const f = r.failure;
  if (!f) return "";
  const lines = [`--- ${name}${f.line ? `:${f.line}` : ""}  ${f.step}`, `    ${f.message}`];
  if (f.difference) lines.push(`    first difference: ${f.difference}`);
  if (f.expected !== undefined) lines.push("    expected:", indent(f.expected, "      "));
  if (f.received !== undefined) lines.push("    received:", indent(f.received, "      "));
  return lines.join("\n");
}

function indent(text: string, pad: string): string {
  return text
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

function lookupExpected(map: Map<string, string> | undefined, file: string): string | undefined {
  if (!map) return undefined;
  for (const [key, reason] of map) if (pathMatches(file, key)) return reason;
  return undefined;
}

/** All .scs files under the paths (files given directly are taken as they are), sorted, unique. */
export async function findScripts(paths: string[]): Promise<string[]> {
  const found = new Set<string>();
  const walk = async (p: string): Promise<void> => {
    const s = await stat(p);
    if (s.isDirectory()) {
      for (const entry of await readdir(p)) {
        const child = join(p, entry);
        const cs = await stat(child);
        if (cs.isDirectory()) await walk(child);
        else if (entry.endsWith(".scs")) found.add(child);
      }
    } else {
      found.add(p);
    }
  };
  for (const p of paths) await walk(resolve(p));
  return [...found].sort();
}

/** The folder the script names are relative to: the common ancestor of the given folders/files. */
function commonRoot(paths: string[], files: string[]): string {
  const dirs = paths.map((p) => (files.includes(p) ? dirname(p) : p));
  let root = dirs[0] ?? process.cwd();
  for (const d of dirs.slice(1)) {
    while (!(d === root || d.startsWith(root.endsWith(sep) ? root : root + sep))) {
      const up = dirname(root);
      if (up === root) break;
      root = up;
    }
  }
  return root;
}

// ---- expected-failures.txt ----

export class ExpectedFailuresError extends Error {
  override name = "ExpectedFailuresError";
}

/**
 * Parse an expected-failures list: one script per line, as a path relative to the shared scansion
 * folder, then ` # reason`. Blank lines and lines starting with '#' are ignored. A reason is
 * required; a script listed twice is an error.
 */
export function parseExpectedFailures(text: string, file = "expected-failures.txt"): Map<string, string> {
  const map = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const hash = line.indexOf("#");
    const path = (hash >= 0 ? line.slice(0, hash) : line).trim();
    const reason = hash >= 0 ? line.slice(hash + 1).trim() : "";
    const where = `${file}:${i + 1}`;
    if (!path || /\s/.test(path)) throw new ExpectedFailuresError(`${where}: expected "path/to/script.scs # reason"`);
    if (!path.endsWith(".scs")) throw new ExpectedFailuresError(`${where}: "${path}" is not a .scs script`);
    if (!reason) throw new ExpectedFailuresError(`${where}: ${path} has no reason (write "${path} # why it fails")`);
    if (map.has(path)) throw new ExpectedFailuresError(`${where}: ${path} is listed twice`);
    map.set(path, reason);
  });
  return map;
}

export async function loadExpectedFailures(file: string): Promise<Map<string, string>> {
  return parseExpectedFailures(await readFile(file, "utf8"), file);
}

/** The expected-failures list kept beside this file (for Herald's own runs). */
export const EXPECTED_FAILURES_FILE = fileURLToPath(new URL("./expected-failures.txt", import.meta.url));

// ---- command line (against a running server) ----

const USAGE = `usage: scansion [--host HOST] [--port PORT] [--expected-failures FILE] [--substitutions herald|none]
                [--timeout MS] [--skip-unlisted] [--verbose] PATH...
Runs every .scs script under the PATHs against the server at HOST:PORT (default 127.0.0.1:5222).
--skip-unlisted lets receives: skip non-matching stanzas (investigation only; see README.md).`;

/** Command-line entry: parse arguments, run, return the exit code (2 for usage errors). */
export async function main(argv: string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const paths: string[] = [];
  const opts: ScansionOptions = { paths, out };
  let subs = "none";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new ExpectedFailuresError(`${a} needs a value`);
      return v;
    };
    try {
      if (a === "--host") opts.host = value();
      else if (a === "--port") opts.port = Number(value());
      else if (a === "--timeout") opts.timeoutMs = Number(value());
      else if (a === "--verbose" || a === "-v") opts.verbose = true;
      else if (a === "--skip-unlisted") opts.skipUnlisted = true;
      else if (a === "--substitutions") subs = value();
      else if (a === "--expected-failures") {
        const file = value();
        opts.expectedFailures = await loadExpectedFailures(file);
        opts.expectedFailuresFile = file;
      } else if (a === "--help" || a === "-h") {
        out(USAGE);
        return 0;
      } else if (a.startsWith("-")) {
        out(`unknown option ${a}\n${USAGE}`);
        return 2;
      } else paths.push(a);
    } catch (e) {
      out(`${(e as Error).message}\n${USAGE}`);
      return 2;
    }
  }
  if (paths.length === 0 || (opts.port !== undefined && !Number.isInteger(opts.port))) {
    out(USAGE);
    return 2;
  }
  if (subs === "herald") opts.substitutions = heraldSubstitutions;
  else if (subs !== "none") {
    out(`--substitutions must be herald or none\n${USAGE}`);
    return 2;
  }
  return runScansion(opts);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
