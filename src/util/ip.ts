// IP addresses as the server sees them, and filters of addresses and CIDR ranges (IPv4 and IPv6):
// Prosody's `*_allow_ips` / `*_allow_cidr`, registration allow/block lists, trusted_proxies.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) count as
// the IPv4 address they carry.

import { BlockList, isIP } from "node:net";

/** The address without a zone id, IPv4-mapped IPv6 turned into IPv4: one address, one spelling. */
export function normalizeAddress(addr: string): string {
  let a = addr.trim();
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return mapped ? mapped[1] : a;
}

/** Parse "10.0.0.0/8" or "fd00::/8"; undefined when it is not a CIDR range. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const address = normalizeAddress(m[1]);
  const v = isIP(address);
  const prefix = Number(m[2]);
  if (v === 0 || prefix > (v === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

export interface AddressFilter {
  allows(addr: string): boolean;
  /** Entries that were neither an address nor a CIDR range. */
  readonly invalid: string[];
}

export function addressFilter(ips: readonly string[], cidrs: readonly string[]): AddressFilter {
  const list = new BlockList();
  const invalid: string[] = [];
  for (const ip of ips) {
    const a = normalizeAddress(ip);
    const v = isIP(a);
    if (v === 0) invalid.push(ip);
    else list.addAddress(a, v === 4 ? "ipv4" : "ipv6");
  }
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (!p) invalid.push(c);
    else list.addSubnet(p.address, p.prefix, p.family);
  }
  return {
    invalid,
    allows(addr: string): boolean {
      const a = normalizeAddress(addr);
      const v = isIP(a);
      if (v === 0) return false;
      return list.check(a, v === 4 ? "ipv4" : "ipv6");
    },
  };
}

const listFilters = new WeakMap<ReadonlySet<string>, AddressFilter>();

/** Is `ip` in the list (addresses and CIDR ranges mixed, as the registration lists are written)? */
export function ipInList(list: ReadonlySet<string>, ip: string): boolean {
  let filter = listFilters.get(list);
  if (!filter) {
    const entries = [...list];
    filter = addressFilter(
      entries.filter((e) => !e.includes("/")),
      entries.filter((e) => e.includes("/")),
    );
    listFilters.set(list, filter);
  }
  return filter.allows(ip);
}

/**
 * The client's address of an HTTP request that came through trusted proxies (Prosody's
 * trusted_proxies and X-Forwarded-For handling): the last address of the header, with the
 * connection's own appended, that is not a trusted proxy. From an untrusted peer the header is
 * ignored.
 */
export function forwardedFor(peer: string, header: string | undefined, trusted: ReadonlySet<string>): string {
  const direct = normalizeAddress(peer);
  if (!header || !ipInList(trusted, direct)) return direct;
  let ip = direct;
  for (const item of `${header}, ${direct}`.split(/[\s,]+/)) {
    const candidate = normalizeAddress(item.replace(/^\[([0-9a-fA-F:.]*)\](:\d+)?$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1"));
    if (candidate && !ipInList(trusted, candidate)) ip = candidate;
  }
  return ip;
}

// ---- addresses that are not on the public Internet ----------------------------------------------

/** IPv4 ranges that are not globally reachable (RFC 6890 and its successors). */
const NON_PUBLIC_V4: Array<[string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private (RFC 1918)
  ["100.64.0.0", 10], // carrier-grade NAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata services (169.254.169.254)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast (deprecated)
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
];

/** IPv6 ranges that are not globally reachable; those that embed an IPv4 address are judged by it. */
const NON_PUBLIC_V6: Array<[string, number]> = [
  ["::", 96], // unspecified, loopback (::1), IPv4-compatible (deprecated)
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001::", 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: reaches any IPv4 address
  ["3fff::", 20], // documentation
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
];

const nonPublic = new BlockList();
for (const [a, p] of NON_PUBLIC_V4) nonPublic.addSubnet(a, p, "ipv4");
for (const [a, p] of NON_PUBLIC_V6) nonPublic.addSubnet(a, p, "ipv6");

/** The 16 bytes of an IPv6 address (with an embedded dotted IPv4 tail), or undefined. */
function ipv6Bytes(addr: string): number[] | undefined {
  let a = addr;
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted) {
    if (isIP(dotted[2]) !== 4) return undefined;
    const [w, x, y, z] = dotted[2].split(".").map(Number);
    tail = [(w << 8) | x, (y << 8) | z];
    a = dotted[1].endsWith("::") ? dotted[1] : dotted[1].slice(0, -1);
  }
  const halves = a.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":").map((h) => parseInt(h, 16)));
  const head = part(halves[0]);
  const rest = halves.length === 2 ? part(halves[1]) : [];
  const missing = 8 - head.length - rest.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const words = [...head, ...Array.from({ length: missing }, () => 0), ...rest, ...tail];
  if (words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return undefined;
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/**
 * Is this address anywhere but the public Internet: loopback, private, link-local (cloud metadata
 * at 169.254.169.254), unique local, multicast, reserved, documentation ranges, … An IPv6 address
 * that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96) is judged by the IPv4
 * address. What is not an IP address at all counts as not public.
 */
export function isNonPublicAddress(addr: string): boolean {
  const a = normalizeAddress(addr).replace(/^\[(.*)\]$/, "$1");
  const v = isIP(a);
  if (v === 4) return nonPublic.check(a, "ipv4");
  if (v !== 6) return true;
  const b = ipv6Bytes(a.toLowerCase());
  if (!b) return true;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  if (mapped || nat64) return nonPublic.check(b.slice(12).join("."), "ipv4");
  return nonPublic.check(a, "ipv6");
}
