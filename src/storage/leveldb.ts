// LevelDB storage driver (the `level` package, i.e. classic-level): ONE database for all hosts and
// stores, string keys built from escaped, NUL-terminated components, JSON values.
// The key layout is documented in KEYS.md beside this file.
// Every write is synced (fsync) before its promise resolves, unless constructed with { sync: false }.
// Writes are group-committed: those issued while a synced batch is being written are coalesced into
// the next one (one fsync for all of them); each caller's promise resolves once its batch is synced.
// Archives keep a per-user item counter, so count() and trimming never scan the items.

import { createRequire } from "node:module";
import type { Level } from "level";
import {
  type AppendOptions,
  type ArchiveItem,
  type ArchiveQuery,
  type ArchiveStore,
  type Json,
  type KeyvalStore,
  type MapStore,
  type StorageDriver,
  type StoreKind,
} from "./types.js";
import {
  appendOptions,
  applyWindow,
  checkCount,
  checkKeep,
  checkName,
  checkQuery,
  compareKeys,
  generateId,
  itemNotFound,
  matchesFilters,
  toJson,
  windowFromEnd,
} from "./memory.js";
import { KeyedLock } from "../util/keyed-lock.js";

/**
 * LevelDB's native binding is loaded when a database is first opened, not by a server on memory
 * storage. A plain require() where there is one: the single-executable bundle (CommonJS) bundles it.
 */
const loadLevel = (): typeof Level =>
  ((typeof require === "function" ? require("level") : createRequire(import.meta.url)("level")) as { Level: typeof Level }).Level;

// ---------------------------------------------------------------------------------------------
// Key encoding (see KEYS.md)

const TAG_KEYVAL = "K";
const TAG_MAP = "M";
const TAG_ARCHIVE = "A";
const TAG_INDEX = "I";
const TAG_STORES = "S";
const TAG_COUNT = "C";
const TAG_META = "V";
const FORMAT_KEY = TAG_META + "format";
const FORMAT = "2";
/** The format before archive counters; open() migrates it (adds the C keys). */
const FORMAT_V1 = "1";
/** Prefix of the value-format version keys of stores (upgradeValues): `V{store-format}{host}T{store}`. */
const VALUE_FORMAT_PREFIX = TAG_META + encodeComponent("store-format");
const KIND_TAGS: Record<StoreKind, string> = { keyval: TAG_KEYVAL, map: TAG_MAP, archive: TAG_ARCHIVE };

const WHEN_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits
const SEQ_DIGITS = 10;
const MAX_WHEN = Number.MAX_SAFE_INTEGER;

/** One key component: NUL -> \x01\x01, \x01 -> \x01\x02, then a NUL terminator. Order-preserving. */
export function encodeComponent(s: string): string {
  return s.replaceAll("\x01", "\x01\x02").replaceAll("\x00", "\x01\x01") + "\x00";
}

/** Decode the component starting at `pos`; returns it and the position after its terminator. */
export function decodeComponent(key: string, pos: number): [string, number] {
  let out = "";
  let i = pos;
  for (;;) {
    const c = key.charCodeAt(i);
    if (Number.isNaN(c)) throw new Error("storage: malformed key (unterminated component)");
    if (c === 0) return [out, i + 1];
    if (c === 1) {
      const d = key.charCodeAt(i + 1);
      if (d === 1) out += "\x00";
      else if (d === 2) out += "\x01";
      else throw new Error("storage: malformed key (bad escape)");
      i += 2;
    } else {
      // Copy a run of ordinary characters at once.
      let j = i + 1;
      while (j < key.length && key.charCodeAt(j) > 1) j++;
      out += key.slice(i, j);
      i = j;
    }
  }
}

/** The range of every key that starts with `prefix` (which ends with a component terminator). */
function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: prefix.slice(0, -1) + "\x01" };
}

function storePrefix(tag: string, host: string, store: string): string {
  return tag + encodeComponent(host) + encodeComponent(store);
}

function registryKey(host: string, tag: string, store: string): string {
  return TAG_STORES + encodeComponent(host) + tag + encodeComponent(store);
}

/** The C key (item counter) of an archive user, from its data prefix `A{host}{store}{user}`. */
function countKeyOf(dataPrefix: string): string {
  return TAG_COUNT + dataPrefix.slice(TAG_ARCHIVE.length);
}

function pad(n: number, digits: number): string {
  return String(n).padStart(digits, "0");
}

/** The sortable part of an archive data key: zero-padded when, "-", zero-padded sequence. */
function archiveSuffix(when: number, seq: number): string {
  return pad(when, WHEN_DIGITS) + "-" + pad(seq, SEQ_DIGITS);
}

function parseSuffix(suffix: string): { when: number; seq: number } {
  return { when: Number(suffix.slice(0, WHEN_DIGITS)), seq: Number(suffix.slice(WHEN_DIGITS + 1)) };
}

