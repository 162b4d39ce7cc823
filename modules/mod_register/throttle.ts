// Registrations per IP address within a period (Prosody's registration_throttle_max /
// registration_throttle_period, with min_seconds_between_registrations meaning "1 per that many
// seconds"), plus allow- and blocklists of addresses.

export class RegistrationThrottle {
  private recent = new Map<string, number[]>();

  constructor(
    /** At most this many registrations per address... */
    private readonly max: number | undefined,
    /** ...within this many milliseconds. */
    private readonly periodMs: number,
    private readonly cacheSize = 1000,
  ) {}

  /** Count an attempt from `ip`; false when it is over the limit (the attempt is not counted then). */
  poll(ip: string, now = Date.now()): boolean {
    if (this.max === undefined) return true;
    const times = (this.recent.get(ip) ?? []).filter((t) => now - t < this.periodMs);
    if (times.length >= this.max) {
      this.recent.set(ip, times);
      return false;
    }
    times.push(now);
    this.recent.delete(ip);
    this.recent.set(ip, times);
    // Forget the least recently seen addresses beyond the cache size.
    while (this.recent.size > this.cacheSize) this.recent.delete(this.recent.keys().next().value as string);
    return true;
  }
}

/** Node gives IPv4 peers of dual-stack sockets as ::ffff:a.b.c.d. */
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
