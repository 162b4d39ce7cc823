import { describe, expect, it } from "vitest";
import { EventBus, type EventSpec } from "./bus.js";
import { StanzaError } from "../xml/stanza.js";

declare module "./bus.js" {
  interface EventMap {
    // Events of these tests only.
    e: EventSpec<unknown, unknown>;
    f: EventSpec<unknown, number>;
  }
}

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

  it("rejects with a throwing handler's error, logs it once, skips later handlers and keeps working", async () => {
    const logged: string[] = [];
    const log = { error: (m: string) => void logged.push(m) } as unknown as ConstructorParameters<typeof EventBus>[0];
    const bus = new EventBus(log);
    const outer = new EventBus(log);
    const boom = new Error("boom");
    let later = false;
    bus.on("e", () => {
      throw boom;
    });
    bus.on("e", () => void (later = true), -1);
    // A handler that fires another event and lets its error through: logged once, not twice.
    outer.on("e", () => bus.fire("e", null));
    await expect(outer.fire("e", null)).rejects.toBe(boom);
    expect(later).toBe(false);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain("Error in handler for e");
    bus.on("f", () => 1);
    expect(await bus.fire("f", null)).toBe(1);
  });

  it("passes a thrown StanzaError on as an answer without logging it", async () => {
    const logged: string[] = [];
    const bus = new EventBus({ error: (m: string) => void logged.push(m) } as unknown as ConstructorParameters<typeof EventBus>[0]);
    bus.on("e", () => {
      throw new StanzaError("cancel", "item-not-found");
    });
    await expect(bus.fire("e", null)).rejects.toMatchObject({ condition: "item-not-found", type: "cancel" });
    expect(logged).toEqual([]);
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