/** Bound on the per-user caches of archives (newest key, count, trimmed floor; entries are ~100 bytes). */
const LAST_APPENDED_MAX = 100_000;
/** Archive users whose oldest items are kept read ahead (see LevelStorage.heads), and how many beyond need. */
const HEADS_MAX = 1000;
const HEAD_READ_AHEAD = 32;

/** Deleted archive keys of one user after which the deleted range is compacted (tombstones dropped). */
const COMPACT_AFTER_DELETES = 20_000;

/** A Map that forgets everything when it reaches its bound (the caches below are only hints or re-readable). */
function boundedSet<K, V>(m: Map<K, V>, key: K, value: V, max = LAST_APPENDED_MAX): void {
  if (!m.has(key) && m.size >= max) m.clear();
  m.set(key, value);
}

interface Bound {
  key: string;
  inclusive: boolean;
}

function maxLower(a: Bound, b: Bound): Bound {
  const c = compareKeys(a.key, b.key);
  if (c !== 0) return c > 0 ? a : b;
  return a.inclusive ? b : a;
}

function minUpper(a: Bound, b: Bound): Bound {
  const c = compareKeys(a.key, b.key);
  if (c !== 0) return c < 0 ? a : b;
  return a.inclusive ? b : a;
}

interface Range {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

function toRange(lower: Bound, upper: Bound): Range {
  const r: Range = {};
  if (lower.inclusive) r.gte = lower.key;
  else r.gt = lower.key;
  if (upper.inclusive) r.lte = upper.key;
  else r.lt = upper.key;
  return r;
}

function inRange(key: string, lower: Bound, upper: Bound): boolean {
  const lo = compareKeys(key, lower.key);
  const hi = compareKeys(key, upper.key);
  return (lo > 0 || (lo === 0 && lower.inclusive)) && (hi < 0 || (hi === 0 && upper.inclusive));
}

/** Stored archive item (the JSON value of a data key). */
interface StoredItem {
  id: string;
  when: number;
  with?: string;
  value: Json;
}

function toItem<T>(text: string): ArchiveItem<T> {
  const s = JSON.parse(text) as StoredItem;
  const item: ArchiveItem<T> = { id: s.id, when: s.when, value: s.value as T };
  if (s.with !== undefined) item.with = s.with;
  return item;
}

type Op = { type: "put"; key: string; value: string } | { type: "del"; key: string };

export interface LevelStorageOptions {
  /** fsync every write before resolving (default true). false is for benchmarks only. */
  sync?: boolean;
}

/** Counters of the group commit (tests, benchmarks). */
export interface CommitStats {
  /** db.batch calls made. */
  batches: number;
  /** Writes (callers) they carried. */
  writes: number;
  /** Compactions of trimmed archive ranges done. */
  compactions: number;
}

interface PendingWrite {
  ops: Op[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class LevelStorage implements StorageDriver {
  readonly name = "leveldb";
  readonly path: string;
  private readonly db: Level<string, string>;
  private readonly writeOptions: { sync: boolean };
  private readonly registered = new Set<string>();
  private readonly locks = new KeyedLock();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly lastAppended = new Map<string, { when: number; seq: number }>();
  /** Item count per archive user (data prefix), as stored in its C key. Read/written under the user's lock. */
  private readonly counts = new Map<string, number>();
  /**
   * Per archive user (data prefix): its oldest live items as [key, id], oldest first, a prefix of
   * what is stored, read ahead so that trimming a node at max_items takes the items to drop from
   * here instead of opening an iterator and parsing an item on every publish. Kept up to date by
   * appends (which only add after it and delete from it); any other deletion drops it.
   */
  private readonly heads = new Map<string, Array<[string, string]>>();
  /**
   * Per archive user (data prefix): a data key such that every key of the user at or below it has
   * been deleted (the last key trimmed). Iterations start past it instead of walking tombstones.
   */
  private readonly floors = new Map<string, string>();
  /** Keys deleted per archive user since its deleted range was last compacted. */
  private readonly deletedSince = new Map<string, number>();
  private pending: PendingWrite[] = [];
  private committing = false;
  readonly commitStats: CommitStats = { batches: 0, writes: 0, compactions: 0 };

  constructor(path: string, options: LevelStorageOptions = {}) {
    this.path = path;
    this.db = new (loadLevel())<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8" });
    this.writeOptions = { sync: options.sync ?? true };
  }

  async open(): Promise<void> {
    await this.db.open();
    const format = await this.db.get(FORMAT_KEY);
    if (format === undefined) await this.db.put(FORMAT_KEY, FORMAT, this.writeOptions);
    else if (format === FORMAT_V1) await this.migrateFromV1();
    else if (format !== FORMAT) {
      await this.db.close();
      throw new Error(`storage: ${this.path} has key format ${format}, this version reads format ${FORMAT}`);
    }
  }

  /**
   * Format 1 -> 2: write the item counter (C key) of every archive user, then the new format.
   * Idempotent: interrupted, it runs again from the start on the next open (the counts are recomputed
   * and overwritten), and format 1 code refuses to open the result.
   */
  private async migrateFromV1(): Promise<void> {
    const it = this.db.keys({ gte: TAG_ARCHIVE, lt: String.fromCharCode(TAG_ARCHIVE.charCodeAt(0) + 1) });
    let batch: Op[] = [];
    let current: string | undefined;
    let n = 0;
    const flush = async (force: boolean) => {
      if (batch.length >= 1000 || (force && batch.length > 0)) {
        await this.db.batch(batch, this.writeOptions);
        batch = [];
      }
    };
    try {
      for (let keys = await it.nextv(1000); keys.length > 0; keys = await it.nextv(1000)) {
        for (const key of keys) {
          if (current !== undefined && key.startsWith(current)) {
            n++;
            continue;
          }
          if (current !== undefined) batch.push({ type: "put", key: countKeyOf(current), value: String(n) });
          let pos = 1;
          for (let c = 0; c < 3; c++) pos = decodeComponent(key, pos)[1];
          current = key.slice(0, pos);
          n = 1;
        }
        await flush(false);
      }
    } finally {
      await it.close();
    }
    if (current !== undefined) batch.push({ type: "put", key: countKeyOf(current), value: String(n) });
    await flush(true);
    await this.db.put(FORMAT_KEY, FORMAT, this.writeOptions);
  }

  /** Waits for operations in progress, then closes the database. */
  async close(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight);
    await this.db.close();
  }

  /** Track an operation so close() can wait for it. */
  private track<R>(fn: () => Promise<R>): Promise<R> {
    const p = (async () => fn())(); // a synchronous throw becomes a rejection
    this.inFlight.add(p);
    const done = () => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private async write(ops: Op[], registry?: string): Promise<void> {
    const all = ops.slice();
    if (registry !== undefined && !this.registered.has(registry)) all.push({ type: "put", key: registry, value: "" });
    if (all.length === 0) return;
    await this.commit(all);
    if (registry !== undefined) this.registered.add(registry);
  }

  /**
   * Group commit. A write issued while no batch is being written goes out at once; writes issued
   * while one is in flight wait and then go out together, as one batch with one fsync. Each write's
   * operations stay atomic (they are inside one atomic batch) and keep their order (later ones win on
   * the same key, as if applied one after another). Every caller's promise settles with its batch:
   * resolved once synced, or rejected with the batch's error (then none of its writes happened).
   */
  private commit(ops: Op[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ops, resolve, reject });
      if (!this.committing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.committing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        const ops = group.length === 1 ? group[0].ops : group.flatMap((w) => w.ops);
        this.commitStats.batches++;
        this.commitStats.writes += group.length;
        try {
          // A chained batch: abstract-level's array form clones and validates every operation in
          // JavaScript and the binding then reads each back property by property, ~10 µs of main
          // thread per operation, the largest LevelDB cost in a publish's profile; put/del on a
          // chained batch hand each key and value straight to the native batch (~1-4 µs).
          if (this.db.status !== "open") {
            await this.db.batch(ops, this.writeOptions); // deferred until open
            for (const w of group) w.resolve();
            continue;
          }
          const batch = this.db.batch();
          try {
            for (const op of ops) {
              if (op.type === "put") batch.put(op.key, op.value);
              else batch.del(op.key);
            }
          } catch (err) {
            await batch.close();
            throw err;
          }
          await batch.write(this.writeOptions);
        } catch (err) {
          for (const w of group) w.reject(err);
          continue;
        }
        for (const w of group) w.resolve();
      }
    } finally {
      this.committing = false;
    }
  }

