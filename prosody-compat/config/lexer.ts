// Lua 5.4 lexer for prosody.cfg.lua: names, keywords, strings in every form, numerals, symbols.
// Lexical errors (unfinished strings or comments, bad escapes, malformed numbers) are ConfigErrors.
// Lines and columns are 1-based; a column counts UTF-16 code units, a tab counts as one.

import { ConfigError, parseLuaNumber } from "../../src/config/values.js";

export type TokenType = "name" | "keyword" | "string" | "number" | "symbol" | "eof";

export interface Position {
  line: number;
  column: number;
}

export interface Token extends Position {
  type: TokenType;
  /** Names, keywords and symbols: their text. Strings: the decoded value. Numbers: the source text. */
  value: string;
  /** Numbers only. */
  number?: number;
  /** The token as written in the source (used in "near '...'" messages). */
  raw: string;
}

const KEYWORDS = new Set([
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
]);

// Longest first, so "..." wins over ".." over ".".
const SYMBOLS = [
  "...", "..", "==", "~=", "<=", ">=", "<<", ">>", "//", "::",
  "+", "-", "*", "/", "%", "^", "#", "&", "~", "|", "<", ">", "=",
  "(", ")", "{", "}", "[", "]", ";", ":", ",", ".",
];

const isDigit = (c: string): boolean => c >= "0" && c <= "9";
const isHexDigit = (c: string): boolean => /^[0-9a-fA-F]$/.test(c);
const isNameStart = (c: string): boolean => /^[A-Za-z_]$/.test(c);
const isNameChar = (c: string): boolean => /^[A-Za-z0-9_]$/.test(c);
const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f";

export function tokenize(source: string, file: string): Token[] {
  return new Lexer(source, file).run();
}

class Lexer {
  private readonly src: string;
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private readonly tokens: Token[] = [];

  constructor(source: string, private readonly file: string) {
    // Lua treats \r\n, \n\r, \r and \n alike as one line break.
    this.src = source.replace(/\r\n|\n\r|\r/g, "\n");
  }

  run(): Token[] {
    // A first line starting with '#' (a shebang) is skipped, as the Lua loader does.
    if (this.src.startsWith("#")) {
      while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++;
    }
    for (;;) {
      this.skipSpaceAndComments();
      const start = this.here();
      if (this.pos >= this.src.length) {
        this.tokens.push({ type: "eof", value: "<eof>", raw: "<eof>", ...start });
        return this.tokens;
      }
      const c = this.src[this.pos];
      if (isNameStart(c)) this.readName(start);
      else if (isDigit(c) || (c === "." && isDigit(this.peek(1)))) this.readNumber(start);
      else if (c === '"' || c === "'") this.readShortString(start, c);
      else if (c === "[" && (this.peek(1) === "[" || this.peek(1) === "=")) this.readLongStringToken(start);
      else this.readSymbol(start);
    }
  }

  private here(): Position {
    return { line: this.line, column: this.pos - this.lineStart + 1 };
  }

  private peek(offset = 0): string {
    return this.src[this.pos + offset] ?? "";
  }

  private fail(at: Position, message: string): never {
    throw new ConfigError(this.file, at.line, at.column, message);
  }

