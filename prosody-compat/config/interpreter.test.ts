import { describe, expect, test } from "vitest";
import { globalOption, optionsOf, parse, parseError, warningsOf } from "./test-helpers.js";

const F = "/cfg/test.cfg.lua";

describe("environment variables", () => {
  test("ENV_NAME reads the variable NAME, as in Prosody", () => {
    const env = { DOMAIN: "example.org", EMPTY: "" };
    expect(globalOption(`x = ENV_DOMAIN`, "x", {}, { env })).toBe("example.org");
    expect(globalOption(`x = ENV_EMPTY`, "x", {}, { env })).toBe("");
    const cfg = parse(`x = ENV_UNSET`, {}, { env });
    expect(cfg.global.options.has("x")).toBe(false);
    expect(cfg.warnings).toEqual([]);
  });

  test("`or` and `and` with Lua truthiness", () => {
    const env = { SET: "epoll", ZERO: "0" };
    const v = (expr: string): unknown => globalOption(`x = ${expr}`, "x", {}, { env });
    expect(v(`ENV_UNSET or "select"`)).toBe("select");
    expect(v(`ENV_SET or "select"`)).toBe("epoll");
    expect(v(`ENV_ZERO or "other"`)).toBe("0");
    expect(v(`false or nil or 5`)).toBe(5);
    expect(v(`ENV_SET and "on" or "off"`)).toBe("on");
    expect(v(`ENV_UNSET and "on" or "off"`)).toBe("off");
    expect(v(`0 and "zero is true"`)).toBe("zero is true");
    expect(v(`false and 1`)).toBe(false);
    expect(v(`not nil`)).toBe(true);
    expect(v(`not 0`)).toBe(false);
    // short-circuit: the unsupported right side is never evaluated
    expect(v(`"set" or Lua.os.getenv("X")`)).toBe("set");
  });
});

describe("operators", () => {
  const v = (expr: string): unknown => globalOption(`x = ${expr}`, "x");

  test("concatenation", () => {
    expect(v(`"/var/lib" .. "/" .. "herald"`)).toBe("/var/lib/herald");
    expect(v(`"port " .. 5222`)).toBe("port 5222");
    expect(v(`1.5 .. ""`)).toBe("1.5");
    expect(v(`10 / 4 .. "x"`)).toBe("2.5x");
    expect(v(`2^53 .. ""`)).toBe("9007199254740992");
    expect(v(`1/3 .. ""`)).toBe("0.33333333333333");
    expect(v(`1e100 .. ""`)).toBe("1e+100");
    expect(v(`0.00001 .. ""`)).toBe("1e-05");
  });

  test("arithmetic with Lua precedence", () => {
    expect(v(`10 * 1024 * 1024`)).toBe(10485760);
    expect(v(`1 + 2 * 3`)).toBe(7);
    expect(v(`(1 + 2) * 3`)).toBe(9);
    expect(v(`2 ^ 10`)).toBe(1024);
    expect(v(`2 ^ 3 ^ 2`)).toBe(512);
    expect(v(`-2 ^ 2`)).toBe(-4);
    expect(v(`7 // 2`)).toBe(3);
    expect(v(`-7 // 2`)).toBe(-4);
    expect(v(`7 % -3`)).toBe(-2);
    expect(v(`-7 % 3`)).toBe(2);
    expect(v(`60 * 60 * 24 * 14`)).toBe(1209600);
    expect(v(`"10" + 1`)).toBe(11);
    expect(v(`- -3`)).toBe(3);
    expect(v(`1 + 2 .. ""`)).toBe("3");
  });

  test("comparison and length", () => {
    expect(v(`1 < 2`)).toBe(true);
    expect(v(`"a" == "a"`)).toBe(true);
    expect(v(`"a" ~= "a"`)).toBe(false);
    expect(v(`"b" >= "a"`)).toBe(true);
    expect(v(`#"héllo"`)).toBe(6);
    expect(v(`#{ "a", "b", "c" }`)).toBe(3);
  });

  test("runtime errors skip the option with a warning at the operator", () => {
    const cfg = parse(`a = ENV_DATA .. "/x"\nb = { } + 1\nc = 1 < "2"\nd = #5\ne = 1 // 0\nf = "ok"`);
    expect(optionsOf(cfg.global)).toEqual({ f: "ok" });
    expect(warningsOf(cfg)).toEqual([
      `${F}:1:14: option 'a' ignored: attempt to concatenate a nil value (global 'ENV_DATA')`,
      `${F}:2:9: option 'b' ignored: attempt to perform arithmetic on a table value`,
      `${F}:3:7: option 'c' ignored: attempt to compare number with string`,
      `${F}:4:5: option 'd' ignored: attempt to get length of a number value`,
      `${F}:5:7: option 'e' ignored: attempt to perform 'n//0'`,
    ]);
  });
});

