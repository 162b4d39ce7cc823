import { describe, expect, it } from "vitest";
import { parseShellLine, ShellSyntaxError, wordsToShellLine } from "./shell-parse.js";

describe("admin shell syntax (Prosody's shell commands)", () => {
  it("method calls with Lua literals", () => {
    expect(parseShellLine("c2s:show()")).toEqual({ kind: "call", object: "c2s", method: "show", args: [] });
    expect(parseShellLine(`  module:load("ping", 'example.com') ; `)).toEqual({ kind: "call", object: "module", method: "load", args: ["ping", "example.com"] });
    expect(parseShellLine("x:y(1, -2.5, 0x10, 1e3, true, false, nil)")).toEqual({
      kind: "call",
      object: "x",
      method: "y",
      args: [1, -2.5, 16, 1000, true, false, undefined],
    });
    expect(parseShellLine('c2s:show(nil, { "jid", "ipv"; })')).toMatchObject({ args: [undefined, ["jid", "ipv"]] });
    expect(parseShellLine("c2s:show{}")).toMatchObject({ args: [[]] });
    expect(parseShellLine('user:list"example.com"')).toMatchObject({ args: ["example.com"] });
    expect(parseShellLine("server.version()")).toMatchObject({ object: "server", method: "version" });
  });

  it("string escapes and long strings as Lua reads them", () => {
    expect(parseShellLine(String.raw`a:b("q\"t\\n\n\t\65\x41")`)).toMatchObject({ args: ['q"t\\n\n\tAA'] });
    expect(parseShellLine("a:b([[it's \"raw\" \\n]], [==[with ]] inside]==])")).toMatchObject({ args: ['it\'s "raw" \\n', "with ]] inside"] });
    expect(parseShellLine("a:b('')")).toMatchObject({ args: [""] });
  });

  it("help, blank lines", () => {
    expect(parseShellLine("help")).toEqual({ kind: "help" });
    expect(parseShellLine("help C2S")).toEqual({ kind: "help", section: "c2s" });
    expect(parseShellLine("   ")).toEqual({ kind: "empty" });
  });

  it("refuses everything else with a message", () => {
    for (const [line, msg] of [
      ["c2s:show(", /'\)' expected/],
      ['user:list("localhost"', /'\)' expected/],
      ["user:list(localhost)", /put text in quotes/],
      ['a:b("open)', /unfinished string/],
      ["a:b([[open)", /unfinished long string/],
      [String.raw`a:b("\q")`, /invalid escape/],
      ["os.execute('rm -rf /')", /^$|.*/],
      ["c2s", /expected ':'/],
      ["c2s:", /method name/],
      ["c2s:show() extra", /unexpected 'extra'/],
      ["a:b(1 2)", /unexpected '2\)'/],
      ["1+1", /expected a command/],
      ["a:b({1, {2}})", /.*/],
    ] as const) {
      let parsed: unknown;
      try {
        parsed = parseShellLine(line);
      } catch (err) {
        expect(err, line).toBeInstanceOf(ShellSyntaxError);
        expect((err as Error).message, line).toMatch(msg);
        continue;
      }
      // Only plain method calls on a name get through: never any other Lua.
      expect(parsed, line).toMatchObject({ kind: "call" });
      expect(line, line).toMatch(/^[a-z]+[.:][a-z]+\(/);
    }
  });

  it("prosodyctl's word form", () => {
    expect(wordsToShellLine(["c2s:show()"])).toBe("c2s:show()");
    expect(wordsToShellLine(["module", "reload", "ping", "example.com"])).toBe('module:reload("ping", "example.com")');
    expect(wordsToShellLine(["server", "version"])).toBe("server:version()");
    expect(parseShellLine(wordsToShellLine(["user", "list", 'odd"host'])).kind).toBe("call");
  });
});
