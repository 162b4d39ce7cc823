// Limits on client connections against abuse, shared by every listener:
//
//   AuthThrottle          password attempts per remote address, across all of its connections
//                         (`limit_auth_max` attempts, then one per `limit_auth_period / limit_auth_max`)
//   UnauthenticatedLimit  connections per remote address that have not authenticated yet
//                         (`c2s_max_unauthenticated_per_ip`)
//   ReadThrottle          bytes read per session and second, with a burst allowance
//                         (Prosody's mod_limits: `limits = { c2s = { rate = "10kb/s"; burst = "2s" } }`,
//                         `unlimited_jids`)

import { normalizeAddress } from "../util/ip.js";

/** A token bucket that may run into debt: reservations beyond the balance wait their turn. */
class Bucket {
  balance: number;
  private t: number;
  constructor(
    readonly max: number,
    /** Tokens per millisecond. */
    readonly rate: number,
    now: number,
  ) {
    this.balance = max;
    this.t = now;
  }
  update(now: number): number {
    this.balance = Math.min(this.max, this.balance + (now - this.t) * this.rate);
    this.t = now;
    return this.balance;
  }
  /** Full again (nothing owed, nothing to remember). */
  idle(now: number): boolean {
    return this.update(now) >= this.max;
  }
}

/**
 * Password attempts per remote address. Every attempt (a SASL <auth/>) takes a token of its
 * address's bucket before any password is looked at, and gives it back when it succeeds, so only
 * failures count. `max` attempts may run at once; after that each attempt waits for its turn, one
 * per `periodMs / max`, whichever connection of the address it comes on. An attempt that would
 * wait longer than one turn is refused without checking the password.
 */
export class AuthThrottle {
  private buckets = new Map<string, Bucket>();
  constructor(
    private readonly max: number,
    private readonly periodMs: number,
    private readonly cacheSize = 10000,
  ) {}

  private get interval(): number {
    return this.periodMs / this.max;
  }

  private waiting = new Map<object, { timer: NodeJS.Timeout; done: (ok: boolean) => void }>();

  /**
   * Wait for this address's turn. false: the wait would be too long (refuse the attempt), or the
   * waiting connection (`owner`) was cancelled meanwhile.
   */
  async acquire(addr: string, owner?: object, now = Date.now()): Promise<boolean> {
    const key = normalizeAddress(addr);
    let b = this.buckets.get(key);
    if (!b) {
      b = new Bucket(this.max, this.max / this.periodMs, now);
      this.remember(key, b, now);
    }
    b.update(now);
    const wait = (1 - b.balance) / b.rate;
    if (wait > this.interval + 1) return false;
    b.balance -= 1;
    if (wait <= 0) return true;
    const ok = await new Promise<boolean>((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        if (owner) this.waiting.delete(owner);
        resolve(result);
      };
      const timer = setTimeout(() => done(true), Math.ceil(wait));
      if (owner) this.waiting.set(owner, { timer, done });
    });
    if (!ok) this.release(addr);
    return ok;
  }

  /** The connection is gone: its waiting attempt ends without a turn. */
  cancel(owner: object): void {
    this.waiting.get(owner)?.done(false);
  }

  /** The attempt succeeded, or ended without checking a password: it does not count. */
  release(addr: string, now = Date.now()): void {
    const b = this.buckets.get(normalizeAddress(addr));
    if (!b) return;
    b.update(now);
    b.balance = Math.min(b.max, b.balance + 1);
  }

  /** Recent attempts still weigh on this address (tests, `herald` status). */
  owed(addr: string, now = Date.now()): number {
    const b = this.buckets.get(normalizeAddress(addr));
    return b ? b.max - b.update(now) : 0;
  }

  private remember(key: string, b: Bucket, now: number): void {
    this.buckets.set(key, b);
    if (this.buckets.size <= this.cacheSize) return;
    // Forget addresses whose bucket is full again first; a flood of new addresses must not wipe
    // the record of the ones that are guessing.
    for (const [k, v] of this.buckets) if (k !== key && v.idle(now)) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.cacheSize) break;
      if (k !== key) this.buckets.delete(k);
    }
  }
}

