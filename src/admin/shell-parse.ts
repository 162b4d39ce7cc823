// The admin shell's command language: what admins type in Prosody's `prosodyctl shell`, a Lua method
// call on one of the shell's objects, `c2s:show()`, `module:load("ping", "example.com")`,
// `user:list("example.com", "al*")`. Arguments are Lua literals: strings ('…', "…", [[…]]), numbers,
// true/false/nil and flat tables ({ "a", "b" }). No other Lua is evaluated.

export type ShellValue = string | number | boolean | undefined | ShellValue[];

export type ShellLine =
  | { kind: "call"; object: string; method: string; args: ShellValue[] }
  | { kind: "help"; section?: string }
  | { kind: "empty" };

export class ShellSyntaxError extends Error {}

/** Parse one line. Throws ShellSyntaxError with a message for the admin. */
export function parseShellLine(input: string): ShellLine {
  const line = input.trim().replace(/;$/, "").trim();
  if (line === "") return { kind: "empty" };
  const help = /^help(?:\s+(\w+))?$/i.exec(line);
  if (help) return help[1] === undefined ? { kind: "help" } : { kind: "help", section: help[1].toLowerCase() };
  const p = new Parser(line);
  const object = p.name();
  if (object === undefined) throw new ShellSyntaxError(`expected a command such as c2s:show() near '${line.slice(0, 20)}'`);
  p.ws();
  if (!p.eat(":") && !p.eat(".")) throw new ShellSyntaxError(`expected ':' after '${object}' (for example ${object}:help())`);
  p.ws();
  const method = p.name();
  if (method === undefined) throw new ShellSyntaxError(`expected a method name after '${object}:'`);
  p.ws();
  let args: ShellValue[] = [];
  if (p.eat("(")) {
    args = p.list(")");
  } else if (!p.atEnd()) {
    // Lua's call forms f"str" and f{...}
    const c = p.peek();
    if (c === '"' || c === "'" || c === "[") args = [p.string()];
    else if (c === "{") args = [p.value()];
  }
  p.ws();
  if (!p.atEnd()) throw new ShellSyntaxError(`unexpected '${p.rest().slice(0, 20)}' after the command`);
  return { kind: "call", object, method, args };
}

/**
 * The one-shot form with several words, as `prosodyctl shell module reload foo bar.com`:
 * `module:reload("foo", "bar.com")`. One argument is taken as the command line itself.
 */
export function wordsToShellLine(words: readonly string[]): string {
  if (words.length === 1) return words[0];
  const [object, method, ...args] = words;
  return `${object}:${method}(${args.map((a) => JSON.stringify(a)).join(", ")})`;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? "";
  }
  rest(): string {
    return this.s.slice(this.i);
  }
  ws(): void {
    while (/\s/.test(this.peek())) this.i++;
  }
  eat(c: string): boolean {
    if (this.s.startsWith(c, this.i)) {
      this.i += c.length;
      return true;
    }
    return false;
  }
  name(): string | undefined {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.rest());
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }

  list(close: string): ShellValue[] {
    const out: ShellValue[] = [];
    this.ws();
    if (this.eat(close)) return out;
    for (;;) {
      this.ws();
      if (this.atEnd()) throw new ShellSyntaxError(`'${close}' expected near the end of the line`);
      out.push(this.value());
      this.ws();
      if (this.eat(close)) return out;
      // Lua tables also separate with ';'; calls only with ','.
      if (this.eat(",") || (close === "}" && this.eat(";"))) {
        this.ws();
        if (close === "}" && this.eat(close)) return out;
        continue;
      }
      throw new ShellSyntaxError(this.atEnd() ? `'${close}' expected near the end of the line` : `unexpected '${this.rest().slice(0, 20)}'`);
    }
  }

  value(): ShellValue {
    this.ws();
    const c = this.peek();
    if (c === '"' || c === "'" || (c === "[" && /^\[=*\[/.test(this.rest()))) return this.string();
    if (c === "{") {
      this.i++;
      return this.list("}");
    }
    const num = /^-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(this.rest());
    if (num) {
      this.i += num[0].length;
      return Number(num[0]);
    }
    const word = this.name();
    if (word === "true") return true;
    if (word === "false") return false;
    if (word === "nil") return undefined;
    if (word !== undefined) throw new ShellSyntaxError(`'${word}' is not a value: put text in quotes ("${word}")`);
    throw new ShellSyntaxError(this.atEnd() ? "unexpected end of the line" : `unexpected '${this.rest().slice(0, 20)}'`);
  }

  string(): string {
    const long = /^\[(=*)\[/.exec(this.rest());
    if (long) {
      const end = `]${long[1]}]`;
      const start = this.i + long[0].length;
      const stop = this.s.indexOf(end, start);
      if (stop < 0) throw new ShellSyntaxError("unfinished long string");
      this.i = stop + end.length;
      return this.s.slice(start, stop);
    }
    const quote = this.s[this.i++];
    let out = "";
    for (;;) {
      if (this.atEnd()) throw new ShellSyntaxError("unfinished string");
      const c = this.s[this.i++];
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.s[this.i++] ?? "";
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", '"': '"', "'": "'" };
      if (e in simple) out += simple[e];
      else if (/\d/.test(e)) {
        const m = /^\d{1,3}/.exec(this.s.slice(this.i - 1))!;
        this.i += m[0].length - 1;
        out += String.fromCharCode(Number(m[0]));
      } else if (e === "x") {
        const m = /^[0-9a-fA-F]{2}/.exec(this.rest());
        if (!m) throw new ShellSyntaxError("hexadecimal digit expected after \\x");
        this.i += 2;
        out += String.fromCharCode(parseInt(m[0], 16));
      } else throw new ShellSyntaxError(`invalid escape sequence '\\${e}'`);
    }
  }
}
