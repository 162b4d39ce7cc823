// The defined conditions of stanza and stream errors (RFC 6120 §8.3, §4.9), as tests check them.

import type { Element } from "../../src/xml/stanza.js";

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

/** The defined condition in a stanza's <error/>, or undefined when it has none. */
export function errorCondition(el: Element): string | undefined {
  return el.getChild("error")?.childElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")?.name;
}

/** The defined condition of a stream error, or undefined when `el` is not one. */
export function streamError(el: Element): string | undefined {
  if (el.name !== "error" || el.attrs.xmlns !== "http://etherx.jabber.org/streams") return undefined;
  return el.childElements().find((c) => c.attrs.xmlns === NS_STREAMS && c.name !== "text")?.name;
}

/** A reply's type, defined condition, text and, with `appNs`, its application condition in that namespace (and that element's feature attribute). Throws unless `el` is an error. */
export function errorOf(el: Element, appNs?: string): { type?: string; condition?: string; app?: string; feature?: string; text?: string } {
  if (el.attrs.type !== "error") throw new Error(`expected an error, got ${el}`);
  const e = el.getChild("error")!;
  const out: { type?: string; condition?: string; app?: string; feature?: string; text?: string } = { type: e.attrs.type };
  for (const c of e.childElements()) {
    if (c.attrs.xmlns === NS_STANZAS) {
      if (c.name === "text") out.text = c.getText();
      else out.condition = c.name;
    } else if (appNs !== undefined && c.attrs.xmlns === appNs) {
      out.app = c.name;
      if (c.attrs.feature !== undefined) out.feature = c.attrs.feature;
    }
  }
  return out;
}

/** Fail with the stanza when a reply is not a result. */
export function expectResult(el: Element): Element {
  if (el.attrs.type !== "result") throw new Error(`expected a result, got ${el}`);
  return el;
}
