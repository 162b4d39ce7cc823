// XEP-0045 §7.2.15: which of a room's recent messages a joining occupant gets.

import { parseDateTime } from "../../../src/util/datetime.js";

export interface HistoryEntry<T> {
  when: number;
  /** Characters of the stanza as sent (maxchars counts whole stanzas, as Prosody does). */
  chars: number;
  value: T;
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  /** ms since epoch. */
  since?: number;
}

/** Parse a <history/> element's attributes; invalid values are ignored (§7.2.15 leaves them to the service). */
export function parseHistoryRequest(attrs: Readonly<Record<string, string>> | undefined): HistoryRequest {
  const out: HistoryRequest = {};
  if (!attrs) return out;
  const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);
  const mc = int(attrs.maxchars);
  if (mc !== undefined) out.maxchars = mc;
  const ms = int(attrs.maxstanzas);
  if (ms !== undefined) out.maxstanzas = ms;
  const sec = int(attrs.seconds);
  if (sec !== undefined) out.seconds = sec;
  if (attrs.since !== undefined) {
    const t = parseDateTime(attrs.since);
    if (t !== undefined) out.since = t;
  }
  return out;
}

/**
 * The newest entries that fit every limit, oldest first. `defaultCount` is the room's history
 * length (a request cannot ask for more); `overhead` is added to each entry's size for maxchars
 * (what the recipient's copy adds: its `to`, the delay stamp).
 */
export function selectHistory<T>(entries: readonly HistoryEntry<T>[], req: HistoryRequest, defaultCount: number, now: number, overhead = 0): HistoryEntry<T>[] {
  let max = Math.min(defaultCount, req.maxstanzas ?? defaultCount);
  let chars = req.maxchars ?? Infinity;
  const notBefore = Math.max(req.seconds !== undefined ? now - req.seconds * 1000 : -Infinity, req.since ?? -Infinity);
  const out: HistoryEntry<T>[] = [];
  for (let i = entries.length - 1; i >= 0 && max > 0; i--) {
    const e = entries[i];
    if (e.when < notBefore) break;
    if (e.chars + overhead > chars) break;
    chars -= e.chars + overhead;
    max--;
    out.push(e);
  }
  return out.reverse();
}