describe("names", () => {
  test("locals are usable in later values and do not become options", () => {
    const cfg = parse(`local base = "/srv"\nlocal a, b <const> = 1\ndata_path = base .. "/data"\nbase = "/changed"\ncopy = base`);
    expect(optionsOf(cfg.global)).toEqual({ data_path: "/srv/data", copy: "/changed" });
  });

  test("an option set earlier can be read by name (own section, then global)", () => {
    const cfg = parse(`admins = { "a@x" }\nroot = "/srv"\nVirtualHost "h"\nroot = "/h"\nmy_admins = admins\npath = root .. "/p"`);
    expect(optionsOf(cfg.hosts[0])).toEqual({ root: "/h", my_admins: ["a@x"], path: "/h/p" });
  });

  test("a table field can be read", () => {
    expect(globalOption(`ssl = { key = "k.pem" }\nx = ssl.key`, "x")).toBe("k.pem");
    expect(globalOption(`list = { "a", "b" }\nx = list[2]`, "x")).toBe("b");
  });

  test("an undefined name evaluates to nil with a warning", () => {
    const cfg = parse(`storage = internal`);
    expect(cfg.global.options.has("storage")).toBe(false);
    expect(warningsOf(cfg)).toEqual([`${F}:1:11: 'internal' is not defined and evaluates to nil (missing quotes?)`]);
  });
});

describe("unsupported Lua is skipped with a warning naming it", () => {
  test("the scansion config's Lua.require line", () => {
    const cfg = parse(
      `network_backend = ENV_PROSODY_NETWORK_BACKEND or "epoll"\n` +
        `network_settings = Lua.require"prosody.util.json".decode(ENV_PROSODY_NETWORK_SETTINGS or "{}")\n` +
        `after = true\n`,
    );
    expect(optionsOf(cfg.global)).toEqual({ network_backend: "epoll", after: true });
    expect(cfg.warnings).toEqual([
      {
        file: F,
        line: 2,
        column: 20,
        message: "option 'network_settings' ignored: unsupported Lua construct 'Lua.require'",
      },
    ]);
  });

  test("value expressions", () => {
    const cfg = parse(
      [
        `a = os.getenv("HOME")`,
        `b = tostring(5)`,
        `c = myfunction(1)`,
        `d = ("x"):upper()`,
        `e = function() return 1 end`,
        `f = 1 | 2`,
        `g = { 1, os.time() }`,
        `h = RunScript("x.lua")`,
        `i = "kept"`,
      ].join("\n"),
    );
    expect(optionsOf(cfg.global)).toEqual({ i: "kept" });
    expect(warningsOf(cfg)).toEqual([
      `${F}:1:5: option 'a' ignored: unsupported Lua construct 'os.getenv'`,
      `${F}:2:5: option 'b' ignored: unsupported Lua construct 'tostring'`,
      `${F}:3:5: option 'c' ignored: unsupported Lua construct 'myfunction(...)'`,
      `${F}:4:5: option 'd' ignored: unsupported Lua construct ':upper() method call'`,
      `${F}:5:5: option 'e' ignored: unsupported Lua construct 'function'`,
      `${F}:6:7: option 'f' ignored: unsupported Lua construct 'bitwise operator '|''`,
      `${F}:7:10: option 'g' ignored: unsupported Lua construct 'os.time'`,
      `${F}:8:5: option 'h' ignored: unsupported Lua construct 'RunScript'`,
    ]);
  });

  test("statements", () => {
    const cfg = parse(
      [
        `if ENV_X then a = 1 end`,
        `for i = 1, 3 do b = i end`,
        `while false do end`,
        `repeat until true`,
        `function f() end`,
        `local function g() end`,
        `do c = 1 end`,
        `::label::`,
        `goto label`,
        `t = { }`,
        `t.x = 1`,
        `print("hello")`,
        `kept = 1`,
        `return`,
      ].join("\n"),
    );
    expect(optionsOf(cfg.global)).toEqual({ t: [], kept: 1 });
    expect(warningsOf(cfg)).toEqual([
      `${F}:1:1: unsupported Lua 'if' statement; ignored`,
      `${F}:2:1: unsupported Lua 'for' loop; ignored`,
      `${F}:3:1: unsupported Lua 'while' loop; ignored`,
      `${F}:4:1: unsupported Lua 'repeat' loop; ignored`,
      `${F}:5:1: unsupported Lua function definition; ignored`,
      `${F}:6:1: unsupported Lua 'local function' definition; ignored`,
      `${F}:7:1: unsupported Lua 'do' block; ignored`,
      `${F}:8:1: unsupported Lua label; ignored`,
      `${F}:9:1: unsupported Lua 'goto' statement; ignored`,
      `${F}:11:1: assignment to a table field is not supported; statement ignored`,
      `${F}:12:1: unsupported Lua construct 'print'; statement ignored`,
      `${F}:14:1: unsupported Lua 'return' statement; ignored`,
    ]);
  });

  test("the migrator's input/output calls", () => {
    const cfg = parse(`local data_path = '/var/lib/prosody'\ninput {\n  type = "internal";\n  path = data_path;\n}\n`);
    expect(cfg.global.options.size).toBe(0);
    expect(warningsOf(cfg)).toEqual([`${F}:2:1: unsupported Lua construct 'input(...)'; statement ignored`]);
  });
});

