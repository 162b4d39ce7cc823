// Shared helpers for the config parser tests: an in-memory file system and short accessors.

import path from "node:path";
import { expect } from "vitest";
import { parseConfig, type ParseOptions } from "./index.js";
import { ConfigError, formatDiagnostic, toPlain, type ConfigSection, type ParsedConfig, type PlainValue } from "../../src/config/values.js";

/** Parses `text` as /cfg/test.cfg.lua with an empty environment and the given in-memory files. */
export function parse(text: string, files: Record<string, string> = {}, opts: ParseOptions = {}): ParsedConfig {
  const fsError = (p: string): Error => Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: "ENOENT" });
  return parseConfig(text, "/cfg/test.cfg.lua", {
    env: {},
    readFile: (p) => {
      if (!(p in files)) throw fsError(p);
      return files[p];
    },
    listDir: (dir) => {
      const names = Object.keys(files).filter((f) => path.dirname(f) === dir).map((f) => path.basename(f));
      if (names.length === 0) throw fsError(dir);
      return names;
    },
    ...opts,
  });
}

/** Plain values of a section's options. */
export function optionsOf(section: ConfigSection): Record<string, PlainValue> {
  return Object.fromEntries([...section.options].map(([k, v]) => [k, toPlain(v.value)]));
}

/** Plain value of one global option. */
export function globalOption(text: string, name: string, files?: Record<string, string>, opts?: ParseOptions): PlainValue | undefined {
  const v = parse(text, files, opts).global.options.get(name)?.value;
  return v === undefined ? undefined : toPlain(v);
}

/** Formatted warnings. */
export function warningsOf(cfg: ParsedConfig): string[] {
  return cfg.warnings.map(formatDiagnostic);
}

/** The ConfigError thrown by parsing `text`. */
export function parseError(text: string, files?: Record<string, string>, opts?: ParseOptions): ConfigError {
  try {
    parse(text, files, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
