/**
 * Herald's configuration: typed access to options written in Prosody's prosody.cfg.lua syntax.
 *
 * The text is parsed by prosody-compat/config (parseConfig / loadConfigFile, and defaultConfig for
 * the embedded default, modules/defaults.ts) into a global section
 * and one section per VirtualHost or Component. `new Config(parsed)` wraps that:
 *
 *   const config = new Config(loadConfigFile("/etc/herald/prosody.cfg.lua"));
 *   config.hosts                                   // [{ name: "localhost", kind: "VirtualHost" }, ...]
 *   config.global.string("data_path", "./data")
 *   config.host("localhost").array("modules_enabled")
 *   config.host("pubsub.localhost").integer("pubsub_max_items", 256, { min: 1, max: 10000 })
 *
 * As in Prosody, a host's reader falls back to the global section for options the host does not
 * set (Components too). Each typed getter takes (name, default?, bounds?): a missing option yields
 * the default; a value of the wrong type or out of bounds also yields the default, and records a
 * warning located at the option ("prosody.cfg.lua:12: option c2s_ports must be ...; using default
 * { 5222 }") in `config.warnings` (which starts with the parser's own warnings) and, if given, the
 * onWarning callback. Conversions follow Prosody's module API: a one-item list is accepted where a
 * single value is expected, booleans also accept "true"/"false"/1/0, lists accept a lone value.
 * This file does no I/O.
 */

import {
  ConfigTable,
  formatDiagnostic,
  luaNumberToString,
  luaTruthy,
  parseLuaNumber,
  type ConfigDiagnostic,
  type ConfigOption,
  type ConfigSection,
  type ConfigValue,
  type ParsedConfig,
} from "./values.js";
import { parseDuration } from "./duration.js";

export type { ConfigDiagnostic, ConfigOption, ConfigSection, ConfigValue, ParsedConfig };
export { ConfigTable, formatDiagnostic };

export interface Bounds {
  min?: number;
  max?: number;
}

/** A warning about an option's value, located where the option was set. */
export interface OptionDiagnostic extends ConfigDiagnostic {
  option: string;
  /** The host whose reader found the problem ("*" for global). */
  host: string;
}

export interface HostInfo {
  name: string;
  kind: "VirtualHost" | "Component";
  /** Component "name" "module": the module; undefined for VirtualHosts and external components. */
  module?: string;
  file: string;
  line: number;
}

export type WarningListener = (warning: ConfigDiagnostic, text: string) => void;

export class Config {
  readonly parsed: ParsedConfig;
  readonly global: OptionReader;
  readonly hosts: readonly HostInfo[];
  /** The parser's warnings, then each distinct warning of the option readers as they occur. */
  readonly warnings: ConfigDiagnostic[] = [];
  private readonly seen = new Set<string>();
  private readonly readers = new Map<string, OptionReader>();
  private readonly onWarning?: WarningListener;

  constructor(parsed: ParsedConfig, opts: { onWarning?: WarningListener } = {}) {
    this.parsed = parsed;
    this.onWarning = opts.onWarning;
    for (const w of parsed.warnings) this.report(w);
    const report = (d: OptionDiagnostic): void => this.report(d);
    this.global = new OptionReader("*", parsed.global, undefined, report);
    this.hosts = parsed.hosts.map((s) => ({
      name: s.name,
      kind: s.kind === "Component" ? "Component" : "VirtualHost",
      ...(s.module === undefined ? {} : { module: s.module }),
      file: s.file,
      line: s.line,
    }));
    for (const s of parsed.hosts) this.readers.set(s.name, new OptionReader(s.name, s, parsed.global, report));
  }

  /** True when a VirtualHost or Component of this name is defined. */
  hasHost(name: string): boolean {
    const key = name.toLowerCase();
    return this.hosts.some((h) => h.name === key);
  }

  /** The options of a host, falling back to global ones. An undefined host reads only global options. */
  host(name: string): OptionReader {
    const key = name.toLowerCase();
    let reader = this.readers.get(key);
    if (!reader) {
      reader = new OptionReader(key, undefined, this.parsed.global, (d) => this.report(d));
      this.readers.set(key, reader);
    }
    return reader;
  }

  private report(d: ConfigDiagnostic): void {
    const text = formatDiagnostic(d);
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.warnings.push(d);
    this.onWarning?.(d, text);
  }
}

/** Typed getters over one section, with fallback to the global section. */
export class OptionReader {
  constructor(
    /** The host name, or "*" for the global reader. */
    readonly name: string,
    private readonly section: ConfigSection | undefined,
    private readonly fallback: ConfigSection | undefined,
    private readonly report: (d: OptionDiagnostic) => void,
  ) {}

