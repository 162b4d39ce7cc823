import { describe, expect, it } from "vitest";
import { AuthThrottle, UnauthenticatedLimit, parseBurst, parseRate } from "./limits.js";
import { forwardedFor } from "../util/ip.js";

describe("Prosody's mod_limits syntax", () => {
  it("rates: digits, an optional space, a unit of bytes (k = 1000) per second", () => {
    expect(parseRate("10kb/s")).toBe(10000);
    expect(parseRate("3 kb/s")).toBe(3000);
    expect(parseRate("500b/s")).toBe(500);
    expect(parseRate("2MB/s")).toBe(2e6);
    expect(parseRate("10kb")).toBeUndefined();
    expect(parseRate("fast")).toBeUndefined();
    expect(parseRate(10)).toBeUndefined();
  });
  it("bursts: seconds, as a number or with an s", () => {
    expect(parseBurst("2s")).toBe(2);
    expect(parseBurst("3 s")).toBe(3);
    expect(parseBurst(5)).toBe(5);
    expect(parseBurst("2m")).toBeUndefined();
  });
});

describe("AuthThrottle", () => {
  it("lets max attempts through at once, queues one turn, refuses beyond; successes give their turn back", async () => {
    const t = new AuthThrottle(2, 60_000);
    expect(await t.acquire("192.0.2.1")).toBe(true);
    expect(await t.acquire("::ffff:192.0.2.1")).toBe(true); // the same address, spelled as dual-stack
    const owner = {};
    const waiting = t.acquire("192.0.2.1", owner); // next turn in 30 s
    expect(await t.acquire("192.0.2.1")).toBe(false);
    expect(await t.acquire("192.0.2.2")).toBe(true); // other addresses are not affected
    t.cancel(owner);
    expect(await waiting).toBe(false);
    t.release("192.0.2.1");
    expect(await t.acquire("192.0.2.1")).toBe(true);
  });
});

describe("UnauthenticatedLimit", () => {
  it("counts per address and releases once", () => {
    const l = new UnauthenticatedLimit(1);
    const a = {};
    expect(l.admit(a, "::ffff:10.0.0.1")).toBe(true);
    expect(l.admit({}, "10.0.0.1")).toBe(false);
    l.release(a);
    l.release(a);
    expect(l.count("10.0.0.1")).toBe(0);
  });
});

describe("forwardedFor", () => {
  const trusted = new Set(["127.0.0.1", "10.0.0.0/8"]);
  it("takes the last address that is not a trusted proxy, and only from a trusted peer", () => {
    expect(forwardedFor("127.0.0.1", "203.0.113.7", trusted)).toBe("203.0.113.7");
    expect(forwardedFor("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3", trusted)).toBe("203.0.113.7");
    expect(forwardedFor("::ffff:127.0.0.1", "10.1.2.3", trusted)).toBe("127.0.0.1");
    expect(forwardedFor("192.0.2.9", "203.0.113.7", trusted)).toBe("192.0.2.9");
    expect(forwardedFor("127.0.0.1", undefined, trusted)).toBe("127.0.0.1");
  });
});
