// Lua's unary and binary operators over config values. Bitwise operators are not evaluated.

import type { Expr } from "./ast.js";
import { Builtin, Unsupported, type RtValue, type Scope, describeVariable, luaType, toArithmetic } from "./runtime.js";
import { ConfigTable, luaNumberToString, luaTruthy } from "../../src/config/values.js";

type OperatorExpr = Extract<Expr, { k: "binary" } | { k: "unary" }>;

export function evalOperator(e: OperatorExpr, scope: Scope, evaluate: (x: Expr) => RtValue): RtValue {
  const error = (message: string): Unsupported => new Unsupported("error", message, scope.file, e.pos);

  if (e.k === "unary") {
    if (e.op === "~") return new Unsupported("unsupported", "bitwise operator '~'", scope.file, e.pos);
    const v = evaluate(e.operand);
    if (v instanceof Unsupported) return v;
    const what = describeVariable(e.operand, scope.locals);
    switch (e.op) {
      case "not":
        return !luaTruthy(v);
      case "-": {
        const n = toArithmetic(v);
        return n === undefined ? error(`attempt to perform arithmetic on a ${luaType(v)} value${what}`) : -n;
      }
      case "#":
        if (typeof v === "string") return Buffer.byteLength(v, "utf8");
        if (v instanceof ConfigTable) return v.length;
        return error(`attempt to get length of a ${luaType(v)} value${what}`);
    }
  }

  // Short-circuit operators return one of their operands, as in Lua.
  if (e.op === "or" || e.op === "and") {
    const left = evaluate(e.left);
    if (left instanceof Unsupported) return left;
    if (luaTruthy(left) === (e.op === "or")) return left;
    return evaluate(e.right);
  }
  if (e.op === "|" || e.op === "~" || e.op === "&" || e.op === "<<" || e.op === ">>") {
    return new Unsupported("unsupported", `bitwise operator '${e.op}'`, scope.file, e.pos);
  }

  const left = evaluate(e.left);
  if (left instanceof Unsupported) return left;
  const right = evaluate(e.right);
  if (right instanceof Unsupported) return right;
  const blame = (bad: RtValue): string =>
    bad === left ? describeVariable(e.left, scope.locals) : describeVariable(e.right, scope.locals);

  switch (e.op) {
    case "..": {
      const isText = (v: RtValue): v is string | number => typeof v === "string" || typeof v === "number";
      if (!isText(left) || !isText(right)) {
        const bad = isText(left) ? right : left;
        return error(`attempt to concatenate a ${luaType(bad)} value${blame(bad)}`);
      }
      const text = (v: string | number): string => (typeof v === "number" ? luaNumberToString(v) : v);
      return text(left) + text(right);
    }
    case "==":
    case "~=": {
      const equal = left === right;
      return e.op === "==" ? equal : !equal;
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const comparable =
        (typeof left === "number" && typeof right === "number") || (typeof left === "string" && typeof right === "string");
      if (!comparable) {
        const lt = luaType(left);
        const rt = luaType(right);
        return error(lt === rt ? `attempt to compare two ${lt} values` : `attempt to compare ${lt} with ${rt}`);
      }
      const l = left as number | string;
      const r = right as number | string;
      if (e.op === "<") return l < r;
      if (e.op === "<=") return l <= r;
      if (e.op === ">") return l > r;
      return l >= r;
    }
    default: {
      const a = toArithmetic(left);
      const b = toArithmetic(right);
      if (a === undefined || b === undefined || left instanceof Builtin || right instanceof Builtin) {
        const bad = a === undefined ? left : right;
        return error(`attempt to perform arithmetic on a ${luaType(bad)} value${blame(bad)}`);
      }
      const integers = Number.isInteger(a) && Number.isInteger(b);
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "/":
          return a / b;
        case "^":
          return Math.pow(a, b);
        case "//":
          if (integers && b === 0) return error("attempt to perform 'n//0'");
          return Math.floor(a / b);
        case "%": {
          if (integers && b === 0) return error("attempt to perform 'n%%0'");
          const m = a % b;
          return m !== 0 && (m < 0) !== (b < 0) ? m + b : m;
        }
      }
      return error(`unknown operator '${e.op}'`);
    }
  }
}
