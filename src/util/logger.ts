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
