// Values and result shapes of a parsed prosody.cfg.lua.
//
// A Lua table has an array part (keys 1..n without gaps) and a hash part (every other key).
// ConfigTable keeps both; numeric keys outside the 1..n sequence are stored in the hash part
// under their decimal spelling ("7", "2.5").

/** A value an option can hold. Lua's nil is represented by the option being absent. */
export type ConfigValue = string | number | boolean | ConfigTable;

/** A Lua table: `{ "a"; "b" }` has only an array part, `{ k = v }` only a hash part. */
export class ConfigTable {
  readonly kind = "table" as const;
  readonly array: ConfigValue[];
  /** Null-prototype record, so keys such as "constructor" or "__proto__" are plain keys. */
  readonly hash: Record<string, ConfigValue>;

  constructor(array: ConfigValue[] = [], hash?: Record<string, ConfigValue>) {
    this.array = array;
    this.hash = Object.create(null) as Record<string, ConfigValue>;
    if (hash) {
      for (const key of Object.keys(hash)) this.hash[key] = hash[key];
    }
  }

  /** Lua-style lookup: an integer key reads the array part (1-based), anything else the hash part. */
  get(key: string | number): ConfigValue | undefined {
    if (typeof key === "number") {
      if (Number.isInteger(key) && key >= 1 && key <= this.array.length) return this.array[key - 1];
      return this.hash[String(key)];
    }
    return this.hash[key];
  }

  /** Number of items in the array part (Lua's `#t` for tables without holes). */
  get length(): number {
    return this.array.length;
  }

  /** The hash part's keys, in insertion order. */
  keys(): string[] {
    return Object.keys(this.hash);
  }

  /** True when the table has no hash part (an empty table counts as an array). */
  isArray(): boolean {
    return this.keys().length === 0;
  }

  isEmpty(): boolean {
    return this.array.length === 0 && this.keys().length === 0;
  }

  /** The array part as strings, when the table is a pure array of strings; otherwise undefined. */
  stringArray(): string[] | undefined {
    if (!this.isArray()) return undefined;
    const out: string[] = [];
    for (const item of this.array) {
      if (typeof item !== "string") return undefined;
      out.push(item);
    }
    return out;
  }

  /** A plain JS rendering: a pure array becomes an array, anything else an object. */
  toJSON(): PlainValue {
    return toPlain(this);
  }
}

/** What toPlain produces: JSON-like data. */
export type PlainValue = string | number | boolean | PlainValue[] | { [key: string]: PlainValue };

export function isConfigTable(value: unknown): value is ConfigTable {
  return value instanceof ConfigTable;
}

/**
 * Converts a value to plain JS data. A table without hash part becomes an array; a table with a
 * hash part becomes an object whose array items sit under the keys "1", "2", ...
 */
export function toPlain(value: ConfigValue): PlainValue {
  if (!(value instanceof ConfigTable)) return value;
  if (value.isArray()) return value.array.map(toPlain);
  const out: { [key: string]: PlainValue } = {};
  value.array.forEach((item, i) => {
    out[String(i + 1)] = toPlain(item);
  });
  for (const key of value.keys()) out[key] = toPlain(value.hash[key]);
  return out;
}

/** Builds a ConfigTable (recursively) from plain JS arrays and objects. */
export function fromPlain(value: PlainValue): ConfigValue {
  if (Array.isArray(value)) return new ConfigTable(value.map(fromPlain));
  if (typeof value === "object" && value !== null) {
    const hash: Record<string, ConfigValue> = {};
    for (const key of Object.keys(value)) hash[key] = fromPlain(value[key]);
    return new ConfigTable([], hash);
  }
  return value;
}

/** A value as a list of strings: a string alone is a one-item list; a pure string array is itself. */
export function asStringArray(value: ConfigValue | undefined): string[] | undefined {
  if (typeof value === "string") return [value];
  if (value instanceof ConfigTable) return value.stringArray();
  return undefined;
}

/** Lua truthiness: only nil and false are false. */
export function luaTruthy(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** An option as it was set: its value and where the assignment was written. */
export interface ConfigOption {
  value: ConfigValue;
  file: string;
  line: number;
  column: number;
}

export type SectionKind = "global" | "VirtualHost" | "Component";

export interface ConfigSection {
  kind: SectionKind;
  /** The host name; "*" for the global section. */
  name: string;
  /** `Component "x" "module"`: the module; undefined for VirtualHosts and external components. */
  module?: string;
  options: Map<string, ConfigOption>;
  /** Where the section was first opened (for the global section: the start of the main file). */
  file: string;
  line: number;
}

export interface ConfigDiagnostic {
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  /** 1-based; 0 when only the line is known. */
  column: number;
  message: string;
}

export interface ParsedConfig {
  global: ConfigSection;
  /** VirtualHosts and Components in the order they were first defined. */
  hosts: ConfigSection[];
  warnings: ConfigDiagnostic[];
  /** Every file read: the main file, Included files and files read by FileLine & co. */
  files: string[];
}

/** "file:line:column: message"; "file:line: message" without column; "file: message" without line. */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  const where = d.line <= 0 ? d.file : d.column > 0 ? `${d.file}:${d.line}:${d.column}` : `${d.file}:${d.line}`;
  return `${where}: ${d.message}`;
}

/** A fatal problem: a syntax error, an unreadable Include, a host defined twice with different kinds. */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(file: string, line: number, column: number, reason: string) {
    super(formatDiagnostic({ file, line, column, message: reason }));
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

/** Parses a Lua numeral (decimal or hex, integer or float); undefined when malformed. */
export function parseLuaNumber(text: string): number | undefined {
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  const m = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, intDigits, fracDigits, exponent] = m;
  if (intDigits === "" && (fracDigits === undefined || fracDigits === "")) return undefined;
  if (fracDigits === undefined && exponent === undefined) {
    // Hex integers wrap around modulo 2^64, as in Lua 5.4.
    return Number(BigInt.asIntN(64, BigInt("0x" + intDigits)));
  }
  let value = 0;
  for (const d of intDigits) value = value * 16 + parseInt(d, 16);
  let scale = 1 / 16;
  for (const d of fracDigits ?? "") {
    value += parseInt(d, 16) * scale;
    scale /= 16;
  }
  return value * Math.pow(2, Number(exponent ?? "0"));
}

/** Lua's tostring() for numbers: integers plainly, floats like C's "%.14g". */
export function luaNumberToString(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) {
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  }
  const exponent = Number(n.toExponential(13).split("e")[1]);
  if (exponent < -4 || exponent >= 14) {
    const [mantissa, exp] = n.toExponential(13).split("e");
    const digits = exp.replace(/^[+-]/, "");
    const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    return `${m}e${exp[0]}${digits.padStart(2, "0")}`;
  }
  const fixed = n.toFixed(Math.max(0, 13 - exponent));
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}
