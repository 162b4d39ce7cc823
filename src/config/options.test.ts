import { describe, expect, test } from "vitest";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { Config, ConfigTable, formatDiagnostic, render } from "./options.js";

const FILE = "prosody.cfg.lua";

function config(text: string, onWarning?: (text: string) => void): Config {
  return new Config(parseConfig(text, FILE, { env: {} }), { onWarning: onWarning && ((_d, t) => onWarning(t)) });
}

function texts(c: Config): string[] {
  return c.warnings.map(formatDiagnostic);
}

describe("sections and inheritance", () => {
  const c = config(`
admins = { "root@example.com" }
storage = "internal"
modules_enabled = { "roster", "disco" }
VirtualHost "example.com"
  storage = "memory"
Component "pubsub.example.com" "pubsub"
  modules_enabled = { "pep" }
Component "gw.example.com"
`);

  test("hosts list", () => {
    expect(c.hosts).toEqual([
      { name: "example.com", kind: "VirtualHost", file: FILE, line: 5 },
      { name: "pubsub.example.com", kind: "Component", module: "pubsub", file: FILE, line: 7 },
      { name: "gw.example.com", kind: "Component", file: FILE, line: 9 },
    ]);
    expect(c.hasHost("example.com")).toBe(true);
    expect(c.hasHost("EXAMPLE.com")).toBe(true);
    expect(c.hasHost("other.example")).toBe(false);
  });

  test("host options fall back to global ones (VirtualHosts and Components)", () => {
    expect(c.host("example.com").string("storage")).toBe("memory");
    expect(c.host("example.com").array("admins")).toEqual(["root@example.com"]);
    expect(c.host("pubsub.example.com").string("storage")).toBe("internal");
    expect(c.host("pubsub.example.com").array("modules_enabled")).toEqual(["pep"]);
    expect(c.global.string("storage")).toBe("internal");
  });

  test("own and inherited values", () => {
    const h = c.host("example.com");
    expect(h.hasOwn("storage")).toBe(true);
    expect(h.hasOwn("admins")).toBe(false);
    expect(h.has("admins")).toBe(true);
    expect(h.has("nope")).toBe(false);
    expect(h.source("admins")).toMatchObject({ section: "*", file: FILE, line: 2 });
    expect(h.source("storage")).toMatchObject({ section: "example.com", line: 6, value: "memory" });
    expect(h.names().sort()).toEqual(["admins", "modules_enabled", "storage"]);
    expect(c.host("gw.example.com").ownArray("modules_enabled")).toEqual([]);
    expect(c.host("pubsub.example.com").ownArray("modules_enabled")).toEqual(["pep"]);
    expect(c.host("pubsub.example.com").inheritedSet("modules_enabled")).toEqual(new Set(["pep", "roster", "disco"]));
  });

  test("an undefined host reads the global options only", () => {
    expect(c.host("unknown.example").string("storage")).toBe("internal");
    expect(c.hasHost("unknown.example")).toBe(false);
  });

  test("raw values", () => {
    expect(c.global.raw("admins")).toBeInstanceOf(ConfigTable);
    expect(c.global.raw("nope")).toBeUndefined();
  });
});