  /** Stored item count of an archive user (its C key; 0 if none). Call under the user's lock. */
  private async countOf(dataPrefix: string): Promise<number> {
    const cached = this.counts.get(dataPrefix);
    if (cached !== undefined) return cached;
    const text = await this.read(countKeyOf(dataPrefix));
    const n = text === undefined ? 0 : Number(text);
    boundedSet(this.counts, dataPrefix, n);
    return n;
  }

  /** The first live data keys of a user, oldest first, at most `limit`, starting past the trimmed floor. */
  private async oldest(dataPrefix: string, limit: number): Promise<Array<[string, string]>> {
    const range = prefixRange(dataPrefix);
    const floor = this.floors.get(dataPrefix);
    return this.db.iterator(floor === undefined ? { ...range, limit } : { gt: floor, lt: range.lt, limit }).all();
  }

  /** The `limit` oldest live items of a user as [key, id], from its read-ahead head (see heads). */
  private async oldestIds(dataPrefix: string, limit: number): Promise<Array<[string, string]>> {
    let head = this.heads.get(dataPrefix);
    if (head === undefined || head.length < limit) {
      const rows = await this.oldest(dataPrefix, limit + HEAD_READ_AHEAD);
      head = rows.map(([k, text]): [string, string] => [k, (JSON.parse(text) as StoredItem).id]);
      boundedSet(this.heads, dataPrefix, head, HEADS_MAX);
    }
    return head.slice(0, limit);
  }

