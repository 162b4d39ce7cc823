// Test helper: parse one XML element into Herald's Element (for the room unit tests).

import type { Element } from "../../../src/xml/stanza.js";
import { XmlStream } from "../../../src/xml/parser.js";

export function parseXml(text: string): Element {
  let found: Element | undefined;
  const p = new XmlStream(
    {
      stanza: (el) => {
        found = el;
      },
      error: (_c, t) => {
        throw new Error(t);
      },
    },
    { framing: "framed", sync: true },
  );
  p.write(text);
  if (!found) throw new Error(`no element parsed from ${text}`);
  return found;
}
