// Syntax tree of a config chunk. The parser accepts all of Lua 5.4's syntax (so statement boundaries
// are right and genuine syntax errors are caught), but statements the config interpreter does not run
// (if, for, function, ...) are kept only as an "unsupported" marker with their position.

import type { Position } from "./lexer.js";

export type BinaryOp =
  | "or" | "and"
  | "<" | ">" | "<=" | ">=" | "~=" | "=="
  | "|" | "~" | "&" | "<<" | ">>"
  | ".."
  | "+" | "-" | "*" | "/" | "//" | "%" | "^";

export type UnaryOp = "not" | "#" | "-" | "~";

export type Expr =
  | { k: "nil"; pos: Position }
  | { k: "true"; pos: Position }
  | { k: "false"; pos: Position }
  | { k: "vararg"; pos: Position }
  | { k: "number"; value: number; pos: Position }
  | { k: "string"; value: string; pos: Position }
  | { k: "name"; name: string; pos: Position }
  /** `obj.key` (key is a string node) or `obj[key]`. */
  | { k: "index"; obj: Expr; key: Expr; dotted: boolean; pos: Position }
  | { k: "call"; fn: Expr; args: Expr[]; pos: Position }
  | { k: "method"; obj: Expr; name: string; args: Expr[]; pos: Position }
  | { k: "function"; pos: Position }
  | { k: "table"; fields: TableField[]; pos: Position }
  | { k: "binary"; op: BinaryOp; left: Expr; right: Expr; pos: Position }
  | { k: "unary"; op: UnaryOp; operand: Expr; pos: Position }
  | { k: "paren"; inner: Expr; pos: Position };

export type TableField =
  /** `value` */
  | { k: "item"; value: Expr; pos: Position }
  /** `name = value` */
  | { k: "named"; name: string; value: Expr; pos: Position }
  /** `[key] = value` */
  | { k: "keyed"; key: Expr; value: Expr; pos: Position };

export type Stmt =
  /** `a = 1`, `a, b = 1, 2`, `t.x = 1` */
  | { k: "assign"; targets: Expr[]; values: Expr[]; pos: Position }
  /** A call used as a statement: `VirtualHost "x"`, `Include "f"`, `Component "c" "muc" { ... }` */
  | { k: "call"; call: Expr; pos: Position }
  /** `local a, b = 1, 2` */
  | { k: "local"; names: { name: string; pos: Position }[]; values: Expr[]; pos: Position }
  /** Any other statement: `if`, `for`, `while`, `function`, `return`, `do`, `goto`, ... */
  | { k: "unsupported"; what: string; pos: Position };
