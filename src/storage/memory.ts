// In-memory storage driver. Values are kept as JSON text, so reads return fresh copies and the
// semantics (what survives a round trip) are exactly those of the LevelDB driver.
// This module also holds the helpers both drivers share (validation, ordering, ids, windows).

import { randomBytes } from "node:crypto";
import {
  StorageError,
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

// ---------------------------------------------------------------------------------------------
// Shared helpers

const LONE_SURROGATE = /\p{Surrogate}/u;

/** Throw a TypeError unless `s` is a string that can be stored as a name (no lone surrogates). */
export function checkName(s: unknown, what: string): string {
  if (typeof s !== "string") throw new TypeError(`storage: ${what} must be a string`);
  if (LONE_SURROGATE.test(s)) throw new TypeError(`storage: ${what} contains a lone surrogate`);
  return s;
}

/** JSON text of a value to store; TypeError if JSON cannot represent it. */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (typeof text !== "string") throw new TypeError("storage: value is not JSON-serialisable");
  return text;
}

function fixCodeUnit(u: number): number {
  // Make UTF-16 code unit order agree with code point order: surrogates (pairs encode code
  // points above U+FFFF) must sort after U+E000..U+FFFF.
  if (u < 0xd800) return u;
  return u < 0xe000 ? u + 0x2000 : u - 0x800;
}

/** Compare strings by Unicode code point (= UTF-8 byte order, the order LevelDB keys have). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixCodeUnit(x) - fixCodeUnit(y);
  }
  return a.length - b.length;
}

let lastNow = 0;
/** Date.now(), but never smaller than a previous result in this process. */
export function monotonicNow(): number {
  const now = Date.now();
  if (now > lastNow) lastNow = now;
  return lastNow;
}

const ID_COUNTER_SPACE = 36 ** 4;
let idMs = 0;
let idCounter = 0;
/**
 * A new archive id: 9 base-36 digits of milliseconds, 4 base-36 digits of a per-millisecond
 * counter (unique within the process), 8 random base64url characters (unique across processes).
 * URL-safe, 21 characters, sorting by time for ids generated in one process.
 */
export function generateId(): string {
  const now = Date.now();
  if (now > idMs) {
    idMs = now;
    idCounter = 0;
  } else if (++idCounter >= ID_COUNTER_SPACE) {
    idMs++;
    idCounter = 0;
  }
  return (
    idMs.toString(36).padStart(9, "0") +
    idCounter.toString(36).padStart(4, "0") +
    randomBytes(6).toString("base64url")
  );
}

/** Validate an explicit `when`. */
export function checkWhen(when: unknown): number {
  if (typeof when !== "number" || !Number.isSafeInteger(when) || when < 0) {
    throw new TypeError("storage: archive `when` must be a non-negative safe integer (ms since the epoch)");
  }
  return when;
}

export function checkCount(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new TypeError(`storage: ${what} must be a non-negative integer`);
  }
  return n;
}

/** AppendOptions.keep: a positive integer (TypeError otherwise). */
export function checkKeep(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) throw new TypeError("storage: keep must be a positive integer");
  return n;
}

export function itemNotFound(id: string): StorageError {
  return new StorageError("item-not-found", `storage: no archive item with id ${JSON.stringify(id)}`);
}

/** Validate the parts of a query that need no data (TypeError). */
export function checkQuery(query: ArchiveQuery): void {
  if (query.limit !== undefined) checkCount(query.limit, "limit");
  if (query.start !== undefined && typeof query.start !== "number") throw new TypeError("storage: start must be a number");
  if (query.end !== undefined && typeof query.end !== "number") throw new TypeError("storage: end must be a number");
  if (query.with !== undefined) checkName(query.with, "with");
  if (query.after !== undefined) checkName(query.after, "after");
  if (query.before !== undefined) checkName(query.before, "before");
  if (query.ids !== undefined) {
    if (!Array.isArray(query.ids)) throw new TypeError("storage: ids must be an array");
    for (const id of query.ids) checkName(id, "id");
  }
}

/** Whether a `limit` window is taken from the newest end of the matches. */
export function windowFromEnd(query: ArchiveQuery): boolean {
  return query.reverse === true || (query.before !== undefined && query.after === undefined);
}

