// Recursive-descent parser for Lua 5.4 syntax, producing the tree in ast.ts.
// Error messages follow Lua's wording ("'=' expected near 'x'", "unexpected symbol near '}'"),
// located at the offending token.

import type { BinaryOp, Expr, Stmt, TableField, UnaryOp } from "./ast.js";
import { tokenize, type Position, type Token } from "./lexer.js";
import { ConfigError } from "../../src/config/values.js";

/** Left and right binding priorities, as in Lua's lparser.c. */
const BINARY_PRIORITY: Record<BinaryOp, [number, number]> = {
  "or": [1, 1], "and": [2, 2],
  "<": [3, 3], ">": [3, 3], "<=": [3, 3], ">=": [3, 3], "~=": [3, 3], "==": [3, 3],
  "|": [4, 4], "~": [5, 5], "&": [6, 6], "<<": [7, 7], ">>": [7, 7],
  "..": [9, 8],
  "+": [10, 10], "-": [10, 10],
  "*": [11, 11], "/": [11, 11], "//": [11, 11], "%": [11, 11],
  "^": [14, 13],
};
const UNARY_PRIORITY = 12;

export function parseLua(source: string, file: string): Stmt[] {
  return new Parser(tokenize(source, file), file).chunk();
}

class Parser {
  private i = 0;

  constructor(private readonly tokens: Token[], private readonly file: string) {}

  chunk(): Stmt[] {
    const body = this.block();
    if (this.tok.type !== "eof") this.error("'<eof>' expected");
    return body;
  }

  // ---- token helpers ----

  private get tok(): Token {
    return this.tokens[this.i];
  }

