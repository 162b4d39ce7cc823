import { describe, expect, it } from "vitest";
import { addressFilter, isNonPublicAddress, normalizeAddress, parseCidr } from "./ip.js";

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

describe("isNonPublicAddress (webhook targets)", () => {
  it("refuses loopback, private, link-local, unique local, multicast and reserved addresses, in every spelling", () => {
    for (const a of [
      "127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
      "100.64.0.1", "192.0.0.8", "198.18.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1",
      "::1", "::", "[::1]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe",
      "64:ff9b::10.0.0.1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "ff02::1", "2001:db8::1", "2002:7f00:1::1",
      "2001:0:4136:e378::1", "::127.0.0.1", "not an address", "1::2::3",
    ]) {
      expect(isNonPublicAddress(a), a).toBe(true);
    }
  });

  it("accepts public addresses", () => {
    for (const a of ["93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700::1111", "2a00:1450:4001:81b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808"]) {
      expect(isNonPublicAddress(a), a).toBe(false);
    }
  });
});
