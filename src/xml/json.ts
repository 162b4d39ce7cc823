// Elements as JSON: the one form every store keeps elements in (pubsub items, offline messages, the
// message archive, private XML, vCards, roster subscription requests, ...).
//
//   [name, attrs?, ...children]
//
// `attrs` is an object of strings, left out when the element has none; a child is a string (text)
// or another such array. Namespaces travel as `xmlns` attributes (a stored payload keeps its own
// namespace declaration at its root), and text and elements keep their order.
//   <body xml:lang='en'>hi <b>there</b></body>  ->  ["body",{"xml:lang":"en"},"hi ",["b","there"]]
//
// Stores written before this form existed held some elements as { n, a, c } objects:
// `upgradeElementJson` turns those into this form (ELEMENT_JSON_VERSION is the value format of a
// store once upgraded, see StorageDriver.upgradeValues).

import type { Json } from "../storage/types.js";
import { Element, type Node } from "./stanza.js";

export interface ElementAttrsJson {
  [key: string]: string;
}

export interface ElementJson extends Array<string | ElementAttrsJson | ElementJson> {
  0: string;
}

/** The value format version of a store whose elements are in this form. */
export const ELEMENT_JSON_VERSION = 1;

export function elementToJson(el: Element): ElementJson {
  const out: ElementJson = [el.name];
  if (Object.keys(el.attrs).length > 0) out.push({ ...el.attrs });
  for (const c of el.children) out.push(typeof c === "string" ? c : elementToJson(c));
  return out;
}

function isAttrs(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The element back; undefined when the data is not an element's JSON (a corrupt or foreign record). */
export function elementFromJson(data: unknown): Element | undefined {
  if (!Array.isArray(data) || typeof data[0] !== "string" || data[0] === "") return undefined;
  const attrs: Record<string, string> = {};
  let i = 1;
  if (isAttrs(data[1])) {
    for (const [k, v] of Object.entries(data[1])) {
      if (typeof v !== "string") return undefined;
      attrs[k] = v;
    }
    i = 2;
  }
  const children: Node[] = [];
  for (; i < data.length; i++) {
    const c: unknown = data[i];
    if (typeof c === "string") children.push(c);
    else {
      const e = elementFromJson(c);
      if (!e) return undefined;
      children.push(e);
    }
  }
  return new Element(data[0], attrs, children);
}

/**
 * A stored element in this form: the old `{ n, a, c }` object form converted (recursively), anything
 * else returned as it is (so an element already in this form, or a value that is no element, stays).
 */
export function upgradeElementJson(data: Json): Json {
  if (!isAttrs(data)) return data;
  const { n, a, c } = data as { n?: unknown; a?: unknown; c?: unknown };
  if (typeof n !== "string" || !isAttrs(a) || !Array.isArray(c)) return data;
  const out: Json[] = [n];
  if (Object.keys(a).length > 0) out.push(a as Json);
  for (const child of c as Json[]) out.push(typeof child === "string" ? child : upgradeElementJson(child));
  return out;
}