  /** After an append's batch is written: drop what it deleted from the user's head; it added keys after it. */
  private headAfterAppend(dataPrefix: string, removed: ReadonlySet<string>, added: Iterable<string>): void {
    const head = this.heads.get(dataPrefix);
    if (head === undefined) return;
    const last = head.length > 0 ? head[head.length - 1][0] : undefined;
    for (const k of added) {
      // A key inside the head (an append dated in the past) would leave a hole in it.
      if (last !== undefined && compareKeys(k, last) <= 0) {
        this.heads.delete(dataPrefix);
        return;
      }
    }
    if (removed.size === 0) return;
    let drop = 0;
    while (drop < head.length && removed.has(head[drop][0])) drop++;
    head.splice(0, drop);
    if (head.some(([k]) => removed.has(k))) this.heads.set(dataPrefix, head.filter(([k]) => !removed.has(k)));
  }

  /** After deleting keys of a user: remember the trimmed floor and compact the deleted range now and then. */
  private noteDeleted(dataPrefix: string, indexPrefix: string, deleted: number, floor?: string): void {
    if (floor !== undefined) {
      const old = this.floors.get(dataPrefix);
      if (old === undefined || compareKeys(floor, old) > 0) boundedSet(this.floors, dataPrefix, floor);
    }
    const since = (this.deletedSince.get(dataPrefix) ?? 0) + deleted;
    if (since < COMPACT_AFTER_DELETES) {
      boundedSet(this.deletedSince, dataPrefix, since);
      return;
    }
    this.deletedSince.delete(dataPrefix);
    // classic-level (what `level` is on Node) has compactRange; the `level` typings do not show it.
    const db = this.db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
    if (typeof db.compactRange !== "function") return;
    const compact = async () => {
      const upTo = this.floors.get(dataPrefix) ?? prefixRange(dataPrefix).lt;
      await db.compactRange!(dataPrefix, upTo);
      const ir = prefixRange(indexPrefix);
      await db.compactRange!(ir.gte, ir.lt);
      this.commitStats.compactions++;
    };
    // In the background; close() waits for it. A failure only leaves tombstones in place.
    void this.track(() => compact().catch(() => undefined));
  }

  /**
   * Point read. When the database is open this uses getSync: a lookup is ~1.5 µs instead of ~25 µs
   * for the thread-pool round trip of get(), and blocks only for a cache or page-cache read.
   */
  private async read(key: string): Promise<string | undefined> {
    return this.db.status === "open" ? this.db.getSync(key) : this.db.get(key);
  }

  /**
   * The sequence number for a new archive item: one more than that of the last item of the user
   * with the same `when` (0 if none), so items with equal `when` keep append order, across restarts.
   * The newest (when, seq) per user is cached; the cache may only be ahead of the data (after
   * deletions), never behind it, which keeps the answer correct: a `when` above the cached one has
   * no items yet, an equal one gets a seq above every existing one. Call under the user's lock.
   */
  private async nextSeq(dataPrefix: string, when: number): Promise<number> {
    let last = this.lastAppended.get(dataPrefix);
    if (last === undefined) {
      const [key] = await this.keysIn({ ...prefixRange(dataPrefix), reverse: true, limit: 1 });
      last = key === undefined ? { when: -1, seq: -1 } : parseSuffix(key.slice(dataPrefix.length));
      this.noteLast(dataPrefix, last.when, last.seq);
    }
    if (when > last.when) return 0;
    if (when === last.when) return last.seq + 1;
    // An explicit `when` older than the newest item: look at the items with that `when`.
    const whenPart = pad(when, WHEN_DIGITS);
    const [key] = await this.keysIn({ gt: dataPrefix + whenPart + "-", lt: dataPrefix + whenPart + ".", reverse: true, limit: 1 });
    return key === undefined ? 0 : parseSuffix(key.slice(dataPrefix.length)).seq + 1;
  }

  private noteLast(dataPrefix: string, when: number, seq: number): void {
    const last = this.lastAppended.get(dataPrefix);
    if (last !== undefined && (last.when > when || (last.when === when && last.seq > seq))) return;
    boundedSet(this.lastAppended, dataPrefix, { when, seq });
  }

  /** Keys in a range (in order). */
  private async keysIn(range: Range & { reverse?: boolean; limit?: number }): Promise<string[]> {
    return this.db.keys(range).all();
  }

