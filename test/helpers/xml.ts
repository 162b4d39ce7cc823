// XML text to Herald's Element, for tests that build their input as text.

import { XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";

/** The one element in `text` (white space between tags is dropped); throws on bad XML or on anything but one element. */
export function xml(text: string): Element {
  const out: Element[] = [];
  const errors: string[] = [];
  const s = new XmlStream({ stanza: (e) => out.push(e), error: (c, t) => errors.push(`${c}: ${t}`) }, { framing: "framed" });
  s.write(text.replace(/>\s+</g, "><").trim());
  if (errors.length || out.length !== 1) throw new Error(`bad test XML: ${errors.join("; ")}`);
  return out[0];
}
