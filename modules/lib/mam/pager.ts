// One page of an archive query (XEP-0313 §4 with XEP-0059 paging) over anything that answers
// Herald's archive queries: a user's archive store, or a pubsub node's items held in memory.

import { applyWindow, itemNotFound, matchesFilters } from "../../../src/storage/memory.js";
import { isItemNotFound, type ArchiveItem, type ArchiveQuery } from "../../../src/storage/types.js";
import type { MamQuery, PageInfo } from "./protocol.js";

/** An archive as the pager needs it (ArchiveStore bound to one user, or arraySource). */
export interface ArchiveSource<T> {
  find(query: ArchiveQuery): Promise<ArchiveItem<T>[]>;
  get(id: string): Promise<ArchiveItem<T> | undefined>;
  count(query: Pick<ArchiveQuery, "start" | "end" | "with">): Promise<number>;
}

export type Page<T> = { ok: true; items: ArchiveItem<T>[]; info: PageInfo } | { ok: false; error: "item-not-found"; text: string };

export interface PageOptions {
  /** The page size: the client's RSM max, bounded by the server's limit. */
  limit: number;
  /** Put the number of matching items in the RSM <count/>. */
  includeTotal: boolean;
}

/**
 * The page of `source` that `q` asks for, oldest first (flip-page is applied by the caller when
 * sending). Filters: with, start, end, ids, after-id, before-id. Paging: RSM after (the page after
 * an id), before (the page before an id; empty: the last page), index; none: the first page.
 * `complete` says whether this page reaches the end of the result set in the paging direction.
 */
export async function queryPage<T>(source: ArchiveSource<T>, q: MamQuery, opts: PageOptions): Promise<Page<T>> {
  const n = opts.limit;
  const filters: ArchiveQuery = {};
  if (q.start !== undefined) filters.start = q.start;
  if (q.end !== undefined) filters.end = q.end;
  if (q.with !== undefined) filters.with = q.with;
  if (q.ids !== undefined) filters.ids = q.ids;
  let items: ArchiveItem<T>[];
  let complete: boolean;
  try {
    if (q.before !== undefined) {
      // Backwards (XEP-0059 §2.3, §2.5): the `n` matches just before the id, or the last `n`.
      const before = q.before !== "" ? q.before : q.beforeId;
      const found = await source.find({ ...filters, ...defined({ before, after: q.afterId }), limit: n + 1, reverse: true });
      complete = found.length <= n;
      items = found.slice(0, n).reverse();
    } else {
      const after = q.after ?? q.afterId;
      const skip = q.index ?? 0;
      let found: ArchiveItem<T>[];
      if (q.beforeId !== undefined && after === undefined) {
        // Forwards from the start with an upper bound: the store windows `before` alone from its
        // end, so bound by time and drop what follows the id within its timestamp.
        found = await forwardsBefore(source, filters, q.beforeId, skip + n + 1);
      } else {
        found = await source.find({ ...filters, ...defined({ after, before: q.beforeId }), limit: skip + n + 1 });
      }
      found = found.slice(skip);
      complete = found.length <= n;
      items = found.slice(0, n);
    }
  } catch (err) {
    if (isItemNotFound(err)) return { ok: false, error: "item-not-found", text: "No item with that id in the archive" };
    throw err;
  }
  const info: PageInfo = { complete };
  if (items.length > 0) {
    info.first = items[0].id;
    info.last = items[items.length - 1].id;
    if (q.index !== undefined) info.firstIndex = q.index;
  }
  if (opts.includeTotal || n === 0) {
    info.count = q.ids !== undefined ? items.length : await source.count(pick(filters));
  }
  return { ok: true, items, info };
}

async function forwardsBefore<T>(source: ArchiveSource<T>, filters: ArchiveQuery, beforeId: string, limit: number): Promise<ArchiveItem<T>[]> {
  const bound = await source.get(beforeId);
  if (!bound) throw itemNotFound(beforeId);
  if (filters.start !== undefined && filters.start > bound.when) return [];
  const end = filters.end === undefined ? bound.when : Math.min(filters.end, bound.when);
  const found = await source.find({ ...filters, end, limit });
  const last = found.length > 0 ? found[found.length - 1] : undefined;
  if (!last || last.when < bound.when) return found;
  // Items stamped like the bound: only those archived before it.
  const earlier = new Set((await source.find({ start: bound.when, end: bound.when, before: beforeId })).map((i) => i.id));
  return found.filter((i) => i.when < bound.when || earlier.has(i.id));
}

function defined(o: { before?: string; after?: string }): Pick<ArchiveQuery, "before" | "after"> {
  const out: Pick<ArchiveQuery, "before" | "after"> = {};
  if (o.before !== undefined) out.before = o.before;
  if (o.after !== undefined) out.after = o.after;
  return out;
}

function pick(q: ArchiveQuery): Pick<ArchiveQuery, "start" | "end" | "with"> {
  const out: Pick<ArchiveQuery, "start" | "end" | "with"> = {};
  if (q.start !== undefined) out.start = q.start;
  if (q.end !== undefined) out.end = q.end;
  if (q.with !== undefined) out.with = q.with;
  return out;
}

/** An archive over items held in memory, in archive order (a pubsub node's items). */
export function arraySource<T>(items: readonly ArchiveItem<T>[]): ArchiveSource<T> {
  const position = new Map(items.map((item, i) => [item.id, i]));
  const at = (id: string): number => {
    const i = position.get(id);
    if (i === undefined) throw itemNotFound(id);
    return i;
  };
  return {
    async find(query) {
      const lo = query.after === undefined ? -1 : at(query.after);
      const hi = query.before === undefined ? items.length : at(query.before);
      const ids = query.ids === undefined ? undefined : new Set(query.ids);
      const matches = items.filter((item, i) => i > lo && i < hi && (ids === undefined || ids.has(item.id)) && matchesFilters(item, query));
      return applyWindow(matches, query);
    },
    async get(id) {
      const i = position.get(id);
      return i === undefined ? undefined : items[i];
    },
    async count(query) {
      return items.filter((item) => matchesFilters(item, query)).length;
    },
  };
}