/** Whether an item passes the start/end/with filters. */
export function matchesFilters(item: { when: number; with?: string }, query: ArchiveQuery): boolean {
  if (query.start !== undefined && item.when < query.start) return false;
  if (query.end !== undefined && item.when > query.end) return false;
  if (query.with !== undefined && item.with !== query.with) return false;
  return true;
}

/** Apply limit/reverse to matches given in archive order. */
export function applyWindow<I>(matches: I[], query: ArchiveQuery): I[] {
  let out = matches;
  if (query.limit !== undefined && out.length > query.limit) {
    out = windowFromEnd(query) ? out.slice(out.length - query.limit) : out.slice(0, query.limit);
  }
  return query.reverse === true ? out.slice().reverse() : out;
}

/** Normalised append options (validated; `when` defaulted). */
export function appendOptions(options: AppendOptions | undefined): { id: string | undefined; when: number; with: string | undefined } {
  const id = options?.id === undefined ? undefined : checkName(options.id, "id");
  const when = options?.when === undefined ? monotonicNow() : checkWhen(options.when);
  const w = options?.with === undefined ? undefined : checkName(options.with, "with");
  return { id, when, with: w };
}

function sortedKeys<V>(m: Map<string, V>): string[] {
  return Array.from(m.keys()).sort(compareKeys);
}

// ---------------------------------------------------------------------------------------------
// The driver

interface MemItem {
  id: string;
  when: number;
  with?: string;
  json: string; // JSON text of the value
}

interface MemArchive {
  items: MemItem[]; // archive order: by `when`, then append order
  byId: Map<string, MemItem>;
}

interface HostData {
  keyval: Map<string, Map<string, string>>; // store -> user -> JSON
  map: Map<string, Map<string, Map<string, string>>>; // store -> user -> key -> JSON
  archive: Map<string, Map<string, MemArchive>>; // store -> user -> archive
}

/** Index of `item` in `items` (sorted by when): binary search, then a scan over equal `when`s. */
function positionOf(items: MemItem[], item: MemItem): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid].when < item.when) lo = mid + 1;
    else hi = mid;
  }
  while (items[lo] !== item) lo++;
  return lo;
}

function toItem<T>(m: MemItem): ArchiveItem<T> {
  const item: ArchiveItem<T> = { id: m.id, when: m.when, value: JSON.parse(m.json) as T };
  if (m.with !== undefined) item.with = m.with;
  return item;
}

export class MemoryStorage implements StorageDriver {
  readonly name = "memory";
  private closed = false;
  private readonly hosts = new Map<string, HostData>();
  /** Value format version per "kind\0host\0store" (upgradeValues). */
  private readonly valueFormats = new Map<string, number>();

  async open(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Throws when closed; returns the host's data (created if `create`). */
  private host(host: string, create: true): HostData;
  private host(host: string, create: false): HostData | undefined;
  private host(host: string, create: boolean): HostData | undefined {
    if (this.closed) throw new StorageError("closed", "storage: the memory driver is closed");
    let data = this.hosts.get(host);
    if (!data && create) {
      data = { keyval: new Map(), map: new Map(), archive: new Map() };
      this.hosts.set(host, data);
    }
    return data;
  }

  private sub<V>(host: string, kind: "keyval" | "map" | "archive", store: string, create: boolean): Map<string, V> | undefined {
    const h = create ? this.host(host, true) : this.host(host, false);
    if (!h) return undefined;
    const stores = h[kind] as unknown as Map<string, Map<string, V>>;
    let users = stores.get(store);
    if (!users && create) {
      users = new Map();
      stores.set(store, users);
    }
    return users;
  }

  async upgradeValues(host: string, kind: StoreKind, store: string, version: number, upgrade: (value: Json) => Json): Promise<number> {
    checkName(host, "host");
    checkName(store, "store");
    const versionKey = `${kind}\0${host}\0${store}`;
    if ((this.valueFormats.get(versionKey) ?? 0) >= version) return 0;
    let changed = 0;
    const redo = (json: string): string => {
      const next = toJson(upgrade(JSON.parse(json) as Json));
      if (next !== json) changed++;
      return next;
    };
    if (kind === "keyval") {
      const users = this.sub<string>(host, "keyval", store, false);
      for (const [user, json] of users ?? []) users!.set(user, redo(json));
    } else if (kind === "map") {
      for (const entries of this.sub<Map<string, string>>(host, "map", store, false)?.values() ?? []) {
        for (const [key, json] of entries) entries.set(key, redo(json));
      }
    } else {
      for (const archive of this.sub<MemArchive>(host, "archive", store, false)?.values() ?? []) {
        for (const item of archive.items) item.json = redo(item.json);
      }
    }
    this.valueFormats.set(versionKey, version);
    return changed;
  }

  keyval<T = Json>(host: string, store: string): KeyvalStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const users = (create: boolean) => this.sub<string>(host, "keyval", store, create);
    return {
      get: async (user) => {
        checkName(user, "user");
        const json = users(false)?.get(user);
        return json === undefined ? undefined : (JSON.parse(json) as T);
      },
      set: async (user, value) => {
        checkName(user, "user");
        if (value === undefined) users(false)?.delete(user);
        else {
          const json = toJson(value);
          users(true)!.set(user, json);
        }
      },
      users: async () => {
        const m = users(false);
        return m ? sortedKeys(m) : [];
      },
    };
  }

