// Matching a received stanza against the expected one of a `receives:` step, per FORMAT.md §3.
//
// Modes:
//  - loose (non-strict): every expected attribute must be present with the same value; extra
//    received attributes are ignored. Every expected child element must be found among the received
//    children (each received child used once, order ignored); extra received children are ignored.
//  - strict: the attribute sets are identical, the child elements are identical in number and order.
//
// Which mode applies (decided on the expected element, top-down):
//  - `scansion:strict="true|false"` on an expected element sets the mode of that element, and its
//    subtree inherits it (until another scansion:strict);
//  - otherwise, below an element whose mode is strict, strict;
//  - otherwise strict when the element's namespace is not jabber:client (a payload such as
//    <pubsub xmlns=...>, <query xmlns=...>, <delay xmlns=...>), and loose when it is (the stanza
//    itself and its un-namespaced children: <body>, <status>, <priority>, <error>...).
//
// Text: whitespace-only text is ignored. Non-whitespace expected text must equal the received text
// exactly (in both modes). An element written without text accepts any text, in both modes: this
// departs from FORMAT.md §3's inference ("in strict mode an empty expected element means no
// content") because http_upload.scs expects <header name='Authorization'></header> inside a strict
// <slot> while Prosody sends "Bearer <token>" there (see README.md, "Matching").
//
// Values: `{scansion:any}` (attribute present, any value); `{scansion:capture:NAME}` (the first
// occurrence in a script records the received value, later ones must equal it). Both also work as
// the whole text of an element.
//
// Namespaces are compared by URI (prefixes and redundant declarations do not matter); namespace
// declarations and scansion:* attributes are not compared as attributes.

import type { Element } from "../../src/xml/stanza.js";
import { NS_SCANSION } from "./parser.js";
import { NS_CLIENT } from "../../src/xml/ns.js";
export { NS_CLIENT };

export type MatchResult = { ok: true } | { ok: false; difference: string };

export interface MatchContext {
  /** Values recorded by {scansion:capture:NAME}; updated only when the whole match succeeds. */
  captures?: Map<string, string>;
}

const ANY = "{scansion:any}";
const CAPTURE_RE = /^\{scansion:capture:([^}]+)\}$/;

/** Compare `expected` (from the script, variables already substituted) with `received`. */
export function matchStanza(expected: Element, received: Element, ctx: MatchContext = {}): MatchResult {
  const captures = new Map(ctx.captures ?? []);
  const diff = compare(expected, received, {
    expNs: expected.attrs.xmlns ?? NS_CLIENT,
    recNs: received.attrs.xmlns ?? NS_CLIENT,
    strict: false,
    explicit: false,
    path: expected.name,
    captures,
  });
  if (diff !== undefined) return { ok: false, difference: diff };
  if (ctx.captures) for (const [k, v] of captures) ctx.captures.set(k, v);
  return { ok: true };
}

interface State {
  expNs: string;
  recNs: string;
  /** Mode of the parent (for the root: loose, not explicit). */
  strict: boolean;
  /** Whether the parent's mode came from a scansion:strict attribute (inherited by the subtree). */
  explicit: boolean;
  path: string;
  captures: Map<string, string>;
}

/** The matching mode of an expected element, given its parent's. */
function modeOf(el: Element, ns: string, parent: { strict: boolean; explicit: boolean }): { strict: boolean; explicit: boolean } {
  const flag = strictAttr(el);
  if (flag !== undefined) return { strict: flag, explicit: true };
  if (parent.explicit || parent.strict) return parent;
  return { strict: ns !== NS_CLIENT, explicit: false };
}

function strictAttr(el: Element): boolean | undefined {
  for (const [name, value] of Object.entries(el.attrs)) {
    if (attrKey(el, name) === `{${NS_SCANSION}}strict`) return value.trim().toLowerCase() !== "false";
  }
  return undefined;
}

/**
 * The comparable key of an attribute: `{uri}local` for a prefixed one (the parser keeps the
 * prefix's declaration on the element), the plain name otherwise. Undefined for namespace
 * declarations, which are not attributes.
 */
