// IP addresses as the server sees them, and lists of addresses and IPv4 CIDR ranges.

/** Node gives IPv4 peers of dual-stack sockets as ::ffff:a.b.c.d; one address, one spelling. */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/** Is `ip` in the list (plain addresses, or IPv4 CIDR ranges like 10.0.0.0/8)? */
export function ipInList(list: ReadonlySet<string>, ip: string): boolean {
  if (list.has(ip)) return true;
  const v4 = parseV4(ip);
  if (v4 === undefined) return false;
  for (const entry of list) {
    const slash = entry.indexOf("/");
    if (slash < 0) continue;
    const base = parseV4(entry.slice(0, slash));
    const bits = Number(entry.slice(slash + 1));
    if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) continue;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((v4 & mask) >>> 0) === ((base & mask) >>> 0)) return true;
  }
  return false;
}

function parseV4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/**
 * The client's address of an HTTP request that came through trusted proxies (Prosody's
 * trusted_proxies and X-Forwarded-For handling): the last address of the header, with the
 * connection's own appended, that is not a trusted proxy. From an untrusted peer the header is
 * ignored.
 */
export function forwardedFor(peer: string, header: string | undefined, trusted: ReadonlySet<string>): string {
  const direct = normalizeIp(peer);
  if (!header || !ipInList(trusted, direct)) return direct;
  let ip = direct;
  for (const item of `${header}, ${direct}`.split(/[\s,]+/)) {
    const candidate = normalizeIp(item.replace(/^\[([0-9a-fA-F:.]*)\](:\d+)?$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1"));
    if (candidate && !ipInList(trusted, candidate)) ip = candidate;
  }
  return ip;
}
