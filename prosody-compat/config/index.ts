// prosody.cfg.lua reader: parseConfig for text, loadConfigFile for a file on disk.
//
// Supported: global options; VirtualHost/Host "x"; Component "x" "module" and external Component "x";
// the block forms `VirtualHost "x" { ... }` / `Component "x" "m" { ... }`; Include "f" and
// Include "dir/*.cfg.lua"; FileLine, FileLines, FileContents, Credential; ENV_NAME (environment
// variable NAME, as in Prosody); locals; strings, numbers, tables, nil/true/false in all Lua forms;
// and/or/not, .., arithmetic, comparisons, `#`. Other Lua (function calls, if/for/function, Lua.*,
// method calls, bitwise operators) is skipped with a warning; syntax errors throw ConfigError.

import fs from "node:fs";
import path from "node:path";
import { Interpreter } from "./interpreter.js";
import { ConfigError, type ParsedConfig } from "../../src/config/values.js";
import { Config, type WarningListener } from "../../src/config/options.js";

export * from "../../src/config/values.js";
export { parseLuaNumber, luaNumberToString } from "../../src/config/values.js";

export interface ParseOptions {
  /** Environment for ENV_ variables and Credential(); defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Reads Included files and FileLine & co. targets; defaults to fs.readFileSync (UTF-8). */
  readFile?: (path: string) => string;
  /** Lists a directory for wildcard Includes; defaults to fs.readdirSync. */
  listDir?: (path: string) => string[];
  /** Directory relative paths are resolved against; defaults to the directory of `file`. */
  baseDir?: string;
}

/** Parses config text. `file` names it in diagnostics and, unless baseDir is given, anchors relative paths. */
export function parseConfig(text: string, file: string, opts: ParseOptions = {}): ParsedConfig {
  const interpreter = new Interpreter(file, opts.env ?? process.env, {
    readFile: opts.readFile ?? ((p) => fs.readFileSync(p, "utf8")),
    listDir: opts.listDir ?? ((p) => fs.readdirSync(p)),
  });
  interpreter.runFile(text, file, opts.baseDir ?? path.dirname(file));
  return {
    global: interpreter.global,
    hosts: interpreter.hosts,
    warnings: interpreter.warnings,
    files: interpreter.files,
  };
}

/**
 * Reads and parses a config file; relative Include/File* paths are resolved against its directory.
 * An unreadable file is a ConfigError with line 0.
 */
export function loadConfigFile(file: string, env?: Record<string, string | undefined>): ParsedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, 0, 0, `cannot read the config file: ${(err as Error).message}`);
  }
  return parseConfig(text, file, { env, baseDir: path.dirname(file) });
}

/** Herald's embedded default configuration (modules/defaults.ts, handed over by bin/), parsed by the same parser as any file. */
export function defaultParsedConfig(text: string): ParsedConfig {
  return parseConfig(text, "<default config>", { env: {}, baseDir: "." });
}

/** A Config over the built-in default configuration. */
export function defaultConfig(text: string, opts: { onWarning?: WarningListener } = {}): Config {
  return new Config(defaultParsedConfig(text), opts);
}
