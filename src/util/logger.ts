// Logging: levels, to the console or a file, following Prosody's `log` option.

import { appendFileSync } from "node:fs";

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
  write(line: string, level: LogLevel): void;
}

export function consoleSink(level: LogLevel): LogSink {
  return { level, write: (line, l) => (l === "error" || l === "warn" ? process.stderr : process.stdout).write(line + "\n") };
}

export function fileSink(path: string, level: LogLevel): LogSink {
  return { level, write: (line) => appendFileSync(path, line + "\n") };
}

export class LogRouter {
  constructor(public sinks: LogSink[]) {}
  minLevel(): number {
    return Math.min(...this.sinks.map((s) => LEVELS[s.level]), 100);
  }
}

export function createLogger(router: LogRouter, name = "general"): Logger {
  const emit = (level: LogLevel, msg: string) => {
    const n = LEVELS[level];
    let line: string | undefined;
    for (const sink of router.sinks) {
      if (n < LEVELS[sink.level]) continue;
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
