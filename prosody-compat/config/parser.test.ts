import { describe, expect, test } from "vitest";
import { parseConfig } from "./index.js";
import { globalOption, optionsOf, parse, parseError, warningsOf } from "./test-helpers.js";
import { ConfigTable } from "../../src/config/values.js";

describe("option values", () => {
  test("scalars", () => {
    const cfg = parse(`
      s = "text"; n = 42; f = 1.5; neg = -7; hex = 0x10
      yes = true no = false
      nothing = nil
    `);
    expect(optionsOf(cfg.global)).toEqual({ s: "text", n: 42, f: 1.5, neg: -7, hex: 16, yes: true, no: false });
    expect(cfg.warnings).toEqual([]);
  });

  test("string forms", () => {
    expect(globalOption(`x = [[long string]]`, "x")).toBe("long string");
    expect(globalOption(`x = [==[with ]] inside]==]`, "x")).toBe("with ]] inside");
    expect(globalOption(String.raw`x = 'tab\there'`, "x")).toBe("tab\there");
  });

  test("arrays with ; or , separators and trailing separators", () => {
    expect(globalOption(`x = { "a"; "b"; }`, "x")).toEqual(["a", "b"]);
    expect(globalOption(`x = { "a", "b", }`, "x")).toEqual(["a", "b"]);
    expect(globalOption(`x = { "a", "b"; "c" }`, "x")).toEqual(["a", "b", "c"]);
    expect(globalOption(`x = { }`, "x")).toEqual([]);
    expect(globalOption(`x = { 5222, 5223 }`, "x")).toEqual([5222, 5223]);
  });

  test("maps with name = and [\"key\"] = keys", () => {
    expect(globalOption(`x = { key = "k.pem", ["certificate"] = "c.pem", ["with space"] = 1 }`, "x")).toEqual({
      key: "k.pem",
      certificate: "c.pem",
      "with space": 1,
    });
  });

  test("nested and mixed tables", () => {
    const v = parse(`log = { info = "a.log"; { levels = { "error" }; to = "syslog" } }`).global.options.get("log")?.value;
    expect(v).toBeInstanceOf(ConfigTable);
    const t = v as ConfigTable;
    expect(t.array).toHaveLength(1);
    expect(t.get("info")).toBe("a.log");
    expect((t.get(1) as ConfigTable).get("to")).toBe("syslog");
    expect(((t.get(1) as ConfigTable).get("levels") as ConfigTable).stringArray()).toEqual(["error"]);
  });

  test("numeric keys: a sequence from 1 is the array part, other keys the hash part", () => {
    const t = parse(`x = { [1] = "a", [2] = "b", [5] = "e", [2.5] = "f" }`).global.options.get("x")?.value as ConfigTable;
    expect(t.array).toEqual(["a", "b"]);
    expect({ ...t.hash }).toEqual({ "5": "e", "2.5": "f" });
    expect(t.get(5)).toBe("e");
  });

  test("nil values leave holes; items after a hole go to the hash part", () => {
    const t = parse(`x = { "a", nil, "c", k = nil }`).global.options.get("x")?.value as ConfigTable;
    expect(t.array).toEqual(["a"]);
    expect({ ...t.hash }).toEqual({ "3": "c" });
  });

  test("keys like __proto__ are ordinary keys", () => {
    const t = parse(`x = { ["__proto__"] = 1, constructor = 2 }`).global.options.get("x")?.value as ConfigTable;
    expect(t.get("__proto__")).toBe(1);
    expect(t.get("constructor")).toBe(2);
  });

  test("the option's position is recorded", () => {
    const cfg = parse(`\n\n   admins = { }\n`);
    expect(cfg.global.options.get("admins")).toMatchObject({ file: "/cfg/test.cfg.lua", line: 3, column: 4 });
  });

  test("a later assignment overrides, with a duplicate warning", () => {
    const cfg = parse(`storage = "internal"\nstorage = "memory"\n`);
    expect(cfg.global.options.get("storage")).toMatchObject({ value: "memory", line: 2 });
    expect(warningsOf(cfg)).toEqual([
      "/cfg/test.cfg.lua:2:1: duplicate option 'storage' (already set at line 1); the later value is used",
    ]);
  });

  test("assigning nil removes an option", () => {
    expect(parse(`a = 1\na = nil`).global.options.has("a")).toBe(false);
  });

  test("multiple assignment", () => {
    expect(optionsOf(parse(`a, b, c = 1, "two"`).global)).toEqual({ a: 1, b: "two" });
  });

  test("options with the parenthesised and call forms", () => {
    expect(globalOption(`x = ("paren")`, "x")).toBe("paren");
  });
});

