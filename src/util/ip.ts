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
