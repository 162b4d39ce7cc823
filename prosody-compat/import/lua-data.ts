// Reading the data files of Prosody's internal store without running them: `.dat` files are
// `return <value>;`, `.list` files a sequence of `item(<value>);` records. Only literals are
// accepted (nil, booleans, numbers, strings, tables with any keys); anything else (a name, a call
// other than `item`, an operator other than a leading minus) is an error naming file:line:column.
// Tokens come from the configuration lexer, so every Lua string and number form reads the same.

import { tokenize, type Token } from "../config/lexer.js";

export type LuaValue = null | boolean | number | string | LuaTable;
export type LuaKey = boolean | number | string;

/** A Lua table: its entries in source order, positional items under keys 1, 2, 3, ... */
export class LuaTable {
  readonly entries = new Map<LuaKey, LuaValue>();
  get(key: LuaKey): LuaValue | undefined {
    return this.entries.get(key);
  }
  /** The positional part: values under 1..n, stopping at the first gap. */
  array(): LuaValue[] {
    const out: LuaValue[] = [];
    for (let i = 1; this.entries.has(i); i++) out.push(this.entries.get(i)!);
    return out;
  }
  /** Entries with string keys. */
  stringEntries(): Array<[string, LuaValue]> {
    return [...this.entries].filter((e): e is [string, LuaValue] => typeof e[0] === "string");
  }
  string(key: LuaKey): string | undefined {
    const v = this.entries.get(key);
    return typeof v === "string" ? v : undefined;
  }
  number(key: LuaKey): number | undefined {
    const v = this.entries.get(key);
    return typeof v === "number" ? v : undefined;
  }
  table(key: LuaKey): LuaTable | undefined {
    const v = this.entries.get(key);
    return v instanceof LuaTable ? v : undefined;
  }
}

export class LuaDataError extends Error {}

class Reader {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly file: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private fail(t: Token, msg: string): never {
    throw new LuaDataError(`${this.file}:${t.line}:${t.column}: ${msg} near '${t.raw || t.value || "<eof>"}'`);
  }
  private is(t: Token, type: Token["type"], value?: string): boolean {
    return t.type === type && (value === undefined || t.value === value);
  }
  expect(type: Token["type"], value?: string): Token {
    const t = this.next();
    if (!this.is(t, type, value)) this.fail(t, `expected ${value ?? type}`);
    return t;
  }
  accept(type: Token["type"], value?: string): boolean {
    if (this.is(this.peek(), type, value)) {
      this.i++;
      return true;
    }
    return false;
  }
  atEnd(): boolean {
    return this.peek().type === "eof";
  }

  value(): LuaValue {
    const t = this.next();
    switch (t.type) {
      case "string":
        return t.value;
      case "number":
        return t.number!;
      case "keyword":
        if (t.value === "nil") return null;
        if (t.value === "true") return true;
        if (t.value === "false") return false;
        return this.fail(t, "unexpected keyword");
      case "symbol":
        if (t.value === "{") return this.table();
        if (t.value === "-") {
          const n = this.next();
          if (n.type !== "number") this.fail(n, "expected a number");
          return -n.number!;
        }
        if (t.value === "(") {
          // Prosody writes NaN and infinities as (0/0), (1/0), (-1/0).
          const a = this.value();
          this.expect("symbol", "/");
          const b = this.value();
          this.expect("symbol", ")");
          if (typeof a === "number" && typeof b === "number") return a / b;
          return this.fail(t, "expected a number division");
        }
        return this.fail(t, "unexpected symbol");
      default:
        return this.fail(t, "expected a value");
    }
  }

  private table(): LuaTable {
    const table = new LuaTable();
    let n = 0;
    while (!this.accept("symbol", "}")) {
      const t = this.peek();
      if (this.accept("symbol", "[")) {
        const key = this.value();
        this.expect("symbol", "]");
        this.expect("symbol", "=");
        const v = this.value();
        if (key === null || key instanceof LuaTable || (typeof key === "number" && Number.isNaN(key))) this.fail(t, "invalid table key");
        if (v !== null) table.entries.set(key, v);
      } else if (t.type === "name" && this.tokens[this.i + 1]?.type === "symbol" && this.tokens[this.i + 1].value === "=") {
        this.i += 2;
        const v = this.value();
        if (v !== null) table.entries.set(t.value, v);
      } else {
        const v = this.value();
        n++;
        if (v !== null) table.entries.set(n, v);
      }
      if (!this.accept("symbol", ",") && !this.accept("symbol", ";")) {
        this.expect("symbol", "}");
        break;
      }
    }
    return table;
  }
}

/** A `.dat` file: `return <value>;` (an empty file is nil). */
export function parseDat(text: string, file: string): LuaValue {
  const r = new Reader(tokenize(text, file), file);
  if (r.atEnd()) return null;
  r.expect("keyword", "return");
  const v = r.value();
  r.accept("symbol", ";");
  r.expect("eof");
  return v;
}

/** A `.list` file: `item(<value>);` records (also `item{...}` and `item"..."` call forms). */
export function parseList(text: string, file: string): LuaValue[] {
  const r = new Reader(tokenize(text, file), file);
  const out: LuaValue[] = [];
  while (!r.atEnd()) {
    r.expect("name", "item");
    if (r.accept("symbol", "(")) {
      out.push(r.value());
      r.expect("symbol", ")");
    } else {
      out.push(r.value());
    }
    r.accept("symbol", ";");
  }
  return out;
}
