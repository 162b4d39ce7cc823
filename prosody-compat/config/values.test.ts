import { expect, test } from "vitest";
import { loadConfigFile } from "./index.js";
import { ConfigError, ConfigTable, asStringArray, formatDiagnostic, fromPlain, isConfigTable, luaTruthy, toPlain } from "../../src/config/values.js";

test("ConfigTable lookups and helpers", () => {
  const t = new ConfigTable(["a", "b"], { k: "v" });
  expect(t.kind).toBe("table");
  expect(t.get(1)).toBe("a");
  expect(t.get(2)).toBe("b");
  expect(t.get(3)).toBeUndefined();
  expect(t.get("k")).toBe("v");
  expect(t.length).toBe(2);
  expect(t.keys()).toEqual(["k"]);
  expect(t.isArray()).toBe(false);
  expect(t.stringArray()).toBeUndefined();
  expect(new ConfigTable(["a", "b"]).stringArray()).toEqual(["a", "b"]);
  expect(new ConfigTable(["a", 1]).stringArray()).toBeUndefined();
  expect(new ConfigTable().isEmpty()).toBe(true);
  expect(isConfigTable(t)).toBe(true);
  expect(isConfigTable({ kind: "table" })).toBe(false);
});

test("plain conversion both ways", () => {
  const t = new ConfigTable([new ConfigTable(["x"])], { n: 1, nested: new ConfigTable([], { deep: true }) });
  expect(toPlain(t)).toEqual({ "1": ["x"], n: 1, nested: { deep: true } });
  expect(JSON.parse(JSON.stringify(new ConfigTable(["a"])))).toEqual(["a"]);
  const back = fromPlain({ list: ["a", "b"], flag: true }) as ConfigTable;
  expect(back.get("flag")).toBe(true);
  expect((back.get("list") as ConfigTable).stringArray()).toEqual(["a", "b"]);
});

test("asStringArray and luaTruthy", () => {
  expect(asStringArray("x")).toEqual(["x"]);
  expect(asStringArray(new ConfigTable(["x", "y"]))).toEqual(["x", "y"]);
  expect(asStringArray(5)).toBeUndefined();
  expect(asStringArray(undefined)).toBeUndefined();
  expect([luaTruthy(undefined), luaTruthy(false), luaTruthy(0), luaTruthy(""), luaTruthy(true)]).toEqual([
    false, false, true, true, true,
  ]);
});

test("diagnostic formatting", () => {
  expect(formatDiagnostic({ file: "f.lua", line: 3, column: 7, message: "m" })).toBe("f.lua:3:7: m");
  expect(formatDiagnostic({ file: "f.lua", line: 3, column: 0, message: "m" })).toBe("f.lua:3: m");
  expect(formatDiagnostic({ file: "f.lua", line: 0, column: 0, message: "m" })).toBe("f.lua: m");
  const e = new ConfigError("f.lua", 2, 4, "boom");
  expect(e).toBeInstanceOf(Error);
  expect(e.message).toBe("f.lua:2:4: boom");
});

test("loadConfigFile on a missing file throws a ConfigError", () => {
  expect(() => loadConfigFile("/nonexistent/herald.cfg.lua")).toThrow(
    /^\/nonexistent\/herald\.cfg\.lua: cannot read the config file: ENOENT/,
  );
  expect(() => loadConfigFile("/nonexistent/herald.cfg.lua")).toThrow(ConfigError);
});
