import { describe, expect, it } from "vitest";
import { messageType, nonNegativeResources, routeToAccount, topResources } from "./delivery.js";

/** Sessions by name, with the priority the presence service reports (undefined: not available). */
const priorities: Record<string, number | undefined> = { a: 5, b: 5, c: 1, d: -1, e: undefined };
const priorityOf = (s: string) => priorities[s];
const all = Object.keys(priorities);

describe("RFC 6121 §8.5 delivery to an account", () => {
  it("picks the available resources of highest non-negative priority, all of them when they tie", () => {
    expect(topResources(all, priorityOf)).toEqual(["a", "b"]);
    expect(topResources(["c", "d", "e"], priorityOf)).toEqual(["c"]);
    expect(topResources(["d", "e"], priorityOf)).toEqual([]);
    expect(nonNegativeResources(all, priorityOf)).toEqual(["a", "b", "c"]);
  });

  it("routes each message type as §8.5.2 and §8.5.3.2.1 say", () => {
    expect(routeToAccount("chat", all, false, priorityOf)).toEqual({ action: "deliver", to: ["a", "b"] });
    expect(routeToAccount("normal", ["d", "e"], false, priorityOf)).toEqual({ action: "offline" });
    expect(routeToAccount("normal", all, true, priorityOf)).toEqual({ action: "bounce" });
    expect(routeToAccount("chat", ["d"], true, priorityOf)).toEqual({ action: "offline" });
    expect(routeToAccount("headline", all, false, priorityOf)).toEqual({ action: "deliver", to: ["a", "b", "c"] });
    expect(routeToAccount("headline", ["d", "e"], false, priorityOf)).toEqual({ action: "drop" });
    expect(routeToAccount("headline", all, true, priorityOf)).toEqual({ action: "drop" });
    expect(routeToAccount("groupchat", all, false, priorityOf)).toEqual({ action: "bounce" });
    expect(routeToAccount("error", all, false, priorityOf)).toEqual({ action: "drop" });
    expect(messageType(undefined)).toBe("normal");
    expect(messageType("bogus")).toBe("normal");
  });

  it("with no presence service nobody is available: chat and normal go to offline storage", () => {
    expect(routeToAccount("chat", all, false, () => undefined)).toEqual({ action: "offline" });
  });
});