  /** Distinct users directly under a store prefix, in key order (skips each user's keys by seeking). */
  private async usersUnder(prefix: string): Promise<string[]> {
    const users: string[] = [];
    const it = this.db.keys(prefixRange(prefix));
    try {
      for (;;) {
        const key = await it.next();
        if (key === undefined) break;
        const [user, end] = decodeComponent(key, prefix.length);
        users.push(user);
        it.seek(key.slice(0, end - 1) + "\x01"); // first key past this user's range
      }
    } finally {
      await it.close();
    }
    return users;
  }

  upgradeValues(host: string, kind: StoreKind, store: string, version: number, upgrade: (value: Json) => Json): Promise<number> {
    checkName(host, "host");
    checkName(store, "store");
    const tag = KIND_TAGS[kind];
    const versionKey = VALUE_FORMAT_PREFIX + encodeComponent(host) + tag + encodeComponent(store);
    return this.track(async () => {
      const recorded = Number((await this.read(versionKey)) ?? "0");
      if (recorded >= version) return 0;
      let changed = 0;
      let batch: Op[] = [];
      const it = this.db.iterator(prefixRange(storePrefix(tag, host, store)));
      try {
        for (let entries = await it.nextv(500); entries.length > 0; entries = await it.nextv(500)) {
          for (const [key, text] of entries) {
            let next: string;
            if (kind === "archive") {
              const stored = JSON.parse(text) as StoredItem;
              next = toJson({ ...stored, value: upgrade(stored.value) });
            } else next = toJson(upgrade(JSON.parse(text) as Json));
            if (next === text) continue;
            batch.push({ type: "put", key, value: next });
            changed++;
          }
          if (batch.length > 0) await this.write(batch);
          batch = [];
        }
      } finally {
        await it.close();
      }
      await this.write([{ type: "put", key: versionKey, value: String(version) }]);
      return changed;
    });
  }

  keyval<T = Json>(host: string, store: string): KeyvalStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const prefix = storePrefix(TAG_KEYVAL, host, store);
    const registry = registryKey(host, TAG_KEYVAL, store);
    const keyOf = (user: string) => prefix + encodeComponent(checkName(user, "user"));
    return {
      get: (user) =>
        this.track(async () => {
          const text = await this.read(keyOf(user));
          return text === undefined ? undefined : (JSON.parse(text) as T);
        }),
      set: (user, value) =>
        this.track(async () => {
          const key = keyOf(user);
          if (value === undefined) await this.write([{ type: "del", key }]);
          else await this.write([{ type: "put", key, value: toJson(value) }], registry);
        }),
      users: () => this.track(() => this.usersUnder(prefix)),
    };
  }

