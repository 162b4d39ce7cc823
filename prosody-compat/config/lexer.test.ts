import { describe, expect, test } from "vitest";
import { tokenize } from "./lexer.js";
import { parseLuaNumber } from "../../src/config/values.js";
import { ConfigError } from "../../src/config/values.js";

/** The decoded value of the single string token in `src`. */
function str(src: string): string {
  const [t] = tokenize(src, "s.lua");
  expect(t.type).toBe("string");
  return t.value;
}

/** The error thrown when lexing `src`. */
function lexError(src: string): ConfigError {
  try {
    tokenize(src, "bad.lua");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("no error");
}

describe("strings", () => {
  test("quoted forms", () => {
    expect(str(`"double"`)).toBe("double");
    expect(str(`'single'`)).toBe("single");
    expect(str(`"it's"`)).toBe("it's");
    expect(str(`'say "hi"'`)).toBe('say "hi"');
    expect(str(`""`)).toBe("");
  });

  test("escapes", () => {
    expect(str(String.raw`"a\nb\tc\\d\"e\'f"`)).toBe("a\nb\tc\\d\"e'f");
    expect(str(String.raw`"\a\b\f\r\v"`)).toBe("\x07\b\f\r\v");
    expect(str(String.raw`"\65\066\0677"`)).toBe("ABC7");
    expect(str(String.raw`"\x41\x7a"`)).toBe("Az");
    expect(str(String.raw`"\u{48}\u{e9}\u{1F600}"`)).toBe("Hé😀");
    expect(str(String.raw`"\xC3\xA9"`)).toBe("é"); // bytes are decoded as UTF-8
    expect(str('"one\\z\n     two"')).toBe("onetwo");
    expect(str('"line\\\nnext"')).toBe("line\nnext");
  });

  test("non-ASCII text is kept", () => {
    expect(str(`"café ☕"`)).toBe("café ☕");
  });

  test("long brackets", () => {
    expect(str("[[plain]]")).toBe("plain");
    expect(str("[[\nfirst newline skipped\n]]")).toBe("first newline skipped\n");
    expect(str("[==[has ]] and ]=] inside]==]")).toBe("has ]] and ]=] inside");
    expect(str(String.raw`[[no \n escapes]]`)).toBe(String.raw`no \n escapes`);
  });
});

describe("numbers", () => {
  test.each([
    ["3", 3],
    ["345", 345],
    ["0xff", 255],
    ["0XBEBADA", 0xbebada],
    ["3.0", 3],
    ["3.1416", 3.1416],
    ["314.16e-2", 3.1416],
    ["0.31416E1", 3.1416],
    ["34e1", 340],
    [".5", 0.5],
    ["5.", 5],
    ["0x0.1E", 0.1171875],
    ["0xA23p-4", 162.1875],
    ["0X1.921FB54442D18P+1", Math.PI],
    ["0xffffffffffffffff", -1],
  ])("%s", (text, value) => {
    expect(parseLuaNumber(text)).toBeCloseTo(value, 12);
    const [t] = tokenize(text, "n.lua");
    expect(t.type).toBe("number");
    expect(t.number).toBeCloseTo(value, 12);
  });

  test("malformed numbers", () => {
    expect(lexError("x = 3x").message).toBe("bad.lua:1:5: malformed number near '3x'");
    expect(lexError("x = 1..2").message).toBe("bad.lua:1:5: malformed number near '1..2'");
    expect(lexError("x = 0x").message).toBe("bad.lua:1:5: malformed number near '0x'");
    expect(lexError("x = 2e").message).toBe("bad.lua:1:5: malformed number near '2e'");
  });
});

describe("comments and positions", () => {
  test("line, block and level comments are skipped", () => {
    const toks = tokenize("a -- one\n--[[ two\nthree ]] b --[==[ x ]] ]==] c\n--[ not a block\nd", "c.lua");
    expect(toks.map((t) => [t.value, t.line, t.column])).toEqual([
      ["a", 1, 1],
      ["b", 3, 10],
      ["c", 3, 29],
      ["d", 5, 1],
      ["<eof>", 5, 2],
    ]);
  });

  test("shebang line is skipped", () => {
    expect(tokenize("#!/usr/bin/env lua\nx", "s.lua")[0]).toMatchObject({ value: "x", line: 2, column: 1 });
  });

  test("CRLF counts as one line break", () => {
    expect(tokenize("a\r\nb\rc", "s.lua").map((t) => t.line)).toEqual([1, 2, 3, 3]);
  });

  test("symbols take the longest match", () => {
    expect(tokenize("... .. . == = ~= ~ <= << < >= >> > // / :: :", "s.lua").map((t) => t.value).slice(0, -1)).toEqual([
      "...", "..", ".", "==", "=", "~=", "~", "<=", "<<", "<", ">=", ">>", ">", "//", "/", "::", ":",
    ]);
  });

  test("keywords are told from names", () => {
    expect(tokenize("local localhost nil nilly", "s.lua").map((t) => t.type)).toEqual(["keyword", "name", "keyword", "name", "eof"]);
  });
});

describe("lexical errors carry file:line:column", () => {
  test("unfinished string", () => {
    const e = lexError('a = 1\nb = "abc\nc = 2');
    expect([e.file, e.line, e.column]).toEqual(["bad.lua", 2, 5]);
    expect(e.message).toBe(`bad.lua:2:5: unfinished string near '"abc'`);
    expect(lexError("x = 'abc").message).toBe(`bad.lua:1:5: unfinished string near ''abc'`);
  });

  test("unfinished long string and comment", () => {
    expect(lexError("x = 1\n  y = [==[ abc ]] ").message).toBe(
      "bad.lua:2:7: unfinished long string (starting at line 2) near '<eof>'",
    );
    expect(lexError("--[[ never closed\nx = 1").message).toBe(
      "bad.lua:1:1: unfinished long comment (starting at line 1) near '<eof>'",
    );
  });

  test("bad escapes", () => {
    expect(lexError(String.raw`x = "a\qb"`).message).toBe(String.raw`bad.lua:1:7: invalid escape sequence '\q'`);
    expect(lexError(String.raw`x = "\xZZ"`).message).toBe(String.raw`bad.lua:1:6: hexadecimal digit expected near '\xZZ'`);
    expect(lexError(String.raw`x = "\300"`).message).toBe(String.raw`bad.lua:1:6: decimal escape too large near '\300'`);
    expect(lexError(String.raw`x = "\u{110000}"`).message).toBe("bad.lua:1:6: UTF-8 value too large");
    expect(lexError(String.raw`x = "\u48"`).message).toBe(String.raw`bad.lua:1:6: missing '{' in \u{xxxx}`);
  });

  test("invalid long string delimiter and stray characters", () => {
    expect(lexError("x = [=x").message).toBe("bad.lua:1:5: invalid long string delimiter near '[='");
    expect(lexError("x = 1\n  y = @home").message).toBe("bad.lua:2:7: unexpected symbol near '@'");
    expect(lexError("x = $").message).toBe("bad.lua:1:5: unexpected symbol near '$'");
  });
});
