import { describe, expect, it } from "vitest";
import { createStorage } from "../../src/storage/index.js";
import { MemoryStorage } from "../../src/storage/memory.js";
import { storageContract } from "./contract.js";

storageContract("memory", async () => new MemoryStorage());

describe("memory driver", () => {
  it("is what createStorage('memory') gives", () => {
    const d = createStorage("memory", {});
    expect(d).toBeInstanceOf(MemoryStorage);
    expect(d.name).toBe("memory");
  });

  it("rejects an unknown storage kind", () => {
    expect(() => createStorage("sql" as "memory", {})).toThrow(/unknown storage/);
  });

  it("separate instances share nothing", async () => {
    const a = new MemoryStorage();
    const b = new MemoryStorage();
    await a.keyval("h", "s").set("u", 1);
    expect(await b.keyval("h", "s").get("u")).toBeUndefined();
  });
});
