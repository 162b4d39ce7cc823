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

export { ipInList, normalizeAddress } from "../../src/util/ip.js";