  map<T = Json>(host: string, store: string): MapStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const prefix = storePrefix(TAG_MAP, host, store);
    const registry = registryKey(host, TAG_MAP, store);
    const userPrefix = (user: string) => prefix + encodeComponent(checkName(user, "user"));
    const ops = (user: string, entries: Array<[string, T | undefined]>): Op[] => {
      const up = userPrefix(user);
      return entries.map(([key, value]): Op => {
        const k = up + encodeComponent(checkName(key, "key"));
        return value === undefined ? { type: "del", key: k } : { type: "put", key: k, value: toJson(value) };
      });
    };
    return {
      get: (user, key) =>
        this.track(async () => {
          const text = await this.read(userPrefix(user) + encodeComponent(checkName(key, "key")));
          return text === undefined ? undefined : (JSON.parse(text) as T);
        }),
      set: (user, key, value) => this.track(() => this.write(ops(user, [[key, value]]), registry)),
      setMany: (user, entries) => this.track(() => this.write(ops(user, entries), registry)),
      getAll: (user) =>
        this.track(async () => {
          const up = userPrefix(user);
          const out = new Map<string, T>();
          for await (const [k, v] of this.db.iterator(prefixRange(up))) {
            out.set(decodeComponent(k, up.length)[0], JSON.parse(v) as T);
          }
          return out;
        }),
      clear: (user) =>
        this.track(async () => {
          const keys = await this.keysIn(prefixRange(userPrefix(user)));
          await this.write(keys.map((key): Op => ({ type: "del", key })));
        }),
      users: () => this.track(() => this.usersUnder(prefix)),
    };
  }

  archive<T = Json>(host: string, store: string): ArchiveStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const dataPrefix = storePrefix(TAG_ARCHIVE, host, store);
    const indexPrefix = storePrefix(TAG_INDEX, host, store);
    const registry = registryKey(host, TAG_ARCHIVE, store);
    interface UserKeys {
      data: string; // prefix of the user's data keys
      index: string; // prefix of the user's index keys
    }
    const userKeys = (user: string): UserKeys => {
      const u = encodeComponent(checkName(user, "user"));
      return { data: dataPrefix + u, index: indexPrefix + u };
    };
    /** Data key of an id, or undefined. */
    const lookup = async (uk: UserKeys, id: string): Promise<string | undefined> => {
      const suffix = await this.read(uk.index + encodeComponent(id));
      return suffix === undefined ? undefined : uk.data + suffix;
    };
    /** Range bounds over the user's data keys for start/end/after/before; undefined if empty. */
    const bounds = async (uk: UserKeys, query: ArchiveQuery): Promise<[Bound, Bound] | undefined> => {
      const all = prefixRange(uk.data);
      const floor = this.floors.get(uk.data);
      let lower: Bound = floor === undefined ? { key: all.gte, inclusive: true } : { key: floor, inclusive: false };
      let upper: Bound = { key: all.lt, inclusive: false };
      if (query.after !== undefined) {
        const key = await lookup(uk, query.after);
        if (key === undefined) throw itemNotFound(query.after);
        lower = maxLower(lower, { key, inclusive: false });
      }
      if (query.before !== undefined) {
        const key = await lookup(uk, query.before);
        if (key === undefined) throw itemNotFound(query.before);
        upper = minUpper(upper, { key, inclusive: false });
      }
      if (query.start !== undefined) {
        const s = Math.ceil(query.start);
        if (s > MAX_WHEN) return undefined;
        if (s > 0) lower = maxLower(lower, { key: uk.data + pad(s, WHEN_DIGITS), inclusive: true });
      }
      if (query.end !== undefined) {
        const e = Math.floor(query.end);
        if (e < 0) return undefined;
        if (e < MAX_WHEN) upper = minUpper(upper, { key: uk.data + pad(e + 1, WHEN_DIGITS), inclusive: false });
      }
      if (compareKeys(lower.key, upper.key) >= 0) return undefined;
      return [lower, upper];
    };
    /** Items with the given ids that lie within bounds and match filters, in archive order, as [key, text]. */
    const byIds = async (uk: UserKeys, ids: string[], b: [Bound, Bound], query: ArchiveQuery): Promise<Array<[string, string]>> => {
      const unique = [...new Set(ids)];
      const suffixes = await this.db.getMany(unique.map((id) => uk.index + encodeComponent(id)));
      const keys = suffixes
        .filter((s): s is string => s !== undefined)
        .map((s) => uk.data + s)
        .filter((k) => inRange(k, b[0], b[1]))
        .sort(compareKeys);
      const texts = await this.db.getMany(keys);
      const out: Array<[string, string]> = [];
      keys.forEach((k, i) => {
        const text = texts[i];
        if (text !== undefined && matchesFilters(JSON.parse(text) as StoredItem, query)) out.push([k, text]);
      });
      return out;
    };
    /** Keys and ids of matching items (for deletion), in archive order. */
    const matching = async (uk: UserKeys, query: ArchiveQuery): Promise<Array<[string, string]>> => {
      const b = await bounds(uk, query);
      if (!b) return [];
      if (query.ids !== undefined) {
        return (await byIds(uk, query.ids, b, query)).map(([k, text]) => [k, (JSON.parse(text) as StoredItem).id]);
      }
      const out: Array<[string, string]> = [];
      for await (const [k, text] of this.db.iterator(toRange(b[0], b[1]))) {
        const s = JSON.parse(text) as StoredItem;
        if (matchesFilters(s, query)) out.push([k, s.id]);
      }
      return out;
    };
    const deleteOps = (uk: UserKeys, doomed: Array<[string, string]>): Op[] =>
      doomed.flatMap(([key, id]): Op[] => [
        { type: "del", key },
        { type: "del", key: uk.index + encodeComponent(id) },
      ]);
    const countOp = (uk: UserKeys, n: number): Op =>
      n === 0 ? { type: "del", key: countKeyOf(uk.data) } : { type: "put", key: countKeyOf(uk.data), value: String(n) };
    /** Delete `doomed` (in archive order) and update the counter, in one batch. Call under the user's lock. */
    const remove = async (uk: UserKeys, doomed: Array<[string, string]>, trimmedOldest: boolean): Promise<number> => {
      if (doomed.length === 0) return 0;
      const count = await this.countOf(uk.data);
      const left = Math.max(0, count - doomed.length);
      this.heads.delete(uk.data);
      await this.write([...deleteOps(uk, doomed), countOp(uk, left)]);
      boundedSet(this.counts, uk.data, left);
      this.noteDeleted(uk.data, uk.index, doomed.length, trimmedOldest ? doomed[doomed.length - 1][0] : undefined);
      return doomed.length;
    };
    /**
     * Append `entries` in order, then keep only the newest `keep` items: one batch (new items, the
     * replaced and trimmed ones with their index entries, the counter). The same result as appending
     * them one by one, each with `keep` (an item trimmed on the way has `keep` newer items, and still
     * has them at the end). Runs under the user's lock.
     */
    const appendAll = async (user: string, entries: Array<{ value: T; options?: AppendOptions }>, keep: number | undefined): Promise<string[]> => {
      const uk = userKeys(user);
      const prepared = entries.map(({ value, options }) => {
        const opts = appendOptions(options);
        return { opts, json: toJson(value), id: opts.id ?? generateId() };
      });
      return this.locks.run(uk.data, async () => {
        /** id -> its data key after this call (undefined: none), for ids this call touches. */
        const index = new Map<string, string | undefined>();
        const added = new Map<string, { id: string; text: string; when: number; seq: number }>(); // new keys still present
        const removed = new Set<string>(); // stored keys this call deletes
        let count = await this.countOf(uk.data);
        const trimmed: Array<[string, string]> = [];
        let maxTrimmed: string | undefined;
        for (const { opts, json, id } of prepared) {
          const old = index.has(id) ? index.get(id) : await lookup(uk, id);
          if (old !== undefined) {
            if (added.has(old)) added.delete(old);
            else removed.add(old);
            count--;
          }
          let seq = await this.nextSeq(uk.data, opts.when);
          // Items of this call with the same `when` are not stored yet: go past them too.
          for (const a of added.values()) if (a.when === opts.when && a.seq >= seq) seq = a.seq + 1;
          const suffix = archiveSuffix(opts.when, seq);
          const text =
            `{"id":${JSON.stringify(id)},"when":${opts.when}` +
            (opts.with === undefined ? "" : `,"with":${JSON.stringify(opts.with)}`) +
            `,"value":${json}}`;
          added.set(uk.data + suffix, { id, text, when: opts.when, seq });
          index.set(id, uk.data + suffix);
          this.noteLast(uk.data, opts.when, seq); // the cache may run ahead of the data
          count++;
          // Trim after each entry, as appending them one by one would (an entry dated before the
          // others can be the one to go): the oldest `excess` of the stored items (past the floor,
          // less those removed above) and the new ones together.
          if (keep !== undefined && count > keep) {
            const excess = count - keep;
            const stored = (await this.oldestIds(uk.data, excess + removed.size)).filter(([k]) => !removed.has(k)).slice(0, excess);
            const candidates: Array<[string, string]> = [...stored, ...[...added].map(([k, a]): [string, string] => [k, a.id])];
            candidates.sort((a, b) => compareKeys(a[0], b[0]));
            for (const [k, id] of candidates.slice(0, excess)) {
              trimmed.push([k, id]);
              if (added.has(k)) added.delete(k);
              else removed.add(k);
              index.set(id, undefined);
              if (maxTrimmed === undefined || compareKeys(k, maxTrimmed) > 0) maxTrimmed = k;
            }
            count -= excess;
          }
        }
        // Every key up to the newest trimmed one is gone, unless an entry dated earlier came after it.
        const newFloor = maxTrimmed !== undefined && [...added.keys()].every((k) => compareKeys(k, maxTrimmed!) > 0) ? maxTrimmed : undefined;
        const floor = this.floors.get(uk.data);
        if (floor !== undefined) for (const k of added.keys()) if (compareKeys(k, floor) <= 0) this.floors.delete(uk.data);
        const ops: Op[] = [];
        for (const key of removed) ops.push({ type: "del", key });
        for (const [id, key] of index) {
          const k = uk.index + encodeComponent(id);
          ops.push(key === undefined ? { type: "del", key: k } : { type: "put", key: k, value: key.slice(uk.data.length) });
        }
        for (const [key, a] of added) ops.push({ type: "put", key, value: a.text });
        ops.push(countOp(uk, count));
        this.counts.delete(uk.data); // re-read if the write fails
        await this.write(ops, registry);
        boundedSet(this.counts, uk.data, count);
        this.headAfterAppend(uk.data, removed, added.keys());
        if (trimmed.length > 0) this.noteDeleted(uk.data, uk.index, trimmed.length, newFloor);
        return prepared.map((p) => p.id);
      });
    };

    /** The `excess` oldest items as [key, id], skipping the key `skip`. */
    const oldestIds = async (uk: UserKeys, excess: number, skip?: string): Promise<Array<[string, string]>> => {
      const found = await this.oldestIds(uk.data, excess + (skip === undefined ? 0 : 1));
      return found.filter(([k]) => k !== skip).slice(0, excess);
    };

    return {
      append: (user, value, options) =>
        this.track(async () => {
          const keep = options?.keep === undefined ? undefined : checkKeep(options.keep);
          const [id] = await appendAll(user, [{ value, options }], keep);
          return id;
        }),
      appendMany: (user, entries, options) =>
        this.track(async () => {
          const keep = options?.keep === undefined ? undefined : checkKeep(options.keep);
          return appendAll(user, entries, keep);
        }),
      find: (user, query = {}) =>
        this.track(async () => {
          const uk = userKeys(user);
          checkQuery(query);
          const b = await bounds(uk, query);
          if (!b || query.limit === 0) return [];
          if (query.ids !== undefined) {
            const found = await byIds(uk, query.ids, b, query);
            return applyWindow(found, query).map(([, text]) => toItem<T>(text));
          }
          const fromEnd = windowFromEnd(query);
          const range = { ...toRange(b[0], b[1]), reverse: fromEnd };
          let out: ArchiveItem<T>[];
          if (query.with === undefined) {
            // Every item in the key range matches (start/end are exact key bounds): let LevelDB
            // apply the limit and read everything in one go.
            const texts = await this.db.values(query.limit === undefined ? range : { ...range, limit: query.limit }).all();
            out = texts.map((text) => toItem<T>(text));
          } else {
            out = [];
            const it = this.db.values(range);
            const chunk = Math.min(1000, Math.max(64, (query.limit ?? 1000) * 2));
            try {
              while (query.limit === undefined || out.length < query.limit) {
                const texts = await it.nextv(chunk);
                if (texts.length === 0) break;
                for (const text of texts) {
                  const item = toItem<T>(text);
                  if (!matchesFilters(item, query)) continue;
                  out.push(item);
                  if (query.limit !== undefined && out.length >= query.limit) break;
                }
              }
            } finally {
              await it.close();
            }
          }
          // `out` is in iteration order: newest first if fromEnd.
          if (fromEnd !== (query.reverse === true)) out.reverse();
          return out;
        }),
      get: (user, id) =>
        this.track(async () => {
          const uk = userKeys(user);
          const key = await lookup(uk, checkName(id, "id"));
          if (key === undefined) return undefined;
          const text = await this.read(key);
          return text === undefined ? undefined : toItem<T>(text);
        }),
      count: (user, query = {}) =>
        this.track(async () => {
          const uk = userKeys(user);
          checkQuery(query);
          const q: ArchiveQuery = { start: query.start, end: query.end, with: query.with };
          if (q.start === undefined && q.end === undefined && q.with === undefined) {
            return this.locks.run(uk.data, () => this.countOf(uk.data));
          }
          const b = await bounds(uk, q);
          if (!b) return 0;
          const range = toRange(b[0], b[1]);
          let n = 0;
          if (q.with === undefined) {
            const it = this.db.keys(range);
            try {
              for (let chunk = await it.nextv(1000); chunk.length > 0; chunk = await it.nextv(1000)) n += chunk.length;
            } finally {
              await it.close();
            }
          } else {
            for await (const text of this.db.values(range)) if (matchesFilters(JSON.parse(text) as StoredItem, q)) n++;
          }
          return n;
        }),
      delete: (user, query = {}) =>
        this.track(async () => {
          const uk = userKeys(user);
          checkQuery(query);
          const q: ArchiveQuery = { start: query.start, end: query.end, with: query.with, ids: query.ids };
          return this.locks.run(uk.data, async () => remove(uk, await matching(uk, q), false));
        }),
      truncate: (user, keep) =>
        this.track(async () => {
          const uk = userKeys(user);
          checkCount(keep, "keep");
          return this.locks.run(uk.data, async () => {
            const excess = (await this.countOf(uk.data)) - keep;
            if (excess <= 0) return 0;
            return remove(uk, await oldestIds(uk, excess), true);
          });
        }),
      users: () => this.track(() => this.usersUnder(dataPrefix)),
    };
  }

  purgeUser(host: string, user: string): Promise<void> {
    return this.track(async () => {
      checkName(host, "host");
      const u = encodeComponent(checkName(user, "user"));
      const regPrefix = TAG_STORES + encodeComponent(host);
      const stores = await this.keysIn(prefixRange(regPrefix));
      for (const regKey of stores) {
        const tag = regKey.charAt(regPrefix.length);
        const [store] = decodeComponent(regKey, regPrefix.length + 1);
        const dataPrefix = storePrefix(tag, host, store) + u;
        const purge = async () => {
          const keys = await this.keysIn(prefixRange(dataPrefix));
          if (tag === TAG_ARCHIVE) {
            keys.push(...(await this.keysIn(prefixRange(storePrefix(TAG_INDEX, host, store) + u))));
            keys.push(countKeyOf(dataPrefix));
          }
          this.heads.delete(dataPrefix);
          await this.write(keys.map((key): Op => ({ type: "del", key })));
          if (tag === TAG_ARCHIVE) boundedSet(this.counts, dataPrefix, 0);
        };
        if (tag === TAG_ARCHIVE) await this.locks.run(dataPrefix, purge);
        else await purge();
      }
    });
  }

  clearAll(): Promise<void> {
    return this.track(async () => {
      await this.db.clear();
      this.registered.clear();
      this.counts.clear();
      this.heads.clear();
      this.floors.clear();
      this.lastAppended.clear();
      this.deletedSince.clear();
      await this.db.put(FORMAT_KEY, FORMAT, this.writeOptions);
    });
  }
}