describe("Include", () => {
  test("an included file starts in the global section; the includer's section is kept", () => {
    const cfg = parse(`VirtualHost "a.example"\nInclude "extra.cfg.lua"\nz = 3`, {
      "/cfg/extra.cfg.lua": `x = 1\nVirtualHost "b.example"\ny = 2\n`,
    });
    expect(optionsOf(cfg.global)).toEqual({ x: 1 });
    expect(cfg.hosts.map((h) => h.name)).toEqual(["a.example", "b.example"]);
    expect(optionsOf(cfg.hosts[0])).toEqual({ z: 3 });
    expect(optionsOf(cfg.hosts[1])).toEqual({ y: 2 });
    expect(cfg.global.options.get("x")).toMatchObject({ file: "/cfg/extra.cfg.lua", line: 1 });
    expect(cfg.hosts[1]).toMatchObject({ file: "/cfg/extra.cfg.lua", line: 2 });
    expect(cfg.files).toEqual([F, "/cfg/extra.cfg.lua"]);
  });

  test("wildcards: sorted, hidden files skipped, nested includes relative to their file", () => {
    const cfg = parse(`Include "conf.d/*.cfg.lua"\nInclude "/etc/abs/?.lua"`, {
      "/cfg/conf.d/b.cfg.lua": `VirtualHost "b.example"`,
      "/cfg/conf.d/a.cfg.lua": `VirtualHost "a.example"\nInclude "sub/c.cfg.lua"`,
      "/cfg/conf.d/.hidden.cfg.lua": `VirtualHost "hidden.example"`,
      "/cfg/conf.d/readme.txt": `not lua`,
      "/cfg/conf.d/sub/c.cfg.lua": `c_option = "c"`,
      "/etc/abs/1.lua": `one = 1`,
      "/etc/abs/12.lua": `twelve = 12`,
    });
    expect(cfg.hosts.map((h) => h.name)).toEqual(["a.example", "b.example"]);
    expect(optionsOf(cfg.global)).toEqual({ c_option: "c", one: 1 });
    expect(cfg.files).toEqual([F, "/cfg/conf.d/a.cfg.lua", "/cfg/conf.d/sub/c.cfg.lua", "/cfg/conf.d/b.cfg.lua", "/etc/abs/1.lua"]);
  });

  test("locals are per file", () => {
    const cfg = parse(`local v = "main"\nInclude "x.lua"\nmain_sees = v`, { "/cfg/x.lua": `included_sees = v` });
    expect(optionsOf(cfg.global)).toEqual({ main_sees: "main" });
    expect(warningsOf(cfg)).toEqual(["/cfg/x.lua:1:17: 'v' is not defined and evaluates to nil (missing quotes?)"]);
  });

  test("a wildcard over a missing directory includes nothing, with a warning", () => {
    const cfg = parse(`\n  Include "conf.d/*.cfg.lua"`);
    expect(warningsOf(cfg)).toEqual([
      `${F}:2:3: Include "conf.d/*.cfg.lua": directory '/cfg/conf.d' does not exist; nothing included`,
    ]);
  });

  test("errors: missing file, cycle, syntax error inside, wildcard in a directory", () => {
    expect(parseError(`x = 1\nInclude "missing.cfg.lua"`).message).toBe(
      `${F}:2:1: Include: cannot read '/cfg/missing.cfg.lua': ENOENT: no such file or directory, open '/cfg/missing.cfg.lua'`,
    );
    expect(parseError(`Include "a.lua"`, { "/cfg/a.lua": `Include "test.cfg.lua"` }).message).toBe(
      `/cfg/a.lua:1:1: Include cycle: '/cfg/test.cfg.lua' is already being read`,
    );
    expect(parseError(`Include "a.lua"`, { "/cfg/a.lua": `\nx = {` }).message).toBe(
      `/cfg/a.lua:2:6: unexpected symbol near '<eof>'`,
    );
    expect(parseError(`Include "*/x.lua"`).message).toBe(
      `${F}:1:1: Include "*/x.lua": wildcards are only allowed in the file name`,
    );
    expect(parseError(`Include(42)`).message).toBe(`${F}:1:1: Include expects a string argument, got number`);
  });

  test("warnings of included files name those files", () => {
    const cfg = parse(`Include "w.lua"`, { "/cfg/w.lua": `\n\nbad = os.time()` });
    expect(warningsOf(cfg)).toEqual([`/cfg/w.lua:3:7: option 'bad' ignored: unsupported Lua construct 'os.time'`]);
  });
});