describe("sections", () => {
  test("VirtualHost, Host and Component switch the current section", () => {
    const cfg = parse(`
      admins = { "root@example.com" }
      VirtualHost "example.com"
        enabled = true
      Host "example.net"
        allow_registration = true
      Component "conference.example.com" "muc"
        restrict_room_creation = "local"
      Component "gateway.example.com"
        component_secret = "s3cret"
      VirtualHost "example.com"
        authentication = "internal_hashed"
    `);
    expect(optionsOf(cfg.global)).toEqual({ admins: ["root@example.com"] });
    expect(cfg.hosts.map((h) => [h.kind, h.name, h.module, h.line])).toEqual([
      ["VirtualHost", "example.com", undefined, 3],
      ["VirtualHost", "example.net", undefined, 5],
      ["Component", "conference.example.com", "muc", 7],
      ["Component", "gateway.example.com", undefined, 9],
    ]);
    expect(optionsOf(cfg.hosts[0])).toEqual({ enabled: true, authentication: "internal_hashed" });
    expect(optionsOf(cfg.hosts[1])).toEqual({ allow_registration: true });
    expect(optionsOf(cfg.hosts[2])).toEqual({ restrict_room_creation: "local" });
    expect(optionsOf(cfg.hosts[3])).toEqual({ component_secret: "s3cret" });
    expect(cfg.global.kind).toBe("global");
    expect(cfg.global.name).toBe("*");
  });

  test("call forms with parentheses and the lower-case aliases", () => {
    const cfg = parse(`VirtualHost("a.example")\nComponent("b.example")("muc")\nhost "c.example"\ncomponent "d.example" "pubsub"`);
    expect(cfg.hosts.map((h) => [h.kind, h.name, h.module])).toEqual([
      ["VirtualHost", "a.example", undefined],
      ["Component", "b.example", "muc"],
      ["VirtualHost", "c.example", undefined],
      ["Component", "d.example", "pubsub"],
    ]);
  });

  test("host names are lower-cased (nameprep)", () => {
    expect(parse(`VirtualHost "Example.COM"`).hosts[0].name).toBe("example.com");
  });

  test("block forms set options and return to the global section", () => {
    const cfg = parse(`
      VirtualHost "example.com" { allow_registration = true; ["c2s_timeout"] = 30 }
      after_block = 1
      Component "muc.example.com" "muc" { max_history_messages = 50, name = "Rooms" }
      Component "ext.example.com" { component_secret = "x" }
      also_global = 2
    `);
    expect(optionsOf(cfg.global)).toEqual({ after_block: 1, also_global: 2 });
    expect(optionsOf(cfg.hosts[0])).toEqual({ allow_registration: true, c2s_timeout: 30 });
    expect(cfg.hosts[0].options.get("c2s_timeout")).toMatchObject({ line: 2, column: 62 });
    expect(optionsOf(cfg.hosts[1])).toEqual({ max_history_messages: 50, name: "Rooms" });
    expect(cfg.hosts[1].module).toBe("muc");
    expect(optionsOf(cfg.hosts[2])).toEqual({ component_secret: "x" });
    expect(cfg.hosts[2].module).toBeUndefined();
  });

  test("an unsupported value in a block skips only that option", () => {
    const cfg = parse(`VirtualHost "a" {\n  x = os.time(),\n  y = 2,\n  "stray"\n}`);
    expect(optionsOf(cfg.hosts[0])).toEqual({ y: 2 });
    expect(warningsOf(cfg)).toEqual([
      "/cfg/test.cfg.lua:2:7: option 'x' ignored: unsupported Lua construct 'os.time'",
      "/cfg/test.cfg.lua:4:3: value without a name in the block of VirtualHost \"a\" ignored",
    ]);
  });

  test("a host may not also be a component, and names are checked", () => {
    expect(parseError(`Component "a.example" "muc"\nVirtualHost "a.example"`).message).toBe(
      '/cfg/test.cfg.lua:2:1: Host "a.example" clashes with previously defined Component "a.example" ' +
        "(/cfg/test.cfg.lua:1); for services use a sub-domain like conference.a.example",
    );
    expect(parseError(`VirtualHost "a.example"\n  Component "a.example"`).message).toBe(
      '/cfg/test.cfg.lua:2:3: Component "a.example" clashes with previously defined VirtualHost "a.example" ' +
        "(/cfg/test.cfg.lua:1); for services use a sub-domain like conference.a.example",
    );
    expect(parseError(`VirtualHost "bad host"`).message).toBe(
      '/cfg/test.cfg.lua:1:1: Name of Host "bad host" contains forbidden characters',
    );
    expect(parseError(`VirtualHost(nil)`).message).toBe("/cfg/test.cfg.lua:1:1: Host must have a name");
    expect(parseError(`Component "x.example" (42)`).message).toBe(
      '/cfg/test.cfg.lua:1:1: Component "x.example": module name must be a string',
    );
  });

  test("re-opening a Component without a module makes it external again (as Prosody)", () => {
    const cfg = parse(`Component "c.example" "muc"\nComponent "c.example"`);
    expect(cfg.hosts).toHaveLength(1);
    expect(cfg.hosts[0].module).toBeUndefined();
  });
});

