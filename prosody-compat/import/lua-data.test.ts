import { describe, expect, it } from "vitest";
import { LuaDataError, LuaTable, parseDat, parseList } from "./lua-data.js";
import { decodeProsodyName, luaToElement } from "./prosody.js";

describe("Prosody data files", () => {
  it("reads a .dat file: string, numeric and boolean keys, positional items, escapes", () => {
    const v = parseDat(
      `return {
	[false] = { ["pending"] = {}; ["version"] = 4; };
	["bob@localhost"] = { ["subscription"] = "both"; ["groups"] = { ["Friends"] = true; }; };
	name = "caf\\195\\169 \\"q\\"\\n";
	[1] = -2.5; [2] = 0x10;
	{ "positional" };
};`,
      "t.dat",
    ) as LuaTable;
    expect(v).toBeInstanceOf(LuaTable);
    expect((v.get(false) as LuaTable).number("version")).toBe(4);
    expect(v.table("bob@localhost")!.table("groups")!.get("Friends")).toBe(true);
    expect(v.string("name")).toBe('café "q"\n');
    expect(v.get(2)).toBe(16);
    // A positional item counts from 1, whatever explicit keys came before (Lua's rule).
    expect((v.get(1) as LuaTable).array()).toEqual(["positional"]);
  });

  it("reads .list records", () => {
    const items = parseList(`item({ "text"; ["when"] = 1796293264.5; ["key"] = "k1"; ["name"] = "note"; ["attr"] = { ["xmlns"] = "urn:x"; ["stamp"] = "2026-12-03T10:21:04Z"; }; });\nitem{ ["key"] = "k2" };\n`, "t.list");
    expect(items).toHaveLength(2);
    const el = luaToElement(items[0], { dropStamp: true })!;
    expect(el.toString()).toBe("<note xmlns='urn:x'>text</note>");
    expect((items[1] as LuaTable).string("key")).toBe("k2");
  });

  it("refuses anything that is not a literal, naming file and line", () => {
    expect(() => parseDat("return os.execute('rm -rf /');", "evil.dat")).toThrow(LuaDataError);
    expect(() => parseDat("return {\n x = y };", "evil.dat")).toThrow(/evil\.dat:2:/);
    expect(() => parseList("item(1); os.exit()", "evil.list")).toThrow(/evil\.list:1:/);
    expect(() => parseDat("return { [{}] = 1 };", "bad.dat")).toThrow(/invalid table key/);
  });

  it("decodes Prosody's %-encoded names", () => {
    expect(decodeProsodyName("pep_http%3a%2f%2fjabber%2eorg%2fprotocol%2ftune")).toBe("pep_http://jabber.org/protocol/tune");
    expect(decodeProsodyName("pubsub%2elocalhost")).toBe("pubsub.localhost");
    expect(decodeProsodyName("caf%c3%a9")).toBe("café");
  });
});
