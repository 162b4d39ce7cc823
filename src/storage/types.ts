// Storage interfaces, as in Prosody: keyval, map and archive stores.
// Values are JSON-serialisable data (plain objects, arrays, strings, numbers, booleans, null).
// They are stored as JSON: what you read back is what JSON.parse(JSON.stringify(value)) gives
// (a fresh copy every time; mutating it, or the object you stored, never changes stored data).
// A value JSON cannot represent at top level (a function, a symbol) is a TypeError.
// A store is always scoped to one host and one store name ("<host>/<store>").
// `user` is the account's localpart, or "" for host-wide data.
// Names (host, store, user, map key, archive id) may be any string, including "" and strings with
// "/" or NUL, but not ones with lone UTF-16 surrogates (TypeError).
// "Key order" means Unicode code point order (the byte order of UTF-8), in every driver.
// Every driver behaves the same; test/storage/contract.ts is the executable specification.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Errors with a stable `code`. Archive queries throw code "item-not-found" for an unknown after/before id. */
export class StorageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "StorageError";
    this.code = code;
  }
}

/** True if `err` is the "item-not-found" error of an archive query. */
export function isItemNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "item-not-found";
}

/** One value per user (Prosody: keyval). */
export interface KeyvalStore<T = Json> {
  /** undefined when the user has no value. */
  get(user: string): Promise<T | undefined>;
  set(user: string, value: T | undefined): Promise<void>; // undefined deletes; null is a value
  /** Users that have a value, in key order. */
  users(): Promise<string[]>;
}

/** Many keys per user (Prosody: map). */
export interface MapStore<T = Json> {
  get(user: string, key: string): Promise<T | undefined>;
  set(user: string, key: string, value: T | undefined): Promise<void>; // undefined deletes
  /** Atomically apply several sets/deletes for one user (all or nothing; later entries win). */
  setMany(user: string, entries: Array<[key: string, value: T | undefined]>): Promise<void>;
  /** All keys and values of a user, in key order (Map iteration order). Empty Map if none. */
  getAll(user: string): Promise<Map<string, T>>;
  /** Delete everything of a user. */
  clear(user: string): Promise<void>;
  /** Users that have at least one key, in key order. */
  users(): Promise<string[]>;
}

export interface ArchiveItem<T = Json> {
  id: string; // unique within (host, store, user); given or generated
  when: number; // milliseconds since the epoch (a non-negative safe integer)
  with?: string; // optional JID the item relates to (for filtering); absent when not given
  value: T;
}

/**
 * Archive query. Filters (all optional, combined with AND): start, end, with, ids, after, before.
 * Then `limit` picks a window of the matching items, and `reverse` sets the output order:
 *  - the window is the LAST `limit` matches if `reverse` is true, or if `before` is given without
 *    `after` (RSM "previous page"); otherwise it is the FIRST `limit` matches;
 *  - the result is newest first if `reverse`, else chronological (archive order).
 * So { before: X, limit: 10 } gives the 10 items just before X, oldest first, and
 * { after: X, limit: 10 } the 10 items just after X. For the last page in chronological order
 * use { reverse: true, limit } and reverse the array.
 * An `after`/`before` id that is not in the archive rejects with StorageError code "item-not-found".
 * Unknown ids in `ids` are simply not matched; `ids: []` matches nothing.
 */
export interface ArchiveQuery {
  start?: number; // when >= start
  end?: number; // when <= end
  with?: string; // exact match on the item's `with`
  ids?: string[]; // only these ids
  after?: string; // id: items strictly after this one (in archive order)
  before?: string; // id: items strictly before this one
  limit?: number; // non-negative integer (TypeError otherwise)
  reverse?: boolean; // newest first
}

export interface AppendOptions {
  /** Item id; generated if absent (unique, URL-safe, roughly sortable by time). */
  id?: string;
  /** Defaults to now (never earlier than a previous default within this process). */
  when?: number;
  with?: string;
  /**
   * Keep only the newest `keep` items (a positive integer) once this one is in: the oldest beyond it
   * are deleted in the same atomic write (the new item too, if it is among them). Like append and
   * then truncate(user, keep), with one durable write instead of two.
   */
  keep?: number;
}

/**
 * An ordered log per user (Prosody: archive).
 * Archive order is by `when`, then append order: with the default `when` (now) it is append order;
 * an item appended with an explicit older `when` is placed chronologically.
 */
export interface ArchiveStore<T = Json> {
  /**
   * Append; returns the item's id. If an item with the same id exists it is replaced atomically:
   * the old one is removed and the new one placed by its `when` (with the default `when`: at the end).
   */
  append(user: string, value: T, options?: AppendOptions): Promise<string>;
  /**
   * Append several items in order, as one atomic write; `keep` (a positive integer) then keeps only
   * the newest `keep` items. The same result as appending them one after another, each with `keep`.
   * Returns their ids. (A per-entry `options.keep` is ignored.)
   */
  appendMany(user: string, entries: Array<{ value: T; options?: AppendOptions }>, options?: { keep?: number }): Promise<string[]>;
  find(user: string, query?: ArchiveQuery): Promise<ArchiveItem<T>[]>;
  get(user: string, id: string): Promise<ArchiveItem<T> | undefined>;
  /** Number of items matching (start/end/with only). Without a filter it is read from a counter, not counted. */
  count(user: string, query?: Pick<ArchiveQuery, "start" | "end" | "with">): Promise<number>;
  /** Delete matching items (no query: all). Returns how many were deleted. */
  delete(user: string, query?: Pick<ArchiveQuery, "start" | "end" | "with" | "ids">): Promise<number>;
  /** Keep only the newest `keep` items (non-negative integer). Returns how many were deleted. */
  truncate(user: string, keep: number): Promise<number>;
  /** Users that have at least one item, in key order. */
  users(): Promise<string[]>;
}

export type StoreKind = "keyval" | "map" | "archive";

/**
 * A storage backend: opens stores for (host, name).
 * The same (host, name) may be opened as different kinds; their data is separate.
 * Writes are durable when their promise resolves (LevelDB: fsync'd).
 * Stores may be obtained and used before open() resolves (operations wait for it);
 * after close(), operations reject until open() is called again.
 */
export interface StorageDriver {
  readonly name: string;
  open(): Promise<void>;
  close(): Promise<void>;
  keyval<T = Json>(host: string, store: string): KeyvalStore<T>;
  map<T = Json>(host: string, store: string): MapStore<T>;
  archive<T = Json>(host: string, store: string): ArchiveStore<T>;
  /**
   * Bring one store's values to value format `version` (a store never upgraded is at 0): when its
   * recorded version is lower, every value is rewritten with `upgrade` in place (keys, archive ids,
   * `when`, `with` and order stay as they are), then `version` is recorded. The module owning the
   * store calls it once when it loads, before using the store. `upgrade` must return a value already
   * in the new form unchanged: an interrupted upgrade runs again from the start on the next call.
   * Resolves to the number of values that changed.
   */
  upgradeValues(host: string, kind: StoreKind, store: string, version: number, upgrade: (value: Json) => Json): Promise<number>;
  /** Remove every store's data of one user on a host (account deletion). Other hosts are untouched. */
  purgeUser(host: string, user: string): Promise<void>;
  /** Remove all data (tests, scansion reset). */
  clearAll(): Promise<void>;
}
