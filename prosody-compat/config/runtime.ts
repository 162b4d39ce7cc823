// Runtime values of the config interpreter and the pure operations on them (Lua semantics).

import type { Expr } from "./ast.js";
import type { Position } from "./lexer.js";

import { ConfigTable, parseLuaNumber, type ConfigSection, type ConfigValue } from "../../src/config/values.js";

/** Per-file execution state: Lua locals are chunk-scoped, and each file starts in the global section. */
export interface Scope {
  /** The file's name as shown in diagnostics. */
  file: string;
  /** Directory that relative paths in this file are resolved against. */
  dir: string;
  /** The section assignments currently go to. */
  current: ConfigSection;
  locals: Map<string, RtValue>;
  /** "section\0option" for every option set in this file (for duplicate warnings). */
  assigned: Map<string, number>;
}

/** A function the config may call: VirtualHost, Component, Include, FileLine, ... */
export class Builtin {
  constructor(
    readonly name: string,
    readonly invoke: (args: Expr[], pos: Position, scope: Scope) => RtValue,
  ) {}
}

/**
 * The result of evaluating something the interpreter cannot or will not evaluate: arbitrary Lua
 * ("unsupported") or a Lua runtime error ("error"). It poisons the expression it appears in, so the
 * option being assigned is skipped with a warning located at the construct.
 */
export class Unsupported {
  constructor(
    readonly kind: "unsupported" | "error",
    /** For "unsupported": the construct, e.g. "Lua.require"; for "error": the error message. */
    readonly text: string,
    readonly file: string,
    readonly pos: Position,
    /** While open, `.field` accesses extend text ("Lua" -> "Lua.require"); a call closes it. */
    readonly open = false,
  ) {}

  extend(field: string): Unsupported {
    return this.open ? new Unsupported(this.kind, `${this.text}.${field}`, this.file, this.pos, true) : this;
  }

  close(): Unsupported {
    return this.open ? new Unsupported(this.kind, this.text, this.file, this.pos, false) : this;
  }

  get message(): string {
    return this.kind === "error" ? this.text : `unsupported Lua construct '${this.text}'`;
  }
}

export type RtValue = ConfigValue | undefined | Builtin | Unsupported;

/** Lua's type() of a runtime value, for error messages. */
export function luaType(v: RtValue): string {
  if (v === undefined) return "nil";
  if (v instanceof ConfigTable) return "table";
  if (v instanceof Builtin) return "function";
  if (v instanceof Unsupported) return "userdata";
  return typeof v;
}


/** Lua's string-to-number coercion for arithmetic: numbers as is, numeric strings converted. */
export function toArithmetic(v: RtValue): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const text = v.trim();
    const negative = text.startsWith("-");
    const body = negative || text.startsWith("+") ? text.slice(1) : text;
    const n = parseLuaNumber(body);
    return n === undefined ? undefined : negative ? -n : n;
  }
  return undefined;
}

/** Describes a variable the way Lua's error messages do: " (global 'x')", " (field 'y')". */
export function describeVariable(e: Expr, locals: Map<string, RtValue>): string {
  if (e.k === "name") return locals.has(e.name) ? ` (local '${e.name}')` : ` (global '${e.name}')`;
  if (e.k === "index" && e.key.k === "string") return ` (field '${e.key.value}')`;
  if (e.k === "string") return " (constant)";
  return "";
}

/** Names of Lua's standard globals, reachable in Prosody only through `Lua.<name>`. */
export const LUA_GLOBALS = new Set([
  "_G", "_VERSION", "assert", "collectgarbage", "coroutine", "debug", "dofile", "error", "getmetatable",
  "io", "ipairs", "load", "loadfile", "math", "next", "os", "package", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawlen", "rawset", "require", "select", "setmetatable", "string", "table", "tonumber",
  "tostring", "type", "utf8", "warn", "xpcall",
]);

/** Converts a file-name glob (only `*` and `?`) into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const c of glob) {
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
