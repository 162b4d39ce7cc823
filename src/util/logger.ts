// Logging: levels, to the console or files, following Prosody's `log` option (bin/load-config.ts
// reads it). File sinks write through sonic-boom (the asynchronous file writer of the pino project):
// a log call only appends to a buffer, the disk is written in the background, so a slow disk never
// stalls the event loop. LogRouter.flush() waits until everything is written (the server flushes
// on stop); whatever is still buffered when the process exits is written synchronously then.

import { createRequire } from "node:module";
import type { SonicBoom as SonicBoomType } from "sonic-boom";

// The package is CommonJS (module.exports = the class); its types describe a namespace. Loaded when
// the first file sink opens (a server logging to the console never loads it), with require(): an
// ESM import would have Node scan its source for named exports first. A plain require() where there
// is one: the single-executable bundle (CommonJS) bundles it.
type SonicBoom = SonicBoomType;
const loadSonicBoom = (): typeof SonicBoomType =>
  (typeof require === "function" ? require("sonic-boom") : createRequire(import.meta.url)("sonic-boom")) as typeof SonicBoomType;

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(name: string): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LogSink {
  level: LogLevel; // lowest level this sink takes
  /** The levels this sink takes when not every one from `level` up (Prosody's `levels = { max = ... }` or a list). */
  only?: ReadonlySet<LogLevel>;
  write(line: string, level: LogLevel): void;
  /** Resolves once every line written so far is on its way to the disk (file sinks). */
  flush?(): Promise<void>;
  /** Flush and release the file (after a reload replaced the sink, on stop). */
  close?(): Promise<void>;
}

/** The levels from `min` to `max`, both included (Prosody's `levels = { min = ..., max = ... }`). */
export function levelRange(min: LogLevel, max: LogLevel = "error"): Set<LogLevel> {
  return new Set((Object.keys(LEVELS) as LogLevel[]).filter((l) => LEVELS[l] >= LEVELS[min] && LEVELS[l] <= LEVELS[max]));
}

/** A sink for exactly these levels (Prosody's advanced form); the console when `write` is not given. */
export function sinkFor(levels: ReadonlySet<LogLevel>, sink: LogSink): LogSink {
  const sorted = [...levels].sort((a, b) => LEVELS[a] - LEVELS[b]);
  return { ...sink, level: sorted[0] ?? "error", only: levels };
}

export function consoleSink(level: LogLevel): LogSink {
  return { level, write: (line, l) => (l === "error" || l === "warn" ? process.stderr : process.stdout).write(line + "\n") };
}

/** Default bound of a file sink's buffer (`log_buffer_size`): lines beyond it are dropped and counted. */
export const DEFAULT_LOG_BUFFER_SIZE = 16 * 1024 * 1024;

/** File sinks still open: written out synchronously if the process exits with lines buffered. */
const openFiles = new Set<SonicBoom>();
let exitHookInstalled = false;

function flushAllSync(): void {
  for (const boom of openFiles) {
    try {
      boom.flushSync();
    } catch {
      /* not open yet, or the disk refuses: nothing more to do at exit */
    }
  }
}

export function fileSink(path: string, level: LogLevel, bufferSize = DEFAULT_LOG_BUFFER_SIZE): LogSink {
  const boom = new (loadSonicBoom())({ dest: path, append: true, sync: false, maxLength: bufferSize });
  openFiles.add(boom);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", flushAllSync);
  }
  let dropped = 0;
  let failed = false;
  boom.on("drop", () => {
    dropped++;
  });
  boom.on("error", (err: Error) => {
    // An unwritable log file must not take the server down: say so once on stderr.
    if (!failed) process.stderr.write(`Cannot write the log file ${path}: ${err.message}\n`);
    failed = true;
  });
  let closed: Promise<void> | undefined;
  const flush = () =>
    new Promise<void>((resolve) => {
      if (closed || failed) return resolve();
      try {
        boom.flush(() => resolve());
      } catch {
        resolve(); // not open yet with nothing to write
      }
    });
  return {
    level,
    write: (line) => {
      if (dropped > 0) {
        const n = dropped;
        dropped = 0;
        boom.write(`${new Date().toISOString()} ${"logger".padEnd(20)} warn  ${n} line${n === 1 ? "" : "s"} dropped: the disk did not keep up (log_buffer_size)\n`);
      }
      boom.write(line + "\n");
    },
    flush,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        openFiles.delete(boom);
        if (failed) return resolve();
        boom.once("close", () => resolve());
        boom.once("error", () => resolve());
        boom.end();
      })),
  };
}