/** Connections per remote address that have not authenticated (or closed) yet. */
export class UnauthenticatedLimit {
  private counts = new Map<string, number>();
  private held = new WeakMap<object, string>();
  constructor(private readonly max: number) {}

  /** Count a new connection; false when its address already has `max` of them. */
  admit(conn: object, addr: string): boolean {
    const key = normalizeAddress(addr);
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    this.held.set(conn, key);
    return true;
  }

  /** The connection authenticated or closed. Safe to call more than once. */
  release(conn: object): void {
    const key = this.held.get(conn);
    if (key === undefined) return;
    this.held.delete(conn);
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  count(addr: string): number {
    return this.counts.get(normalizeAddress(addr)) ?? 0;
  }
}

export interface ReadLimit {
  bytesPerSecond: number;
  burstSeconds: number;
}

/**
 * Reading from one session at `bytesPerSecond`, with `bytesPerSecond * burstSeconds` allowed at
 * once. What is beyond the allowance is held back and the transport paused until the bucket has
 * refilled; nothing is dropped (TCP's own flow control slows the peer down). A byte stream is
 * handed on in pieces as the allowance permits (`split`); a framed transport's messages whole,
 * a message larger than the bucket once the bucket is full.
 */
export class ReadThrottle {
  private bucket: Bucket;
  private held: Buffer[] = [];
  private holding = false;
  private timer?: NodeJS.Timeout;
  private off = false;

  constructor(
    limit: ReadLimit,
    private readonly io: { deliver(chunk: Buffer): void; hold(): void; release(): void },
    private readonly split = true,
  ) {
    const max = Math.max(1, limit.bytesPerSecond * limit.burstSeconds);
    this.bucket = new Bucket(max, limit.bytesPerSecond / 1000, Date.now());
  }

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (this.off) return this.io.deliver(buf);
    this.held.push(buf);
    if (this.held.length === 1) this.drain();
  }

  /** Read without limit from now on (`unlimited_jids`), handing over what was held back. */
  disable(): void {
    if (this.off) return;
    this.off = true;
    this.stop();
    const held = this.held;
    this.held = [];
    if (this.holding) {
      this.holding = false;
      this.io.release();
    }
    for (const c of held) this.io.deliver(c);
  }

  /** The connection is gone: no more timers. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drain(): void {
    this.timer = undefined;
    while (this.held.length && !this.off) {
      const head = this.held[0];
      const available = Math.floor(this.bucket.update(Date.now()));
      if (available >= head.length || (!this.split && available >= Math.min(head.length, this.bucket.max))) {
        this.bucket.balance -= head.length;
        this.held.shift();
        this.io.deliver(head);
      } else {
        if (this.split && available > 0) {
          this.bucket.balance -= available;
          this.held[0] = head.subarray(available);
          this.io.deliver(head.subarray(0, available));
        }
        break;
      }
    }
    if (this.off) return;
    if (this.held.length) {
      if (!this.holding) {
        this.holding = true;
        this.io.hold();
      }
      const need = this.split ? Math.min(this.held[0].length, Math.max(1, this.bucket.max / 4)) : Math.min(this.held[0].length, this.bucket.max);
      const wait = Math.max(10, Math.ceil((need - this.bucket.balance) / this.bucket.rate));
      this.timer = setTimeout(() => this.drain(), wait);
      this.timer.unref?.();
    } else if (this.holding) {
      this.holding = false;
      this.io.release();
    }
  }
}

const RATE_UNITS: Record<string, number> = { b: 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** Prosody's rate syntax: "10kb/s", "3 kb/s", "500b/s" (k = 1000). undefined: not understood. */
export function parseRate(text: unknown): number | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^(\d+) ?([^/]+)\/s$/.exec(text);
  const unit = m ? RATE_UNITS[m[2][0].toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : undefined;
}

/** Prosody's burst syntax: a number of seconds or "2s". undefined: not understood. */
export function parseBurst(value: unknown): number | undefined {
  if (typeof value === "number") return value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^(\d+) ?s$/.exec(value) ?? /^(\d+(?:\.\d+)?)$/.exec(value);
  return m ? Number(m[1]) : undefined;
}