  /** Advances over one character, keeping line accounting. */
  private advance(): string {
    const c = this.src[this.pos++];
    if (c === "\n") {
      this.line++;
      this.lineStart = this.pos;
    }
    return c;
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (isSpace(c)) {
        this.advance();
      } else if (c === "-" && this.peek(1) === "-") {
        const start = this.here();
        this.pos += 2;
        const level = this.longBracketLevel();
        if (level >= 0) {
          this.readLongBracket(level, start, "comment");
        } else {
          while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++;
        }
      } else {
        return;
      }
    }
  }

  /** At '[': returns n for "[" "="*n "[", or -1 when this is not an opening long bracket. */
  private longBracketLevel(): number {
    if (this.peek() !== "[") return -1;
    let n = 0;
    while (this.peek(1 + n) === "=") n++;
    return this.peek(1 + n) === "[" ? n : -1;
  }

  /** Reads a long bracket body (the cursor is on its opening '['). Returns the content. */
  private readLongBracket(level: number, start: Position, what: "string" | "comment"): string {
    this.pos += level + 2;
    // A line break right after the opening bracket is not part of the content.
    if (this.peek() === "\n") this.advance();
    const close = "]" + "=".repeat(level) + "]";
    const end = this.src.indexOf(close, this.pos);
    if (end < 0) {
      this.fail(start, `unfinished long ${what} (starting at line ${start.line}) near '<eof>'`);
    }
    const content = this.src.slice(this.pos, end);
    while (this.pos < end) this.advance();
    this.pos += close.length;
    return content;
  }

  private readName(start: Position): void {
    const from = this.pos;
    while (this.pos < this.src.length && isNameChar(this.src[this.pos])) this.pos++;
    const text = this.src.slice(from, this.pos);
    this.tokens.push({ type: KEYWORDS.has(text) ? "keyword" : "name", value: text, raw: text, ...start });
  }

  private readNumber(start: Position): void {
    // Consume like Lua's read_numeral: digits, letters, '.', exponent signs; then validate.
    const from = this.pos;
    const hex = this.peek() === "0" && (this.peek(1) === "x" || this.peek(1) === "X");
    const expo = hex ? "pP" : "eE";
    if (hex) this.pos += 2;
    for (;;) {
      const c = this.peek();
      if (c !== "" && expo.includes(c)) {
        this.pos++;
        if (this.peek() === "+" || this.peek() === "-") this.pos++;
      } else if (isHexDigit(c) || c === ".") {
        this.pos++;
      } else {
        break;
      }
    }
    if (isNameStart(this.peek())) this.pos++; // glued letters make the numeral malformed
    const text = this.src.slice(from, this.pos);
    const value = parseLuaNumber(text);
    if (value === undefined) this.fail(start, `malformed number near '${text}'`);
    this.tokens.push({ type: "number", value: text, number: value, raw: text, ...start });
  }

  private readLongStringToken(start: Position): void {
    const level = this.longBracketLevel();
    if (level < 0) {
      this.fail(start, "invalid long string delimiter near '[='");
    }
    const from = this.pos;
    const content = this.readLongBracket(level, start, "string");
    this.tokens.push({ type: "string", value: content, raw: this.src.slice(from, this.pos), ...start });
  }

  private readShortString(start: Position, quote: string): void {
    const from = this.pos;
    this.pos++;
    const bytes: number[] = [];
    const text = (s: string): void => {
      for (const b of Buffer.from(s, "utf8")) bytes.push(b);
    };
    for (;;) {
      if (this.pos >= this.src.length || this.src[this.pos] === "\n") {
        this.fail(start, `unfinished string near '${this.src.slice(from, this.pos)}'`);
      }
      const c = this.src[this.pos];
      if (c === quote) {
        this.pos++;
        break;
      }
      if (c !== "\\") {
        // Copy a run of plain characters at once (keeps surrogate pairs together).
        let end = this.pos + 1;
        while (end < this.src.length && !"\\\n".includes(this.src[end]) && this.src[end] !== quote) end++;
        text(this.src.slice(this.pos, end));
        this.pos = end;
        continue;
      }
      this.readEscape(bytes);
    }
    const value = new TextDecoder("utf-8").decode(Uint8Array.from(bytes));
    this.tokens.push({ type: "string", value, raw: this.src.slice(from, this.pos), ...start });
  }

  /** The cursor is on a backslash inside a short string; appends the escape's bytes. */
  private readEscape(bytes: number[]): void {
    const at = this.here();
    this.pos++;
    const c = this.peek();
    if (c === "") this.fail(at, "unfinished string near '<eof>'");
    const simple: Record<string, number> = {
      a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34, "'": 39,
    };
    if (c in simple) {
      bytes.push(simple[c]);
      this.pos++;
    } else if (c === "\n") {
      bytes.push(10);
      this.advance();
    } else if (c === "x") {
      this.pos++;
      const digits = this.src.slice(this.pos, this.pos + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(digits)) this.fail(at, `hexadecimal digit expected near '\\x${digits}'`);
      bytes.push(parseInt(digits, 16));
      this.pos += 2;
    } else if (c === "z") {
      this.pos++;
      while (this.pos < this.src.length && isSpace(this.src[this.pos])) this.advance();
    } else if (isDigit(c)) {
      let digits = "";
      while (digits.length < 3 && isDigit(this.peek())) digits += this.src[this.pos++];
      const n = Number(digits);
      if (n > 255) this.fail(at, `decimal escape too large near '\\${digits}'`);
      bytes.push(n);
    } else if (c === "u") {
      this.pos++;
      if (this.peek() !== "{") this.fail(at, "missing '{' in \\u{xxxx}");
      this.pos++;
      let digits = "";
      while (isHexDigit(this.peek())) digits += this.src[this.pos++];
      if (digits === "") this.fail(at, "hexadecimal digit expected in \\u{xxxx}");
      if (this.peek() !== "}") this.fail(at, "missing '}' in \\u{xxxx}");
      this.pos++;
      const cp = parseInt(digits, 16);
      if (digits.replace(/^0+/, "").length > 6 || cp > 0x10ffff) this.fail(at, "UTF-8 value too large");
      // Surrogate code points cannot be represented in a JS string as UTF-8; encode them by hand.
      if (cp >= 0xd800 && cp <= 0xdfff) {
        bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
      } else {
        for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) bytes.push(b);
      }
    } else {
      this.fail(at, `invalid escape sequence '\\${c}'`);
    }
  }

  private readSymbol(start: Position): void {
    for (const s of SYMBOLS) {
      if (this.src.startsWith(s, this.pos)) {
        this.pos += s.length;
        this.tokens.push({ type: "symbol", value: s, raw: s, ...start });
        return;
      }
    }
    const ch = String.fromCodePoint(this.src.codePointAt(this.pos) ?? 0);
    this.fail(start, `unexpected symbol near '${ch}'`);
  }
}