function attrKey(el: Element, name: string): string | undefined {
  if (name === "xmlns" || name.startsWith("xmlns:")) return undefined;
  const colon = name.indexOf(":");
  if (colon < 0) return name;
  const prefix = name.slice(0, colon);
  if (prefix === "xml") return name;
  const uri = el.attrs[`xmlns:${prefix}`];
  return uri === undefined ? name : `{${uri}}${name.slice(colon + 1)}`;
}

function comparableAttrs(el: Element): Map<string, { name: string; value: string }> {
  const out = new Map<string, { name: string; value: string }>();
  for (const [name, value] of Object.entries(el.attrs)) {
    const key = attrKey(el, name);
    if (key === undefined || key.startsWith(`{${NS_SCANSION}}`)) continue;
    out.set(key, { name, value });
  }
  return out;
}

function q(s: string): string {
  return `'${s}'`;
}

function nsOf(el: Element, parentNs: string): string {
  return el.attrs.xmlns ?? parentNs;
}

/** Compare a value (attribute or text) that may be a wildcard or capture. */
function compareValue(expected: string, received: string, captures: Map<string, string>): string | undefined {
  if (expected === ANY) return undefined;
  const cap = CAPTURE_RE.exec(expected);
  if (cap) {
    const known = captures.get(cap[1]);
    if (known === undefined) {
      captures.set(cap[1], received);
      return undefined;
    }
    return known === received ? undefined : `expected ${q(known)} (captured as ${cap[1]}) got ${q(received)}`;
  }
  return expected === received ? undefined : `expected ${q(expected)} got ${q(received)}`;
}