describe("typed getters", () => {
  test("string", () => {
    const c = config(`a = "x"\nb = 5222\nc = { "only" }\nd = { "first", "second" }\ne = true`);
    const g = c.global;
    expect(g.string("a")).toBe("x");
    expect(g.string("b")).toBe("5222");
    expect(g.string("c")).toBe("only");
    expect(g.string("missing")).toBeUndefined();
    expect(g.string("missing", "def")).toBe("def");
    expect(c.warnings).toEqual([]);
    expect(g.string("d")).toBe("first");
    expect(g.string("e", "def")).toBe("def");
    expect(texts(c)).toEqual([
      `${FILE}:4: option d does not take a list; using just the first item`,
      `${FILE}:5: option e must be a string (got true); using default "def"`,
    ]);
    expect(c.warnings[1]).toMatchObject({ option: "e", host: "*", line: 5, column: 0 });
  });

  test("integer and number with bounds", () => {
    const c = config(`\nport = 5222\ntext = "42"\nfrac = 1.5\nbig = 500\nneg = -3\nlist = { 7 }`);
    const g = c.global;
    expect(g.integer("port", 1)).toBe(5222);
    expect(g.integer("text", 0)).toBe(42);
    expect(g.integer("list", 0)).toBe(7);
    expect(g.integer("missing", 30, { min: 1 })).toBe(30);
    expect(g.integer("missing")).toBeUndefined();
    expect(g.number("frac", 0)).toBe(1.5);
    expect(g.number("neg", 0, { min: -5, max: 0 })).toBe(-3);
    expect(c.warnings).toEqual([]);
    expect(g.integer("frac", 2)).toBe(2);
    expect(g.integer("big", 30, { min: 1, max: 100 })).toBe(30);
    expect(g.integer("neg", 0, { min: 0 })).toBe(0);
    expect(g.number("text", 1, { max: 10 })).toBe(1);
    expect(g.integer("big", undefined, { max: 10 })).toBeUndefined();
    expect(texts(c)).toEqual([
      `${FILE}:4: option frac must be an integer (got 1.5); using default 2`,
      `${FILE}:5: option big must be an integer between 1 and 100 (got 500, above the maximum 100); using default 30`,
      `${FILE}:6: option neg must be an integer of at least 0 (got -3, below the minimum 0); using default 0`,
      `${FILE}:3: option text must be a number of at most 10 (got 42, above the maximum 10); using default 1`,
      `${FILE}:5: option big must be an integer of at most 10 (got 500, above the maximum 10); ignoring it`,
    ]);
  });

  test("boolean follows Prosody's get_option_boolean", () => {
    const c = config(`a = true\nb = false\nc = "true"\nd = "false"\ne = 1\nf = 0\ng = "yes"`);
    const g = c.global;
    expect([g.boolean("a"), g.boolean("b"), g.boolean("c"), g.boolean("d"), g.boolean("e"), g.boolean("f")]).toEqual([
      true, false, true, false, true, false,
    ]);
    expect(g.boolean("missing", true)).toBe(true);
    expect(g.boolean("missing")).toBeUndefined();
    expect(c.warnings).toEqual([]);
    expect(g.boolean("g", false)).toBe(false);
    expect(texts(c)).toEqual([`${FILE}:7: option g must be true or false (got "yes"); using default false`]);
  });

  test("truthy uses Lua truthiness", () => {
    const c = config(`a = "Yes please, I know what I'm doing!"\nb = false\nc = 0`);
    expect(c.global.truthy("a")).toBe(true);
    expect(c.global.truthy("b")).toBe(false);
    expect(c.global.truthy("c")).toBe(true);
    expect(c.global.truthy("missing")).toBe(false);
    expect(c.global.truthy("missing", true)).toBe(true);
  });

  test("enum", () => {
    const c = config(`a = "kick_new"\nb = "bogus"`);
    const allowed = ["kick_old", "kick_new", "random"] as const;
    expect(c.global.enum("a", "kick_old", allowed)).toBe("kick_new");
    expect(c.global.enum("missing", "kick_old", allowed)).toBe("kick_old");
    expect(c.global.enum("b", "kick_old", allowed)).toBe("kick_old");
    expect(texts(c)).toEqual([
      `${FILE}:2: option b must be one of "kick_old", "kick_new", "random" (got "bogus"); using default "kick_old"`,
    ]);
  });

  test("array and set", () => {
    const c = config(`a = { "x", "y", "x" }\nb = "lone"\nc = { 5222 }\nd = { "ok", true }\ne = { "v", k = 1 }\nf = false`);
    const g = c.global;
    expect(g.array("a")).toEqual(["x", "y", "x"]);
    expect(g.set("a")).toEqual(new Set(["x", "y"]));
    expect(g.array("b")).toEqual(["lone"]);
    expect(g.array("c")).toEqual(["5222"]);
    expect(g.array("missing")).toEqual([]);
    expect(g.array("missing", ["def"])).toEqual(["def"]);
    expect(g.set("missing", ["def"])).toEqual(new Set(["def"]));
    expect(c.warnings).toEqual([]);
    expect(g.array("d", ["def"])).toEqual(["def"]);
    expect(g.array("e")).toEqual(["v"]);
    expect(g.array("f")).toEqual([]);
    expect(texts(c)).toEqual([
      `${FILE}:4: option d must be a list of strings (got { "ok", true }); using default { "def" }`,
      `${FILE}:5: option e is a list; its named entries (k) are ignored`,
      `${FILE}:6: option f must be a list of strings (got false); using default { }`,
    ]);
  });

  test("the returned arrays are copies", () => {
    const c = config(`a = { "x" }`);
    c.global.array("a").push("mutated");
    expect(c.global.array("a")).toEqual(["x"]);
  });

  test("ports", () => {
    const c = config(`c2s_ports = { 5222, "5223" }\ns2s_ports = 5269\nhttp_ports = { 70000 }\nbad = { "x" }`);
    const g = c.global;
    expect(g.ports("c2s_ports", [5222])).toEqual([5222, 5223]);
    expect(g.ports("s2s_ports")).toEqual([5269]);
    expect(g.ports("missing", [5280])).toEqual([5280]);
    expect(g.ports("http_ports", [5280])).toEqual([5280]);
    expect(g.integerArray("bad", [1], { min: 0 })).toEqual([1]);
    expect(texts(c)).toEqual([
      `${FILE}:3: option http_ports must be an array of port numbers (got { 70000 }); using default { 5280 }`,
      `${FILE}:4: option bad must be a list of integers of at least 0 (got { "x" }); using default { 1 }`,
    ]);
  });

  test("table", () => {
    const c = config(`ssl = { key = "k.pem", certificate = "c.pem" }\nnot_table = "x"`);
    const t = c.global.table("ssl");
    expect(t?.get("key")).toBe("k.pem");
    expect(c.global.table("missing")).toBeUndefined();
    expect(c.global.table("not_table")).toBeUndefined();
    expect(texts(c)).toEqual([`${FILE}:2: option not_table must be a table (got "x"); ignoring it`]);
  });

  test("period", () => {
    const c = config(
      `a = 30\nb = "5m"\nc = "1w"\nd = "never"\ne = "2 days"\nf = "soon"\ng = -1\nh = "1h"\ni = "90s"`,
    );
    const g = c.global;
    expect(g.period("a", 0)).toBe(30);
    expect(g.period("b", 0)).toBe(300);
    expect(g.period("c", 0)).toBe(604800);
    expect(g.period("d", 0)).toBe(Infinity);
    expect(g.period("e", 0)).toBe(172800);
    expect(g.period("i", 0, { min: 60 })).toBe(90);
    expect(g.period("missing", 60)).toBe(60);
    expect(g.period("missing")).toBeUndefined();
    expect(c.warnings).toEqual([]);
    expect(g.period("f", 60)).toBe(60);
    expect(g.period("g", 60)).toBe(60);
    expect(g.period("h", 60, { max: 600 })).toBe(60);
    expect(texts(c)).toEqual([
      `${FILE}:6: option f must be a duration (seconds, or text like "30s", "5m", "1h", "1d") (got "soon"); using default 60`,
      `${FILE}:7: option g must be a duration (seconds, or text like "30s", "5m", "1h", "1d") (got -1); using default 60`,
      `${FILE}:8: option h must be a duration (seconds, or text like "30s", "5m", "1h", "1d") of at most 600 (got 3600, above the maximum 600); using default 60`,
    ]);
  });
});

describe("warnings", () => {
  test("parse warnings come first; reader warnings are reported once each, to onWarning too", () => {
    const seen: string[] = [];
    const c = config(`x = os.time()\nport = "many"\nVirtualHost "a.example"\nVirtualHost "b.example"`, (t) => seen.push(t));
    c.host("a.example").integer("port", 1);
    c.host("b.example").integer("port", 1);
    c.global.integer("port", 1);
    const expected = [
      `${FILE}:1:5: option 'x' ignored: unsupported Lua construct 'os.time'`,
      `${FILE}:2: option port must be an integer (got "many"); using default 1`,
    ];
    expect(texts(c)).toEqual(expected);
    expect(seen).toEqual(expected);
    expect(c.warnings[1]).toMatchObject({ option: "port", host: "a.example" });
  });
});


describe("render", () => {
  test("values are shown as config syntax", () => {
    expect(render("a")).toBe('"a"');
    expect(render(5)).toBe("5");
    expect(render([1, 2])).toBe("{ 1, 2 }");
    expect(render(new ConfigTable(["x"], { k: 1, "a b": "v" }))).toBe('{ "x", k = 1, ["a b"] = "v" }');
    expect(render(new ConfigTable())).toBe("{ }");
  });
});