  /** Where the option's value comes from (own section first), with its raw value. */
  source(name: string): (ConfigOption & { section: string }) | undefined {
    const own = this.section?.options.get(name);
    if (own) return { ...own, section: this.section?.name ?? this.name };
    const inherited = this.fallback?.options.get(name);
    return inherited ? { ...inherited, section: "*" } : undefined;
  }

  has(name: string): boolean {
    return this.source(name) !== undefined;
  }

  /** True when this section itself sets the option (not inherited from global). */
  hasOwn(name: string): boolean {
    return this.section?.options.has(name) ?? false;
  }

  raw(name: string): ConfigValue | undefined {
    return this.source(name)?.value;
  }

  /** Names of all options visible here (own and inherited). */
  names(): string[] {
    return [...new Set([...(this.section?.options.keys() ?? []), ...(this.fallback?.options.keys() ?? [])])];
  }

  /** Lua truthiness, as Prosody's `module:get_option(name)` in an `if`: only nil and false are false. */
  truthy(name: string, def = false): boolean {
    const opt = this.source(name);
    return opt ? luaTruthy(opt.value) : def;
  }

  string(name: string): string | undefined;
  string(name: string, def: string): string;
  string(name: string, def?: string): string | undefined {
    return this.read(name, def, "a string", (v) => {
      if (typeof v === "string") return v;
      return typeof v === "number" ? luaNumberToString(v) : undefined;
    });
  }

  integer(name: string): number | undefined;
  integer(name: string, def: number, bounds?: Bounds): number;
  integer(name: string, def: number | undefined, bounds: Bounds): number | undefined;
  integer(name: string, def?: number, bounds: Bounds = {}): number | undefined {
    const n = (v: ConfigValue): number | undefined => {
      const x = toNumber(v);
      return x !== undefined && Number.isInteger(x) ? x : undefined;
    };
    return this.read(name, def, describeBounds("an integer", bounds), n, (x) => inBounds(x, bounds));
  }

  number(name: string): number | undefined;
  number(name: string, def: number, bounds?: Bounds): number;
  number(name: string, def: number | undefined, bounds: Bounds): number | undefined;
  number(name: string, def?: number, bounds: Bounds = {}): number | undefined {
    return this.read(name, def, describeBounds("a number", bounds), toNumber, (x) => inBounds(x, bounds));
  }

  /** true/false; like Prosody also "true"/"false" and 1/0. */
  boolean(name: string): boolean | undefined;
  boolean(name: string, def: boolean): boolean;
  boolean(name: string, def?: boolean): boolean | undefined {
    return this.read(name, def, "true or false", (v) => {
      if (v === true || v === "true" || v === 1) return true;
      if (v === false || v === "false" || v === 0) return false;
      return undefined;
    });
  }