function compare(exp: Element, rec: Element, st: State): string | undefined {
  if (exp.name !== rec.name || st.expNs !== st.recNs) {
    return `${st.path}: expected element <${exp.name} xmlns=${q(st.expNs)}> got <${rec.name} xmlns=${q(st.recNs)}>`;
  }
  const mode = modeOf(exp, st.expNs, st);
  const where = st.path;

  // Attributes.
  const ea = comparableAttrs(exp);
  const ra = comparableAttrs(rec);
  for (const [key, { name, value }] of ea) {
    const got = ra.get(key);
    if (got === undefined) return `${where}: attribute ${name} missing (expected ${q(value)})`;
    const d = compareValue(value, got.value, st.captures);
    if (d) return `${where}: attribute ${name} ${d}`;
  }
  if (mode.strict) {
    for (const [key, { name, value }] of ra) {
      if (!ea.has(key)) return `${where}: unexpected attribute ${name}=${q(value)} (strict)`;
    }
  }

  // Text.
  const et = exp.getText();
  const rt = rec.getText();
  if (/\S/.test(et)) {
    const d = compareValue(et, rt, st.captures);
    if (d) return `${where}: text ${d}`;
  }

  // Children.
  const ec = exp.childElements();
  const rc = rec.childElements();
  const childState = (e: Element, r: Element, path: string): State => ({
    expNs: nsOf(e, st.expNs),
    recNs: nsOf(r, st.recNs),
    strict: mode.strict,
    explicit: mode.explicit,
    path,
    captures: st.captures,
  });
  const paths = childPaths(where, ec);

  if (mode.strict) {
    // Pairwise in order first (the first differing child is the most useful report), then counts.
    const n = Math.min(ec.length, rc.length);
    for (let k = 0; k < n; k++) {
      const e = ec[k];
      const r = rc[k];
      const eNs = nsOf(e, st.expNs);
      const rNs = nsOf(r, st.recNs);
      if (e.name !== r.name || eNs !== rNs) {
        return `${where}: child ${k + 1} expected ${openTag(e, eNs, st.expNs)} got ${openTag(r, rNs, st.recNs)} (strict: same children in the same order)`;
      }
      const d = compare(e, r, childState(e, r, paths[k]));
      if (d) return d;
    }
    if (rc.length > ec.length) {
      const r = rc[ec.length];
      return `${where}: unexpected child ${openTag(r, nsOf(r, st.recNs), st.recNs)} (strict: expected ${ec.length} child element(s), got ${rc.length})`;
    }
    if (ec.length > rc.length) {
      const e = ec[rc.length];
      return `${where}: missing child ${openTag(e, nsOf(e, st.expNs), st.expNs)} (strict: expected ${ec.length} child element(s), got ${rc.length})`;
    }
    return undefined;
  }

  // Loose: find a one-to-one assignment of expected children to received ones (order ignored).
  if (ec.length === 0) return undefined;
  const candidates: number[][] = ec.map((e) => {
    const eNs = nsOf(e, st.expNs);
    const list: number[] = [];
    rc.forEach((r, m) => {
      if (r.name === e.name && nsOf(r, st.recNs) === eNs) list.push(m);
    });
    return list;
  });
  for (let k = 0; k < ec.length; k++) {
    if (candidates[k].length === 0) {
      const e = ec[k];
      return `${where}: missing child ${openTag(e, nsOf(e, st.expNs), st.expNs)}`;
    }
  }
  const tryChild = (k: number, m: number, captures: Map<string, string>): string | undefined =>
    compare(ec[k], rc[m], { ...childState(ec[k], rc[m], paths[k]), captures });
  const used = new Set<number>();
  const assign = (k: number, captures: Map<string, string>): Map<string, string> | undefined => {
    if (k === ec.length) return captures;
    for (const m of candidates[k]) {
      if (used.has(m)) continue;
      const trial = new Map(captures);
      if (tryChild(k, m, trial) !== undefined) continue;
      used.add(m);
      const done = assign(k + 1, trial);
      used.delete(m);
      if (done) return done;
    }
    return undefined;
  };
  const result = assign(0, new Map(st.captures));
  if (result) {
    for (const [key, v] of result) st.captures.set(key, v);
    return undefined;
  }
  // Explain: the first expected child that no received child matches on its own, with the
  // difference from the candidate that matched deepest.
  for (let k = 0; k < ec.length; k++) {
    const diffs = candidates[k].map((m) => tryChild(k, m, new Map(st.captures)));
    if (diffs.every((d) => d !== undefined)) {
      if (diffs.length === 1) return diffs[0];
      const e = ec[k];
      // Closest: the deepest difference; on a tie, the candidate sharing most attribute values.
      const score = (i: number): number => depth(diffs[i]!) * 1000 + sharedAttrs(e, rc[candidates[k][i]]);
      let bestIdx = 0;
      for (let i = 1; i < diffs.length; i++) if (score(i) > score(bestIdx)) bestIdx = i;
      const best = diffs[bestIdx];
      return `${where}: no received <${e.name}> matches ${openTag(e, nsOf(e, st.expNs), st.expNs)} (${diffs.length} candidates; closest: ${best})`;
    }
  }
  return `${where}: the expected children cannot be matched one-to-one with the received ones (a received child would have to match twice)`;
}

/** How many of the expected element's attributes the candidate has with the same value. */
function sharedAttrs(exp: Element, rec: Element): number {
  const ra = comparableAttrs(rec);
  let n = 0;
  for (const [key, { value }] of comparableAttrs(exp)) if (ra.get(key)?.value === value) n++;
  return n;
}

/** How deep in the tree a difference was found (its path's length in steps). */
function depth(diff: string): number {
  const path = diff.slice(0, diff.indexOf(":"));
  return path.split("/").length;
}

/** An element's opening tag for messages: its attributes, and its namespace when it changes. */
function openTag(el: Element, ns: string, parentNs: string): string {
  let s = `<${el.name}`;
  if (ns !== parentNs) s += ` xmlns=${q(ns)}`;
  for (const [name, value] of Object.entries(el.attrs)) {
    if (name === "xmlns" || name.startsWith("xmlns:") || name.startsWith("scansion:")) continue;
    s += ` ${name}=${q(value)}`;
  }
  return `${s}>`;
}

/** Human paths of the children: "items/item[2]" when several siblings share a name. */
function childPaths(parent: string, children: Element[]): string[] {
  const count = new Map<string, number>();
  for (const c of children) count.set(c.name, (count.get(c.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  return children.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return (count.get(c.name) ?? 0) > 1 ? `${parent}/${c.name}[${n}]` : `${parent}/${c.name}`;
  });
}
