import { describe, expect, it } from "vitest";
import { addressFilter, normalizeAddress, parseCidr } from "./ip.js";

describe("address filters (openmetrics_allow_ips / openmetrics_allow_cidr)", () => {
  it("normalizes IPv4-mapped IPv6 and zone ids", () => {
    expect(normalizeAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizeAddress("::FFFF:10.1.2.3")).toBe("10.1.2.3");
    expect(normalizeAddress("fe80::1%eth0")).toBe("fe80::1");
    expect(normalizeAddress("::1")).toBe("::1");
  });

  it("parses CIDR ranges and refuses what is not one", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ address: "10.0.0.0", prefix: 8, family: "ipv4" });
    expect(parseCidr(" fd00::/8 ")).toEqual({ address: "fd00::", prefix: 8, family: "ipv6" });
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("fd00::/129")).toBeUndefined();
    expect(parseCidr("10.0.0.0")).toBeUndefined();
    expect(parseCidr("example.com/8")).toBeUndefined();
    expect(parseCidr("10.0.0.0/8/8")).toBeUndefined();
  });

  it("Prosody's default: exactly ::1 and 127.0.0.1", () => {
    const f = addressFilter(["::1", "127.0.0.1"], []);
    expect(f.allows("127.0.0.1")).toBe(true);
    expect(f.allows("::ffff:127.0.0.1")).toBe(true); // a dual-stack socket's view of 127.0.0.1
    expect(f.allows("::1")).toBe(true);
    expect(f.allows("0:0:0:0:0:0:0:1")).toBe(true); // the same address written out
    expect(f.allows("127.0.0.2")).toBe(false);
    expect(f.allows("192.0.2.1")).toBe(false);
    expect(f.allows("")).toBe(false);
    expect(f.allows("not an address")).toBe(false);
  });

  it("CIDR ranges: boundaries included, neighbours excluded, both families", () => {
    const f = addressFilter([], ["192.168.10.0/23", "2001:db8:1::/48"]);
    expect(f.allows("192.168.10.0")).toBe(true);
    expect(f.allows("192.168.11.255")).toBe(true);
    expect(f.allows("::ffff:192.168.11.7")).toBe(true);
    expect(f.allows("192.168.12.0")).toBe(false);
    expect(f.allows("192.168.9.255")).toBe(false);
    expect(f.allows("2001:db8:1:ffff::1")).toBe(true);
    expect(f.allows("2001:db8:2::1")).toBe(false);
    expect(f.allows("127.0.0.1")).toBe(false);
    const all = addressFilter([], ["0.0.0.0/0"]);
    expect(all.allows("203.0.113.9")).toBe(true);
    expect(all.allows("2001:db8::1")).toBe(false);
    const host = addressFilter([], ["203.0.113.9/32"]);
    expect(host.allows("203.0.113.9")).toBe(true);
    expect(host.allows("203.0.113.8")).toBe(false);
  });

  it("reports entries that are neither addresses nor ranges", () => {
    const f = addressFilter(["127.0.0.1", "localhost"], ["10.0.0.0/8", "10.0.0.0/40"]);
    expect(f.invalid).toEqual(["localhost", "10.0.0.0/40"]);
    expect(f.allows("10.200.0.1")).toBe(true);
  });
});