  enum<T extends string>(name: string, def: T, allowed: readonly T[]): T;
  enum<T extends string>(name: string, def: T | undefined, allowed: readonly T[]): T | undefined;
  enum<T extends string>(name: string, def: T | undefined, allowed: readonly T[]): T | undefined {
    const expectation = `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
    return this.read(name, def, expectation, (v) =>
      typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : undefined,
    );
  }

  /** A list of strings; a lone string (or number) is a one-item list. Missing: the default or []. */
  array(name: string, def: readonly string[] = []): string[] {
    const opt = this.source(name);
    const result = this.read(name, def, "a list of strings", (v) => {
      const items = listItems(v);
      if (!items) return undefined;
      const out: string[] = [];
      for (const item of items) {
        if (typeof item === "string") out.push(item);
        else if (typeof item === "number") out.push(luaNumberToString(item));
        else return undefined;
      }
      return out;
    }, undefined, false);
    if (opt && opt.value instanceof ConfigTable && !opt.value.isArray() && result !== def) {
      this.warn(name, opt, `option ${name} is a list; its named entries (${opt.value.keys().join(", ")}) are ignored`);
    }
    return [...(result ?? def)];
  }

  /** Like array(), but only this section's own value (no global fallback); Components' modules_enabled. */
  ownArray(name: string, def: readonly string[] = []): string[] {
    return this.ownReader().array(name, def);
  }

  set(name: string, def: readonly string[] = []): Set<string> {
    return new Set(this.array(name, def));
  }

  /** Prosody's get_option_inherited_set: this host's set united with the global one. */
  inheritedSet(name: string): Set<string> {
    const own = this.section?.options.has(name) ? this.array(name) : [];
    const fromGlobal = this.fallback?.options.has(name) ? this.globalReader().array(name) : [];
    return new Set([...own, ...fromGlobal]);
  }

  /** A list of integers within bounds; a lone number is a one-item list. */
  integerArray(name: string, def: readonly number[] = [], bounds: Bounds = {}, what?: string): number[] {
    const expectation = what ?? describeBounds("a list of integers", bounds);
    const result = this.read(name, def, expectation, (v) => {
      const items = listItems(v);
      if (!items) return undefined;
      const out: number[] = [];
      for (const item of items) {
        const n = toNumber(item);
        if (n === undefined || !Number.isInteger(n) || inBounds(n, bounds) !== undefined) return undefined;
        out.push(n);
      }
      return out;
    }, undefined, false);
    return [...(result ?? def)];
  }

  /** Port numbers (1-65535), e.g. c2s_ports = { 5222 }. */
  ports(name: string, def: readonly number[] = []): number[] {
    return this.integerArray(name, def, { min: 1, max: 65535 }, "an array of port numbers");
  }

  /** A table (Lua `{ ... }`); undefined when missing or not a table. */
  table(name: string): ConfigTable | undefined {
    return this.read(name, undefined, "a table", (v) => (v instanceof ConfigTable ? v : undefined), undefined, false);
  }

  /** A duration in seconds: a number, or text like "30s", "5m", "1h", "1d", "1w"; "never" is Infinity. */
  period(name: string): number | undefined;
  period(name: string, def: number, bounds?: Bounds): number;
  period(name: string, def?: number, bounds: Bounds = {}): number | undefined {
    const expectation = describeBounds('a duration (seconds, or text like "30s", "5m", "1h", "1d")', bounds);
    return this.read(
      name,
      def,
      expectation,
      (v) => {
        const seconds = typeof v === "number" ? v : typeof v === "string" ? parseDuration(v) : undefined;
        return seconds !== undefined && seconds >= 0 ? seconds : undefined;
      },
      (x) => inBounds(x, bounds),
    );
  }

  // ---- internals ----

  private globalReader(): OptionReader {
    return new OptionReader("*", this.fallback, undefined, this.report);
  }

  private ownReader(): OptionReader {
    return new OptionReader(this.name, this.section, undefined, this.report);
  }

  private warn(name: string, opt: ConfigOption, message: string): void {
    this.report({ file: opt.file, line: opt.line, column: 0, message, option: name, host: this.name });
  }

  /**
   * Shared path of the typed getters: missing -> default; unconvertible or rejected by `check`
   * -> default plus a warning. For single values (`scalar`), a list stands for its first item.
   */
  private read<T>(
    name: string,
    def: T | undefined,
    expectation: string,
    convert: (v: ConfigValue) => T | undefined,
    check?: (x: T) => string | undefined,
    scalar = true,
  ): T | undefined {
    const opt = this.source(name);
    if (!opt) return def;
    let result = convert(opt.value);
    if (result === undefined && scalar && opt.value instanceof ConfigTable && opt.value.isArray() && opt.value.length > 0) {
      // Prosody's get_option_string & co.: a list where one value is expected means its first item.
      const first = convert(opt.value.array[0]);
      if (first !== undefined) {
        if (opt.value.length > 1) {
          this.warn(name, opt, `option ${name} does not take a list; using just the first item`);
        }
        result = first;
      }
    }
    const problem = result === undefined ? "" : check?.(result);
    if (result !== undefined && problem === undefined) return result;
    const fallback = def === undefined ? "ignoring it" : `using default ${render(def)}`;
    const got = problem ? problem : `got ${render(opt.value)}`;
    this.warn(name, opt, `option ${name} must be ${expectation} (${got}); ${fallback}`);
    return def;
  }
}

function listItems(v: ConfigValue): ConfigValue[] | undefined {
  if (v instanceof ConfigTable) return v.array;
  if (typeof v === "string" || typeof v === "number") return [v];
  return undefined;
}

function toNumber(v: ConfigValue): number | undefined {
  if (typeof v === "number") return Number.isNaN(v) ? undefined : v;
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  const negative = t.startsWith("-");
  const n = parseLuaNumber(negative ? t.slice(1) : t);
  return n === undefined ? undefined : negative ? -n : n;
}

function inBounds(x: number, b: Bounds): string | undefined {
  if (b.min !== undefined && x < b.min) return `got ${x}, below the minimum ${b.min}`;
  if (b.max !== undefined && x > b.max) return `got ${x}, above the maximum ${b.max}`;
  return undefined;
}

function describeBounds(what: string, b: Bounds): string {
  if (b.min !== undefined && b.max !== undefined) return `${what} between ${b.min} and ${b.max}`;
  if (b.min !== undefined) return `${what} of at least ${b.min}`;
  if (b.max !== undefined) return `${what} of at most ${b.max}`;
  return what;
}

/** Renders a value the way it would be written in the config file. */
export function render(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof ConfigTable) {
    const parts = [
      ...v.array.map(render),
      ...v.keys().map((k) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `[${JSON.stringify(k)}]`} = ${render(v.hash[k])}`),
    ];
    return parts.length ? `{ ${parts.join(", ")} }` : "{ }";
  }
  if (Array.isArray(v)) return v.length ? `{ ${v.map(render).join(", ")} }` : "{ }";
  if (v === Infinity) return '"never"';
  return String(v);
}