export class LogRouter {
  constructor(public sinks: LogSink[]) {}
  minLevel(): number {
    return Math.min(...this.sinks.map((s) => LEVELS[s.level]), 100);
  }
  /** Resolves once every sink has handed what it was given to the disk. */
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.()));
  }
  /** Use `sinks` from now on; the ones replaced are flushed and closed. */
  async replace(sinks: LogSink[]): Promise<void> {
    const old = this.sinks;
    this.sinks = sinks;
    await Promise.all(old.filter((s) => !sinks.includes(s)).map((s) => s.close?.()));
  }
}

export function createLogger(router: LogRouter, name = "general"): Logger {
  const emit = (level: LogLevel, msg: string) => {
    const n = LEVELS[level];
    let line: string | undefined;
    for (const sink of router.sinks) {
      if (n < LEVELS[sink.level] || (sink.only && !sink.only.has(level))) continue;
      line ??= `${new Date().toISOString()} ${name.padEnd(20)} ${level.padEnd(5)} ${msg}`;
      sink.write(line, level);
    }
  };
  return {
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
    child: (child) => createLogger(router, child),
    enabled: (level) => LEVELS[level] >= router.minLevel(),
  };
}

/** A logger that drops everything (tests). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => nullLogger,
  enabled: () => false,
};

export function isLogLevel(s: string): s is LogLevel {
  return s in LEVELS;
}

/** Control characters a peer put into a name or text, escaped: one event is one line of the log. */
export function oneLine(msg: string): string {
  // eslint-disable-next-line no-control-regex
  return msg.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Lines about what peers do (failed logins, TLS failures, stream errors): at most `limit` lines per
 * key (a kind and an address) per window, so an attack cannot flood the log. The lines held back
 * are counted and reported in one line per key when its window ends.
 */
export class RateLimitedLog {
  private entries = new Map<string, { start: number; count: number; suppressed: number; level: LogLevel }>();
  private timer?: NodeJS.Timeout;

  constructor(
    readonly log: Logger,
    readonly limit = 10,
    readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  info(key: string, msg: string): void {
    this.write("info", key, msg);
  }
  warn(key: string, msg: string): void {
    this.write("warn", key, msg);
  }

  write(level: LogLevel, key: string, msg: string): void {
    if (!this.log.enabled(level)) return;
    const now = this.now();
    let e = this.entries.get(key);
    if (e && now - e.start >= this.windowMs) {
      this.report(key, e);
      e = undefined;
    }
    if (!e) {
      if (this.entries.size >= this.maxKeys) this.prune(now);
      e = { start: now, count: 0, suppressed: 0, level };
      this.entries.set(key, e);
    }
    if (e.count < this.limit) {
      e.count++;
      this.log[level](oneLine(msg));
      return;
    }
    e.suppressed++;
    if (LEVELS[level] > LEVELS[e.level]) e.level = level;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, Math.max(0, e.start + this.windowMs - now));
      this.timer.unref?.();
    }
  }

  /** Report and forget every key whose window has ended (a timer does this after suppressions). */
  flush(): void {
    const now = this.now();
    let pending = Infinity;
    for (const [key, e] of this.entries) {
      if (now - e.start >= this.windowMs) this.report(key, e);
      else if (e.suppressed > 0) pending = Math.min(pending, e.start + this.windowMs - now);
    }
    if (pending !== Infinity && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, pending);
      this.timer.unref?.();
    }
  }

  private report(key: string, e: { start: number; suppressed: number; level: LogLevel }): void {
    this.entries.delete(key);
    if (e.suppressed > 0) {
      this.log[e.level](`${key}: ${e.suppressed} more line${e.suppressed === 1 ? "" : "s"} like the above suppressed within ${Math.round(this.windowMs / 1000)} s`);
    }
  }

  /** Too many keys: drop ended windows, then the oldest (reporting what they held back). */
  private prune(now: number): void {
    for (const [key, e] of this.entries) if (now - e.start >= this.windowMs) this.report(key, e);
    for (const [key, e] of this.entries) {
      if (this.entries.size < this.maxKeys * 0.9) break;
      this.report(key, e);
    }
  }
}
