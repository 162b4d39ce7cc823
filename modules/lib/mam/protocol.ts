// XEP-0313 Message Archive Management, the XML side shared by mod_mam (account archives) and
// mod_pubsub (a node's item history): reading a <query/> (data form, XEP-0059 RSM, flip-page),
// and writing results, <fin/>, the query form and metadata. Pure: no I/O.

import { findForm, parseForm, renderForm, type FormDef } from "../../../src/util/dataforms.js";
import { parseDateTime, xmppDateTime } from "../../../src/util/datetime.js";
import { Element } from "../../../src/xml/stanza.js";
import { NS_MAM, NS_STANZA_ID, NS_FORWARD, NS_DELAY, NS_RSM } from "../../../src/xml/ns.js";
export { NS_MAM, NS_STANZA_ID, NS_FORWARD, NS_DELAY, NS_RSM };

/** XEP-0313 §7 (v1.1): before-id, after-id, ids, flip-page and metadata. */
export const NS_MAM_EXTENDED = "urn:xmpp:mam:2#extended";

/** XEP-0313 §4.1.1 and §7 (extended): the fields a query form may carry. */
export const QUERY_FORM: FormDef = {
  formType: NS_MAM,
  fields: [
    { var: "with", type: "jid-single" },
    { var: "start", type: "text-single" },
    { var: "end", type: "text-single" },
    { var: "before-id", type: "text-single" },
    { var: "after-id", type: "text-single" },
    { var: "ids", type: "list-multi", openOptions: true },
  ],
};

/** The query form (XEP-0313 §4.1.1: answering an iq get for the query element). */
export function queryFormReply(node?: string): Element {
  const q = new Element("query", node === undefined ? { xmlns: NS_MAM } : { xmlns: NS_MAM, node });
  q.add(renderForm(QUERY_FORM, undefined, "form"));
  return q;
}

/** A parsed archive query. Times are ms since the epoch. */
export interface MamQuery {
  queryid?: string;
  node?: string;
  with?: string;
  start?: number;
  end?: number;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
  /** XEP-0059 §2.1: the requested page size. */
  max?: number;
  /** XEP-0059 §2.2: the page after this id. */
  after?: string;
  /** XEP-0059 §2.3/§2.5: the page before this id; "" is the last page. */
  before?: string;
  /** XEP-0059 §2.4: skip this many matches. */
  index?: number;
  /** XEP-0313 §4.1.3 (flip-page): the page's results newest first. */
  flip: boolean;
}

export type ParsedQuery = { ok: true; query: MamQuery } | { ok: false; text: string };

/** Read a <query xmlns='urn:xmpp:mam:2'/> (XEP-0313 §4). Errors are bad-request texts. */
export function parseQuery(query: Element): ParsedQuery {
  const q: MamQuery = { flip: query.getChild("flip-page", NS_MAM) !== undefined || query.getChild("flip-page") !== undefined };
  if (query.attrs.queryid !== undefined) q.queryid = query.attrs.queryid;
  if (query.attrs.node !== undefined) q.node = query.attrs.node;

  const x = findForm(query);
  if (x) {
    const form = parseForm(QUERY_FORM, x);
    if (!form.ok) return { ok: false, text: form.field ? `${form.field}: ${form.error}` : form.error };
    // XEP-0313 §4.1.1: a field the server does not support is an error.
    if (form.unknown.length > 0) return { ok: false, text: `Unsupported field '${form.unknown[0]}'` };
    const v = form.values;
    if (typeof v.with === "string" && v.with !== "") q.with = v.with;
    for (const name of ["start", "end"] as const) {
      const text = v[name];
      if (typeof text !== "string" || text === "") continue;
      const ms = parseDateTime(text);
      if (ms === undefined) return { ok: false, text: `Invalid timestamp in '${name}'` };
      q[name] = ms;
    }
    if (typeof v["before-id"] === "string" && v["before-id"] !== "") q.beforeId = v["before-id"];
    if (typeof v["after-id"] === "string" && v["after-id"] !== "") q.afterId = v["after-id"];
    if (Array.isArray(v.ids)) q.ids = v.ids;
  }

  const set = query.getChild("set", NS_RSM);
  if (set) {
    const max = set.getChildText("max");
    if (max !== undefined) {
      if (!/^\d+$/.test(max.trim())) return { ok: false, text: "RSM max must be a non-negative integer" };
      q.max = Number(max.trim());
    }
    const after = set.getChild("after");
    if (after) {
      const text = after.getText();
      // XEP-0059 §2.2: <after/> names an item.
      if (text === "") return { ok: false, text: "RSM after needs an id" };
      q.after = text;
    }
    const before = set.getChild("before");
    if (before) q.before = before.getText();
    const index = set.getChildText("index");
    if (index !== undefined) {
      if (!/^\d+$/.test(index.trim())) return { ok: false, text: "RSM index must be a non-negative integer" };
      q.index = Number(index.trim());
    }
    if (q.index !== undefined && (q.after !== undefined || q.before !== undefined)) {
      return { ok: false, text: "RSM index cannot be combined with after or before" };
    }
  }
  if (q.start !== undefined && q.end !== undefined && q.start > q.end) return { ok: false, text: "start is after end" };
  return { ok: true, query: q };
}

/** One archived item as a result message (XEP-0313 §4.2). */
export function resultMessage(
  to: string,
  from: string | undefined,
  queryid: string | undefined,
  id: string,
  when: number,
  forwarded: Element,
): Element {
  const attrs: Record<string, string> = from === undefined ? { to } : { to, from };
  const result = new Element("result", queryid === undefined ? { xmlns: NS_MAM, id } : { xmlns: NS_MAM, queryid, id });
  const fwd = new Element("forwarded", { xmlns: NS_FORWARD }, [new Element("delay", { xmlns: NS_DELAY, stamp: xmppDateTime(when) }), forwarded]);
  result.add(fwd);
  return new Element("message", attrs, [result]);
}

export interface PageInfo {
  first?: string;
  last?: string;
  /** XEP-0059 §2.6: position of `first` in the whole result set, when known. */
  firstIndex?: number;
  count?: number;
  complete: boolean;
}

/** XEP-0313 §4.3: the <fin/> of a query, with its RSM <set/>. */
export function finElement(queryid: string | undefined, page: PageInfo): Element {
  const attrs: Record<string, string> = { xmlns: NS_MAM };
  if (queryid !== undefined) attrs.queryid = queryid;
  if (page.complete) attrs.complete = "true";
  const set = new Element("set", { xmlns: NS_RSM });
  if (page.first !== undefined) {
    set.add(new Element("first", page.firstIndex === undefined ? {} : { index: String(page.firstIndex) }, [page.first]));
  }
  if (page.last !== undefined) set.add(new Element("last", {}, [page.last]));
  if (page.count !== undefined) set.add(new Element("count", {}, [String(page.count)]));
  return new Element("fin", attrs, [set]);
}

/** XEP-0313 §6 (extended): the first and last items of an archive. */
export function metadataElement(first?: { id: string; when: number }, last?: { id: string; when: number }): Element {
  const md = new Element("metadata", { xmlns: NS_MAM });
  if (first) md.add(new Element("start", { id: first.id, timestamp: xmppDateTime(first.when) }));
  if (last) md.add(new Element("end", { id: last.id, timestamp: xmppDateTime(last.when) }));
  return md;
}
