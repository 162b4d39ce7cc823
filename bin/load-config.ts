// Finding and reading Herald's configuration, and turning the `log` option into log sinks.

import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defaultConfigText } from "../modules/index.js";
import { defaultConfig, loadConfigFile } from "../prosody-compat/config/index.js";
import { Config, ConfigTable } from "../src/config/options.js";
import { consoleSink, DEFAULT_LOG_BUFFER_SIZE, fileSink, isLogLevel, levelRange, LogRouter, sinkFor, type LogLevel, type LogSink } from "../src/util/logger.js";

export interface LoadedConfig {
  config: Config;
  /** Where it came from, for logs. */
  source: string;
  /** Relative paths in the config resolve against this. */
  baseDir: string;
}

/** -c FILE, else $HERALD_CONFIG, else ./herald.cfg.lua, else the embedded default. */
export function loadHeraldConfig(file?: string): LoadedConfig {
  const candidate = file ?? process.env.HERALD_CONFIG ?? (existsSync("herald.cfg.lua") ? "herald.cfg.lua" : undefined);
  if (candidate === undefined) {
    const config = defaultConfig(defaultConfigText);
    const hosts = config.hosts.map((h) => `${h.kind} "${h.name}"`).join(", ");
    return { config, source: `built-in default (${hosts}, data in ./data)`, baseDir: process.cwd() };
  }
  const path = resolve(candidate);
  if (!existsSync(path)) throw new Error(`Configuration file ${candidate} does not exist`);
  return { config: new Config(loadConfigFile(path)), source: path, baseDir: dirname(path) };
}

/**
 * Prosody's `log` option:
 *  - "info" (the console from that level), "*console", "file.log";
 *  - { "*console"; debug = "debug.log", error = "*console" }: array entries take info and up, a
 *    `level = target` pair that level and up;
 *  - the advanced form, a list of sinks: { { levels = { min = "info" }, to = "file", filename =
 *    "herald.log" }, { levels = { "error" }, to = "console" } } (`levels` also { min, max } or
 *    left out for info and up; `to` is "console", "stdout", "stderr", "syslog" or "file").
 * `log_buffer_size` bounds what a file sink holds while the disk catches up.
 */
export function logRouterFromConfig(config: Config): LogRouter {
  const raw = config.global.raw("log");
  const bufferSize = config.global.integer("log_buffer_size", DEFAULT_LOG_BUFFER_SIZE, { min: 64 * 1024 });
  const sinks: LogSink[] = [];
  const target = (t: string, level: LogLevel): LogSink | undefined => {
    const name = t.replace(/^\*/, "");
    // No syslog: the console goes to the journal.
    if (name === "console" || name === "stdout" || name === "stderr" || name === "syslog") return consoleSink(level);
    if (isLogLevel(t)) return consoleSink(t);
    if (t.startsWith("*")) return undefined;
    return fileSink(resolve(t), level, bufferSize);
  };
  const add = (sink: LogSink | undefined) => {
    if (sink) sinks.push(sink);
  };
  const advanced = (t: ConfigTable) => {
    const to = t.hash.to;
    const filename = t.hash.filename;
    const levels = levelsOf(t.hash.levels);
    if (levels.size === 0) return;
    let sink: LogSink | undefined;
    if (to === "file" || (to === undefined && typeof filename === "string")) {
      if (typeof filename === "string") sink = fileSink(resolve(filename), "debug", bufferSize);
    } else if (typeof to === "string") sink = target(to.startsWith("*") ? to : `*${to}`, "debug");
    if (sink) sinks.push(sinkFor(levels, sink));
  };
  if (typeof raw === "string") add(target(raw, "info"));
  else if (raw instanceof ConfigTable) {
    for (const v of raw.array) {
      if (typeof v === "string") add(target(v, "info"));
      else if (v instanceof ConfigTable) advanced(v);
    }
    for (const k of raw.keys()) {
      const v = raw.hash[k];
      if (isLogLevel(k) && typeof v === "string") add(target(v, k));
    }
  }
  if (sinks.length === 0) sinks.push(consoleSink("info"));
  return new LogRouter(sinks);
}

/** Prosody's `levels`: { min = "info", max = "warn" }, a list { "error", "warn" }, or absent (info and up). */
function levelsOf(v: unknown): Set<LogLevel> {
  if (v === undefined) return levelRange("info");
  if (typeof v === "string") return isLogLevel(v) ? levelRange(v) : new Set();
  if (!(v instanceof ConfigTable)) return new Set();
  if (v.array.length > 0) return new Set(v.array.filter((l): l is LogLevel => typeof l === "string" && isLogLevel(l)));
  const min = v.hash.min;
  const max = v.hash.max;
  return levelRange(typeof min === "string" && isLogLevel(min) ? min : "debug", typeof max === "string" && isLogLevel(max) ? max : "error");
}