describe("FileLine, FileLines, FileContents, Credential", () => {
  const files = {
    "/cfg/admins.txt": "admin@localhost\n\n  \nother@localhost\r\n",
    "/cfg/secret": "s3cret\nsecond line\n",
    "/run/creds/db_password": "pa55",
    "/cfg/empty": "",
  };

  test("read relative to the config file", () => {
    const cfg = parse(
      `admins = FileLines("admins.txt")\npassword = FileLine("secret")\nblob = FileContents("secret")\nnone = FileLine("empty")`,
      files,
    );
    expect(optionsOf(cfg.global)).toEqual({
      admins: ["admin@localhost", "other@localhost"],
      password: "s3cret",
      blob: "s3cret\nsecond line\n",
    });
    expect(cfg.files).toEqual([F, "/cfg/admins.txt", "/cfg/secret", "/cfg/secret", "/cfg/empty"]);
  });

  test("Credential reads $CREDENTIALS_DIRECTORY/name", () => {
    expect(globalOption(`p = Credential("db_password")`, "p", files, { env: { CREDENTIALS_DIRECTORY: "/run/creds" } })).toBe("pa55");
    expect(parseError(`p = Credential("db_password")`, files).message).toBe(
      `${F}:1:5: Credential() needs the environment variable CREDENTIALS_DIRECTORY`,
    );
  });

  test("an unreadable file skips the option with a warning", () => {
    const cfg = parse(`admins = FileLines("nope.txt")\nx = 1`, files);
    expect(optionsOf(cfg.global)).toEqual({ x: 1 });
    expect(warningsOf(cfg)).toEqual([
      `${F}:1:10: option 'admins' ignored: FileLines: cannot read '/cfg/nope.txt': ENOENT: no such file or directory, open '/cfg/nope.txt'`,
    ]);
  });

  test("can be combined with other expressions", () => {
    expect(globalOption(`x = "user:" .. FileLine("secret")`, "x", files)).toBe("user:s3cret");
    expect(globalOption(`x = FileLine("missing") or "default"`, "x", files)).toBeUndefined();
  });
});
