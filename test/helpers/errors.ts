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
