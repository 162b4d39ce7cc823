// What the benchmark programs share: load clients (PLAIN logins without TLS, in-band registration,
// pubsub publishers and subscribers), sockets read with a byte scanner instead of an XML parser (so
// the client side costs little), a server's RSS, and latency figures.

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { percentile } from "../helpers/stats.js";
import { RawClient } from "../helpers/xmpp-client.js";

export { percentile } from "../helpers/stats.js";
export { freePort, waitForPort } from "../helpers/ports.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";

/** A load client: logged in without TLS (PLAIN unless told otherwise; the servers measured accept any password or "pw"). */
export function loadLogin(
  port: number,
  user: string,
  password: string,
  opts: { resource?: string; domain?: string; mechanism?: "PLAIN" | "SCRAM-SHA-1" } = {},
): Promise<RawClient> {
  return RawClient.login(port, user, password, { noTls: true, mechanism: opts.mechanism ?? "PLAIN", resource: opts.resource, domain: opts.domain });
}

/** Register `user` by in-band registration (XEP-0077); an account that exists already is fine. */
export async function register(port: number, user: string, password = "pw"): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await c.stream();
    const r = await c.iq(`<iq type='set' id='reg-${user}'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`, 60_000);
    if (r.attrs.type !== "result" && r.getChild("error")?.getChild("conflict") === undefined) throw new Error(`registration of ${user} failed: ${r}`);
  } finally {
    c.close();
  }
}

/** The resident set of a process in KiB (from /proc); undefined without a pid or once the process is gone. */
export function rssKiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** "p50 …, p95 …, p99 …, max …" of latencies in ms. */
export function latencySummary(samples: number[]): string {
  const p = (q: number) => percentile(samples, q).toFixed(2);
  return `p50 ${p(50)} ms, p95 ${p(95)} ms, p99 ${p(99)} ms, max ${Math.max(...samples).toFixed(2)} ms`;
}

/** `task(0)` … `task(n - 1)`, at most `concurrency` at a time; returns tasks per second. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** `make(0)` … `make(count - 1)` in batches of `batch` run together; their results in order. */
export async function inBatches<T>(count: number, batch: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_, k) => make(start + k)))));
  }
  return out;
}

/** Notes when each id (the first group of `marker`) first shows up on a socket, scanning its bytes (what it read before is not parsed any more). */
export class IdScanner {
  private tail = "";
  readonly seen = new Map<string, number>();

  constructor(socket: RawClient["socket"], private readonly marker: RegExp) {
    socket.removeAllListeners("data");
    socket.on("data", (chunk: Buffer) => {
      const now = performance.now();
      const s = this.tail + chunk.toString("utf8");
      for (const m of s.matchAll(this.marker)) if (!this.seen.has(m[1])) this.seen.set(m[1], now);
      this.tail = s.slice(-64);
    });
  }
}

/**
 * Once every scanner has seen every id of `sentAt` (or after `timeoutMs`): each delivery's latency
 * (sent -> read, sorted), the deliveries missing, and when the last one was read (0 if none).
 */
export async function deliveries(scanners: IdScanner[], sentAt: Map<string, number>, timeoutMs: number): Promise<{ latencies: number[]; missing: number; last: number }> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && scanners.some((s) => s.seen.size < sentAt.size)) await new Promise((r) => setTimeout(r, 20));
  const latencies: number[] = [];
  let missing = 0;
  let last = 0;
  for (const s of scanners) {
    for (const [id, t] of sentAt) {
      const at = s.seen.get(id);
      if (at === undefined) missing++;
      else {
        latencies.push(at - t);
        if (at > last) last = at;
      }
    }
  }
  latencies.sort((a, b) => a - b);
  return { latencies, missing, last };
}

/** `bytes` characters of text, for payloads of a given size. */
export function filler(bytes: number): string {
  return "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(Math.ceil(bytes / 57)).slice(0, bytes);
}

/** A pubsub node created on `service` by `owner`. */
export async function createNode(owner: RawClient, service: string, node: string): Promise<void> {
  const r = await owner.iq(`<iq type='set' to='${service}' id='c'><pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/></pubsub></iq>`);
  if (r.attrs.type !== "result") throw new Error(`create failed: ${r}`);
}

/** Accounts `sub0` … logged in (`batch` at a time, any password) and subscribed to the node. */
export function subscribers(port: number, count: number, batch: number, to: { service: string; node: string; domain?: string }): Promise<RawClient[]> {
  return inBatches(count, batch, async (i) => {
    const c = await loadLogin(port, `sub${i}`, "x", { resource: "r", domain: to.domain });
    const r = await c.iq(`<iq type='set' to='${to.service}' id='s'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='${to.node}' jid='${c.jid}'/></pubsub></iq>`, 60_000);
    if (r.attrs.type !== "result") throw new Error(`subscribe failed: ${r}`);
    return c;
  });
}

/**
 * `count` items published one after another (each waited for); when each was sent (by item id), the
 * publish round trips, and the seconds it took.
 */
export async function publishItems(
  publisher: RawClient,
  to: { service: string; node: string },
  count: number,
  item: { id: (k: number) => string; iqId: (k: number) => string; payload: string },
): Promise<{ sentAt: Map<string, number>; rtts: number[]; seconds: number }> {
  const sentAt = new Map<string, number>();
  const rtts: number[] = [];
  const start = performance.now();
  for (let k = 0; k < count; k++) {
    const id = item.id(k);
    const t = performance.now();
    sentAt.set(id, t);
    const r = await publisher.iq(
      `<iq type='set' to='${to.service}' id='${item.iqId(k)}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${to.node}'><item id='${id}'>${item.payload}</item></publish></pubsub></iq>`,
      60_000,
    );
    if (r.attrs.type !== "result") throw new Error(`publish failed: ${r}`);
    rtts.push(performance.now() - t);
  }
  return { sentAt, rtts, seconds: (performance.now() - start) / 1000 };
}
