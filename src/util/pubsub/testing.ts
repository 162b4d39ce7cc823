// A service wired to in-memory parts, for tests here and in the protocol layer: a recording
// broadcaster, a scriptable access oracle (presence subscriptions, roster groups, availability),
// a manual clock and predictable ids.

import { jidBare } from "../jid.js";
import { PubsubService } from "./service.js";
import { MemoryPubsubStore, type PubsubStore } from "./store.js";
import type { SubscriptionTable } from "./subscription-table.js";
import type { AccessOracle, PubsubEvent, ServiceConfig, Subscription } from "./types.js";

export interface TestClock {
  now: number;
  advance(ms: number): void;
}

export class ScriptedOracle implements AccessOracle {
  /** owner -> bare JIDs subscribed to the owner's presence */
  readonly presence = new Map<string, Set<string>>();
  /** owner -> bare JID -> groups */
  readonly roster = new Map<string, Map<string, string[]>>();
  /** Available JIDs (full or bare); undefined = everyone is available. */
  available: Set<string> | undefined;
  /** JID -> current show ("online" for plain availability) */
  readonly shows = new Map<string, string>();

  allowPresence(owner: string, jid: string): void {
    const set = this.presence.get(owner) ?? new Set();
    set.add(jidBare(jid));
    this.presence.set(owner, set);
  }

  putInRoster(owner: string, jid: string, groups: string[]): void {
    const map = this.roster.get(owner) ?? new Map<string, string[]>();
    map.set(jidBare(jid), groups);
    this.roster.set(owner, map);
  }

  async isSubscribedToPresence(owner: string, jid: string): Promise<boolean> {
    return this.presence.get(owner)?.has(jidBare(jid)) ?? false;
  }

  async rosterGroups(owner: string, jid: string): Promise<string[] | null> {
    return this.roster.get(owner)?.get(jidBare(jid)) ?? null;
  }

  /** A bare JID is available when any of its resources is. */
  isAvailable(jid: string): boolean {
    if (this.available === undefined) return true;
    if (jid !== jidBare(jid)) return this.available.has(jid);
    return [...this.available].some((a) => jidBare(a) === jid);
  }

  presenceShow(jid: string): string | undefined {
    return this.shows.get(jid);
  }
}

export interface TestService {
  service: PubsubService;
  store: PubsubStore;
  events: PubsubEvent[];
  oracle: ScriptedOracle;
  clock: TestClock;
  /** Events of one kind, in order. */
  eventsOf<K extends PubsubEvent["kind"]>(kind: K): Array<Extract<PubsubEvent, { kind: K }>>;
}

export function createTestService(
  config: ServiceConfig = {},
  options: { store?: PubsubStore; oracle?: ScriptedOracle; clock?: TestClock } = {},
): TestService {
  const store = options.store ?? new MemoryPubsubStore();
  const events: PubsubEvent[] = [];
  const oracle = options.oracle ?? new ScriptedOracle();
  const clock: TestClock = options.clock ?? {
    now: Date.UTC(2025, 0, 1),
    advance(ms: number) {
      this.now += ms;
    },
  };
  let counter = 0;
  const service = new PubsubService({
    store,
    broadcaster: { notify: (event) => void events.push(event) },
    config,
    access: oracle,
    clock: () => clock.now,
    generateId: () => `id-${++counter}`,
  });
  return {
    service,
    store,
    events,
    oracle,
    clock,
    eventsOf: <K extends PubsubEvent["kind"]>(kind: K) =>
      events.filter((e): e is Extract<PubsubEvent, { kind: K }> => e.kind === kind),
  };
}

/** Unwrap a Result in a test, failing loudly with the error key. */
export function expectOk<T>(result: { ok: true; value: T } | { ok: false; error: string; text?: string }): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error}${result.text ? ` (${result.text})` : ""}`);
  return result.value;
}

/**
 * Where a node's subscription indexes (subscription-table.ts) differ from a walk over its
 * subscriptions, for these JIDs (and their bare JIDs): one line per difference, none when consistent.
 */
export function indexMismatches(table: SubscriptionTable, jids: Iterable<string>): string[] {
  const all = [...table.values()];
  const out: string[] = [];
  const same = (a: Subscription[], b: Subscription[]) => a.length === b.length && a.every((s, i) => s === b[i]);
  const ids = (subs: Subscription[]) => subs.map((s) => s.subid).join(",");
  for (const [subid, s] of table) if (s.subid !== subid) out.push(`${s.subid} filed under ${subid}`);
  for (const jid of jids) {
    const exact = all.filter((s) => s.jid === jid);
    if (!same(table.ofJid(jid), exact)) out.push(`ofJid(${jid}): ${ids(table.ofJid(jid))} instead of ${ids(exact)}`);
    if (table.hasJid(jid) !== exact.length > 0) out.push(`hasJid(${jid}): ${table.hasJid(jid)}`);
    const bare = jidBare(jid);
    const under = all.filter((s) => jidBare(s.jid) === bare);
    if (!same(table.ofBare(bare), under)) out.push(`ofBare(${bare}): ${ids(table.ofBare(bare))} instead of ${ids(under)}`);
    const jidsOf = [...table.jidsOf(bare)].sort().join(",");
    const walked = [...new Set(under.map((s) => s.jid))].sort().join(",");
    if (jidsOf !== walked) out.push(`jidsOf(${bare}): ${jidsOf} instead of ${walked}`);
  }
  const pending = all.filter((s) => s.state === "pending").length;
  if (table.pending !== pending) out.push(`pending: ${table.pending} instead of ${pending}`);
  return out;
}
