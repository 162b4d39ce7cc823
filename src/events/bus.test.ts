import { describe, expect, it } from "vitest";
import { EventBus, HANDLER_ERROR } from "./bus.js";

describe("EventBus", () => {
  it("runs handlers by priority, then registration order, until one returns a value", async () => {
    const bus = new EventBus();
    const calls: string[] = [];
    bus.on("e", () => void calls.push("low"), -1);
    bus.on("e", () => void calls.push("a0"));
    bus.on("e", () => void calls.push("high"), 10);
    bus.on("e", () => {
      calls.push("b0");
      return "handled";
    });
    bus.on("e", () => void calls.push("c0"));
    expect(await bus.fire("e", {})).toBe("handled");
    expect(calls).toEqual(["high", "a0", "b0"]);
  });

  it("awaits async handlers in order", async () => {
    const bus = new EventBus();
    const calls: number[] = [];
    bus.on("e", async () => {
      await new Promise((r) => setTimeout(r, 20));
      calls.push(1);
    });
    bus.on("e", () => void calls.push(2));
    await bus.fire("e", null);
    expect(calls).toEqual([1, 2]);
  });

  it("reports a throwing handler as HANDLER_ERROR and keeps working", async () => {
    const bus = new EventBus();
    bus.on("e", () => {
      throw new Error("boom");
    });
    expect(await bus.fire("e", null)).toBe(HANDLER_ERROR);
    bus.on("f", () => 1);
    expect(await bus.fire("f", null)).toBe(1);
  });

  it("removes handlers with the returned function and with off()", async () => {
    const bus = new EventBus();
    const off = bus.on("e", () => 1);
    const g = () => 2;
    bus.on("e", g);
    off();
    expect(await bus.fire("e", null)).toBe(2);
    bus.off("e", g);
    expect(bus.has("e")).toBe(false);
    expect(await bus.fire("e", null)).toBeUndefined();
  });

  it("a handler removed during fire does not disturb the running dispatch", async () => {
    const bus = new EventBus();
    const calls: string[] = [];
    const second = () => void calls.push("second");
    bus.on("e", () => {
      calls.push("first");
      bus.off("e", second);
    });
    bus.on("e", second);
    await bus.fire("e", null);
    expect(calls).toEqual(["first", "second"]);
    calls.length = 0;
    await bus.fire("e", null);
    expect(calls).toEqual(["first"]);
  });
});