describe("syntax errors throw ConfigError with file:line:column", () => {
  test("unbalanced braces", () => {
    // (`VirtualHost "x"` is a valid table item, a call, so the error is at the end of the file)
    const e = parseError(`modules_enabled = {\n  "roster";\n  "disco";\n\nVirtualHost "x"`);
    expect([e.line, e.column]).toEqual([5, 16]);
    expect(e.message).toBe(
      `/cfg/test.cfg.lua:5:16: '}' expected (to close '{' at line 1, column 19) near '<eof>'`,
    );
    expect(parseError(`x = {\n  "a"\n  "b"\n}`).message).toBe(
      `/cfg/test.cfg.lua:3:3: '}' expected (to close '{' at line 1, column 5) near '"b"'`,
    );
    expect(parseError(`x = { "a" }\n}`).message).toBe("/cfg/test.cfg.lua:2:1: unexpected symbol near '}'");
    expect(parseError(`x = { "a"`).message).toBe("/cfg/test.cfg.lua:1:10: '}' expected near '<eof>'");
    expect(parseError(`x = { a = 1 b = 2 }`).message).toBe("/cfg/test.cfg.lua:1:13: '}' expected near 'b'");
  });

  test("missing or misplaced =", () => {
    expect(parseError(`admins\nx = 1`).message).toBe("/cfg/test.cfg.lua:2:1: syntax error near 'x'");
    expect(parseError(`x = `).message).toBe("/cfg/test.cfg.lua:1:5: unexpected symbol near '<eof>'");
    expect(parseError(`x == 1`).message).toBe("/cfg/test.cfg.lua:1:3: syntax error near '=='");
    expect(parseError(`"x" = 1`).message).toBe(`/cfg/test.cfg.lua:1:1: unexpected symbol near '"x"'`);
    expect(parseError(`f() = 1`).message).toBe("/cfg/test.cfg.lua:1:5: syntax error near '='");
  });

  test("unclosed parentheses and blocks", () => {
    expect(parseError(`x = (1 + 2`).message).toBe("/cfg/test.cfg.lua:1:11: ')' expected near '<eof>'");
    expect(parseError(`if x then\n  y = 1\n`).message).toBe(
      "/cfg/test.cfg.lua:3:1: 'end' expected (to close 'if' at line 1, column 1) near '<eof>'",
    );
    expect(parseError(`x = 1 end`).message).toBe("/cfg/test.cfg.lua:1:7: '<eof>' expected near 'end'");
  });

  test("errors in an unexecuted construct are still syntax errors", () => {
    expect(parseError(`function f()\n  return {\nend`).message).toBe(
      "/cfg/test.cfg.lua:3:1: unexpected symbol near 'end'",
    );
  });

  test("syntax errors anywhere in the file are reported before anything runs", () => {
    expect(parseError(`VirtualHost "ok"\nx = 1\ny = = 2`).message).toBe(
      "/cfg/test.cfg.lua:3:5: unexpected symbol near '='",
    );
  });

  test("ConfigError fields", () => {
    const e = parseError(`x = "unterminated`);
    expect(e.name).toBe("ConfigError");
    expect(e.file).toBe("/cfg/test.cfg.lua");
    expect(e.line).toBe(1);
    expect(e.column).toBe(5);
    expect(e.reason).toBe(`unfinished string near '"unterminated'`);
  });
});

describe("file names", () => {
  test("parseConfig uses the given file name in diagnostics", () => {
    const cfg = parseConfig(`x = undefined_thing`, "my.cfg.lua", { env: {} });
    expect(warningsOf(cfg)).toEqual(["my.cfg.lua:1:5: 'undefined_thing' is not defined and evaluates to nil (missing quotes?)"]);
    expect(cfg.files).toEqual(["my.cfg.lua"]);
  });
});
