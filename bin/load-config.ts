// Finding and reading Herald's configuration, and turning the `log` option into log sinks.

import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defaultConfigText } from "../modules/index.js";
import { defaultConfig, loadConfigFile } from "../prosody-compat/config/index.js";
import { Config, ConfigTable } from "../src/config/options.js";
import { consoleSink, fileSink, isLogLevel, LogRouter, type LogLevel, type LogSink } from "../src/util/logger.js";

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
 * Prosody's `log` option: "info" | "*console" | "file.log" | { "*console"; debug = "debug.log", error = "*console" }.
 * A level name as an array entry or plain string means the console at that level.
 */
export function logRouterFromConfig(config: Config): LogRouter {
  const raw = config.global.raw("log");
  const sinks: LogSink[] = [];
  const target = (t: string, level: LogLevel) => {
    if (t === "*console" || t === "*stdout" || t === "*stderr") sinks.push(consoleSink(level));
    else if (t === "*syslog") sinks.push(consoleSink(level)); // no syslog: the console goes to the journal
    else if (isLogLevel(t)) sinks.push(consoleSink(t));
    else sinks.push(fileSink(resolve(t), level));
  };
  if (typeof raw === "string") target(raw, "info");
  else if (raw instanceof ConfigTable) {
    for (const v of raw.array) if (typeof v === "string") target(v, "info");
    for (const k of raw.keys()) {
      const v = raw.hash[k];
      if (isLogLevel(k) && typeof v === "string") target(v, k);
      else if (k === "levels" || k === "to") continue;
    }
  }
  if (sinks.length === 0) sinks.push(consoleSink("info"));
  return new LogRouter(sinks);
}