  map<T = Json>(host: string, store: string): MapStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const users = (create: boolean) => this.sub<Map<string, string>>(host, "map", store, create);
    const apply = (user: string, entries: Array<[string, T | undefined]>) => {
      // Validate and serialise everything first, so a bad entry changes nothing.
      const ops: Array<[string, string | undefined]> = entries.map(([key, value]) => [
        checkName(key, "key"),
        value === undefined ? undefined : toJson(value),
      ]);
      let m = users(false)?.get(user);
      for (const [key, json] of ops) {
        if (json === undefined) m?.delete(key);
        else {
          if (!m) {
            m = new Map();
            users(true)!.set(user, m);
          }
          m.set(key, json);
        }
      }
      if (m && m.size === 0) users(false)?.delete(user);
    };
    return {
      get: async (user, key) => {
        checkName(user, "user");
        checkName(key, "key");
        const json = users(false)?.get(user)?.get(key);
        return json === undefined ? undefined : (JSON.parse(json) as T);
      },
      set: async (user, key, value) => {
        checkName(user, "user");
        apply(user, [[key, value]]);
      },
      setMany: async (user, entries) => {
        checkName(user, "user");
        apply(user, entries);
      },
      getAll: async (user) => {
        checkName(user, "user");
        const out = new Map<string, T>();
        const m = users(false)?.get(user);
        if (m) for (const key of sortedKeys(m)) out.set(key, JSON.parse(m.get(key)!) as T);
        return out;
      },
      clear: async (user) => {
        checkName(user, "user");
        users(false)?.delete(user);
      },
      users: async () => {
        const m = users(false);
        return m ? sortedKeys(m) : [];
      },
    };
  }

  archive<T = Json>(host: string, store: string): ArchiveStore<T> {
    checkName(host, "host");
    checkName(store, "store");
    const users = (create: boolean) => this.sub<MemArchive>(host, "archive", store, create);
    const archiveOf = (user: string) => users(false)?.get(user);
    const removeItems = (user: string, a: MemArchive, doomed: Set<MemItem>): number => {
      if (doomed.size === 0) return 0;
      a.items = a.items.filter((it) => !doomed.has(it));
      for (const it of doomed) a.byId.delete(it.id);
      if (a.items.length === 0) users(false)?.delete(user);
      return doomed.size;
    };
    const appendOne = (user: string, opts: ReturnType<typeof appendOptions>, json: string, keep: number | undefined): string => {
      let a = archiveOf(user);
      if (!a) {
        a = { items: [], byId: new Map() };
        users(true)!.set(user, a);
      }
      const id = opts.id ?? generateId();
      const old = a.byId.get(id);
      if (old) a.items.splice(positionOf(a.items, old), 1);
      const item: MemItem = { id, when: opts.when, json };
      if (opts.with !== undefined) item.with = opts.with;
      // Insert after every item with when <= item.when (binary search; usually the end).
      let lo = 0;
      let hi = a.items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a.items[mid].when <= item.when) lo = mid + 1;
        else hi = mid;
      }
      a.items.splice(lo, 0, item);
      a.byId.set(id, item);
      if (keep !== undefined && a.items.length > keep) removeItems(user, a, new Set(a.items.slice(0, a.items.length - keep)));
      return id;
    };
    return {
      append: async (user, value, options) => {
        checkName(user, "user");
        const opts = appendOptions(options);
        const keep = options?.keep === undefined ? undefined : checkKeep(options.keep);
        const json = toJson(value);
        return appendOne(user, opts, json, keep);
      },
      appendMany: async (user, entries, options) => {
        checkName(user, "user");
        const keep = options?.keep === undefined ? undefined : checkKeep(options.keep);
        // Validate everything first: all or nothing.
        const prepared = entries.map(({ value, options: o }) => ({ opts: appendOptions(o), json: toJson(value) }));
        return prepared.map(({ opts, json }) => appendOne(user, opts, json, keep));
      },
      find: async (user, query = {}) => {
        checkName(user, "user");
        checkQuery(query);
        const a = archiveOf(user);
        const items = a?.items ?? [];
        let lo = 0;
        let hi = items.length;
        if (query.after !== undefined) {
          const it = a?.byId.get(query.after);
          if (!it) throw itemNotFound(query.after);
          lo = positionOf(items, it) + 1;
        }
        if (query.before !== undefined) {
          const it = a?.byId.get(query.before);
          if (!it) throw itemNotFound(query.before);
          hi = positionOf(items, it);
        }
        const ids = query.ids === undefined ? undefined : new Set(query.ids);
        const matches = (it: MemItem) => matchesFilters(it, query) && (!ids || ids.has(it.id));
        // Collect from the end the window is taken from, stopping at the limit.
        const limit = query.limit ?? Number.POSITIVE_INFINITY;
        const out: MemItem[] = [];
        if (windowFromEnd(query)) {
          for (let i = hi - 1; i >= lo && out.length < limit; i--) if (matches(items[i])) out.push(items[i]);
          if (query.reverse !== true) out.reverse();
        } else {
          for (let i = lo; i < hi && out.length < limit; i++) if (matches(items[i])) out.push(items[i]);
        }
        return out.map((it) => toItem<T>(it));
      },
      get: async (user, id) => {
        checkName(user, "user");
        checkName(id, "id");
        const it = archiveOf(user)?.byId.get(id);
        return it ? toItem<T>(it) : undefined;
      },
      count: async (user, query = {}) => {
        checkName(user, "user");
        checkQuery(query);
        const a = archiveOf(user);
        if (!a) return 0;
        let n = 0;
        for (const it of a.items) if (matchesFilters(it, query)) n++;
        return n;
      },
      delete: async (user, query = {}) => {
        checkName(user, "user");
        checkQuery(query);
        const a = archiveOf(user);
        if (!a) return 0;
        const ids = query.ids === undefined ? undefined : new Set(query.ids);
        const doomed = new Set(a.items.filter((it) => matchesFilters(it, query) && (!ids || ids.has(it.id))));
        return removeItems(user, a, doomed);
      },
      truncate: async (user, keep) => {
        checkName(user, "user");
        checkCount(keep, "keep");
        const a = archiveOf(user);
        if (!a || a.items.length <= keep) return 0;
        return removeItems(user, a, new Set(a.items.slice(0, a.items.length - keep)));
      },
      users: async () => {
        const m = users(false);
        return m ? sortedKeys(m) : [];
      },
    };
  }

  async purgeUser(host: string, user: string): Promise<void> {
    checkName(host, "host");
    checkName(user, "user");
    const h = this.host(host, false);
    if (!h) return;
    for (const users of h.keyval.values()) users.delete(user);
    for (const users of h.map.values()) users.delete(user);
    for (const users of h.archive.values()) users.delete(user);
  }

  async clearAll(): Promise<void> {
    this.host("", false); // throws when closed
    this.hosts.clear();
    this.valueFormats.clear();
  }
}