  private lookahead(n = 1): Token {
    return this.tokens[Math.min(this.i + n, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (t.type !== "eof") this.i++;
    return t;
  }

  /** True when the current token is the given symbol or keyword. */
  private is(value: string): boolean {
    const t = this.tok;
    return (t.type === "symbol" || t.type === "keyword") && t.value === value;
  }

  private accept(value: string): boolean {
    if (!this.is(value)) return false;
    this.next();
    return true;
  }

  private error(message: string, at: Token = this.tok): never {
    throw new ConfigError(this.file, at.line, at.column, `${message} near '${at.raw}'`);
  }

  private expect(value: string): Token {
    if (!this.is(value)) this.error(`'${value}' expected`);
    return this.next();
  }

  /** Expects the symbol closing `opener` (Lua's check_match). */
  private expectClosing(value: string, openerText: string, opener: Position): void {
    if (this.accept(value)) return;
    if (opener.line === this.tok.line) this.error(`'${value}' expected`);
    this.error(`'${value}' expected (to close '${openerText}' at line ${opener.line}, column ${opener.column})`);
  }

  private expectName(): Token {
    if (this.tok.type !== "name") this.error("<name> expected");
    return this.next();
  }

  private pos(t: Token = this.tok): Position {
    return { line: t.line, column: t.column };
  }

  // ---- statements ----

  private blockFollows(withUntil: boolean): boolean {
    const t = this.tok;
    if (t.type === "eof") return true;
    if (t.type !== "keyword") return false;
    return t.value === "else" || t.value === "elseif" || t.value === "end" || (withUntil && t.value === "until");
  }

  private block(): Stmt[] {
    const out: Stmt[] = [];
    while (!this.blockFollows(true)) {
      if (this.is("return")) {
        const pos = this.pos();
        this.next();
        if (!this.blockFollows(true) && !this.is(";")) this.exprList();
        this.accept(";");
        out.push({ k: "unsupported", what: "'return' statement", pos });
        break;
      }
      const stmt = this.statement();
      if (stmt) out.push(stmt);
    }
    return out;
  }

  /** Parses `block end` after a construct's header (`do`, `then`, a function's parameters). */
  private blockEnd(opener: string, at: Position): void {
    this.block();
    this.expectClosing("end", opener, at);
  }

  private statement(): Stmt | undefined {
    const start = this.tok;
    const pos = this.pos();
    if (start.type === "symbol") {
      if (this.accept(";")) return undefined;
      if (this.accept("::")) {
        this.expectName();
        this.expect("::");
        return { k: "unsupported", what: "label", pos };
      }
    }
    if (start.type === "keyword") {
      switch (start.value) {
        case "break":
          this.next();
          return { k: "unsupported", what: "'break' statement", pos };
        case "goto":
          this.next();
          this.expectName();
          return { k: "unsupported", what: "'goto' statement", pos };
        case "do":
          this.next();
          this.blockEnd("do", pos);
          return { k: "unsupported", what: "'do' block", pos };
        case "while":
          this.next();
          this.expr();
          this.expect("do");
          this.blockEnd("while", pos);
          return { k: "unsupported", what: "'while' loop", pos };
        case "repeat":
          this.next();
          this.block();
          this.expectClosing("until", "repeat", pos);
          this.expr();
          return { k: "unsupported", what: "'repeat' loop", pos };
        case "if":
          this.ifStatement(pos);
          return { k: "unsupported", what: "'if' statement", pos };
        case "for":
          this.forStatement(pos);
          return { k: "unsupported", what: "'for' loop", pos };
        case "function":
          this.next();
          this.expectName();
          while (this.accept(".")) this.expectName();
          if (this.accept(":")) this.expectName();
          this.functionBody(pos);
          return { k: "unsupported", what: "function definition", pos };
        case "local":
          return this.localStatement(pos);
        default:
          break;
      }
    }
    return this.exprStatement(pos);
  }

  private ifStatement(pos: Position): void {
    this.next();
    this.expr();
    this.expect("then");
    this.block();
    while (this.is("elseif")) {
      this.next();
      this.expr();
      this.expect("then");
      this.block();
    }
    if (this.accept("else")) this.block();
    this.expectClosing("end", "if", pos);
  }

  private forStatement(pos: Position): void {
    this.next();
    this.expectName();
    if (this.accept("=")) {
      this.expr();
      this.expect(",");
      this.expr();
      if (this.accept(",")) this.expr();
    } else if (this.is(",") || this.is("in")) {
      while (this.accept(",")) this.expectName();
      this.expect("in");
      this.exprList();
    } else {
      this.error("'=' or 'in' expected");
    }
    this.expect("do");
    this.blockEnd("for", pos);
  }

  private localStatement(pos: Position): Stmt {
    this.next();
    if (this.accept("function")) {
      this.expectName();
      this.functionBody(pos);
      return { k: "unsupported", what: "'local function' definition", pos };
    }
    const names: { name: string; pos: Position }[] = [];
    do {
      const t = this.expectName();
      names.push({ name: t.value, pos: this.pos(t) });
      if (this.accept("<")) {
        // Lua 5.4 attributes: <const>, <close>
        this.expectName();
        this.expect(">");
      }
    } while (this.accept(","));
    const values = this.accept("=") ? this.exprList() : [];
    return { k: "local", names, values, pos };
  }

  private exprStatement(pos: Position): Stmt {
    const first = this.suffixedExpr();
    if (this.is("=") || this.is(",")) {
      const targets = [first];
      while (this.accept(",")) targets.push(this.suffixedExpr());
      for (const t of targets) {
        if (t.k !== "name" && t.k !== "index") this.error("syntax error");
      }
      this.expect("=");
      const values = this.exprList();
      return { k: "assign", targets, values, pos };
    }
    if (first.k !== "call" && first.k !== "method") this.error("syntax error");
    return { k: "call", call: first, pos };
  }

  // ---- expressions ----

  private exprList(): Expr[] {
    const list = [this.expr()];
    while (this.accept(",")) list.push(this.expr());
    return list;
  }

  expr(limit = 0): Expr {
    let left: Expr;
    const t = this.tok;
    const unary = this.unaryOp(t);
    if (unary) {
      this.next();
      const operand = this.expr(UNARY_PRIORITY);
      left = { k: "unary", op: unary, operand, pos: this.pos(t) };
    } else {
      left = this.simpleExpr();
    }
    for (;;) {
      const opTok = this.tok;
      const op = this.binaryOp(opTok);
      if (!op || BINARY_PRIORITY[op][0] <= limit) break;
      this.next();
      const right = this.expr(BINARY_PRIORITY[op][1]);
      left = { k: "binary", op, left, right, pos: this.pos(opTok) };
    }
    return left;
  }

  private unaryOp(t: Token): UnaryOp | undefined {
    if (t.type === "keyword" && t.value === "not") return "not";
    if (t.type === "symbol" && (t.value === "-" || t.value === "#" || t.value === "~")) return t.value;
    return undefined;
  }

  private binaryOp(t: Token): BinaryOp | undefined {
    if (t.type !== "symbol" && t.type !== "keyword") return undefined;
    return Object.prototype.hasOwnProperty.call(BINARY_PRIORITY, t.value) ? (t.value as BinaryOp) : undefined;
  }

  private simpleExpr(): Expr {
    const t = this.tok;
    const pos = this.pos(t);
    if (t.type === "number") {
      this.next();
      return { k: "number", value: t.number ?? 0, pos };
    }
    if (t.type === "string") {
      this.next();
      return { k: "string", value: t.value, pos };
    }
    if (t.type === "keyword") {
      switch (t.value) {
        case "nil":
        case "true":
        case "false":
          this.next();
          return { k: t.value, pos };
        case "function":
          this.next();
          this.functionBody(pos);
          return { k: "function", pos };
        default:
          break;
      }
    }
    if (t.type === "symbol") {
      if (t.value === "...") {
        this.next();
        return { k: "vararg", pos };
      }
      if (t.value === "{") return this.tableConstructor();
    }
    return this.suffixedExpr();
  }

  private primaryExpr(): Expr {
    const t = this.tok;
    if (t.type === "name") {
      this.next();
      return { k: "name", name: t.value, pos: this.pos(t) };
    }
    if (this.is("(")) {
      this.next();
      const inner = this.expr();
      this.expectClosing(")", "(", this.pos(t));
      return { k: "paren", inner, pos: this.pos(t) };
    }
    this.error("unexpected symbol");
  }

  private suffixedExpr(): Expr {
    const start = this.pos();
    let e = this.primaryExpr();
    for (;;) {
      const t = this.tok;
      const pos = this.pos(t);
      if (this.is(".")) {
        this.next();
        const name = this.expectName();
        e = { k: "index", obj: e, key: { k: "string", value: name.value, pos: this.pos(name) }, dotted: true, pos: start };
      } else if (this.is("[")) {
        this.next();
        const key = this.expr();
        this.expectClosing("]", "[", pos);
        e = { k: "index", obj: e, key, dotted: false, pos: start };
      } else if (this.is(":")) {
        this.next();
        const name = this.expectName();
        const args = this.callArgs();
        e = { k: "method", obj: e, name: name.value, args, pos: start };
      } else if (this.is("(") || this.is("{") || t.type === "string") {
        const args = this.callArgs();
        e = { k: "call", fn: e, args, pos: start };
      } else {
        return e;
      }
    }
  }

  private callArgs(): Expr[] {
    const t = this.tok;
    if (t.type === "string") {
      this.next();
      return [{ k: "string", value: t.value, pos: this.pos(t) }];
    }
    if (this.is("{")) return [this.tableConstructor()];
    if (this.is("(")) {
      this.next();
      const args = this.is(")") ? [] : this.exprList();
      this.expectClosing(")", "(", this.pos(t));
      return args;
    }
    this.error("function arguments expected");
  }

  private tableConstructor(): Expr {
    const open = this.expect("{");
    const pos = this.pos(open);
    const fields: TableField[] = [];
    while (!this.is("}")) {
      const t = this.tok;
      const fpos = this.pos(t);
      if (t.type === "name" && this.lookahead().type === "symbol" && this.lookahead().value === "=") {
        this.next();
        this.next();
        fields.push({ k: "named", name: t.value, value: this.expr(), pos: fpos });
      } else if (this.is("[")) {
        this.next();
        const key = this.expr();
        this.expectClosing("]", "[", fpos);
        this.expect("=");
        fields.push({ k: "keyed", key, value: this.expr(), pos: fpos });
      } else {
        fields.push({ k: "item", value: this.expr(), pos: fpos });
      }
      if (!this.accept(",") && !this.accept(";")) break;
    }
    this.expectClosing("}", "{", pos);
    return { k: "table", fields, pos };
  }

  private functionBody(pos: Position): void {
    const open = this.tok;
    this.expect("(");
    if (!this.is(")")) {
      do {
        if (this.accept("...")) break;
        this.expectName();
      } while (this.accept(","));
    }
    this.expectClosing(")", "(", this.pos(open));
    this.blockEnd("function", pos);
  }
}
