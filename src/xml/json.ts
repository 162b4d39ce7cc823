// Elements as JSON for the stores (keyval/map values are JSON): { n: name, a: attrs, c: children },
// a child being a string (text) or another such object. Namespaces travel as `xmlns` attributes, so
// a stored payload keeps its own namespace declaration at its root.

import type { Json } from "../storage/types.js";
import { Element, type Node } from "./stanza.js";

export interface ElementJson {
  [key: string]: Json;
  n: string;
  a: { [key: string]: string };
  c: Array<string | ElementJson>;
}

export function elementToJson(el: Element): ElementJson {
  return {
    n: el.name,
    a: { ...el.attrs },
    c: el.children.map((c) => (typeof c === "string" ? c : elementToJson(c))),
  };
}

/** The element back; undefined when the data is not an element's JSON (a corrupt or foreign record). */
export function elementFromJson(data: unknown): Element | undefined {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  const { n, a, c } = data as { n?: unknown; a?: unknown; c?: unknown };
  if (typeof n !== "string" || typeof a !== "object" || a === null || Array.isArray(a) || !Array.isArray(c)) return undefined;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    if (typeof v !== "string") return undefined;
    attrs[k] = v;
  }
  const children: Node[] = [];
  for (const child of c) {
    if (typeof child === "string") children.push(child);
    else {
      const e = elementFromJson(child);
      if (!e) return undefined;
      children.push(e);
    }
  }
  return new Element(n, attrs, children);
}
