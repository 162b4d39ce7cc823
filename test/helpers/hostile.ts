// Generated hostile client streams for fuzzing Herald's stream parser: deterministic from a seed.
//
// A case is a list of reads to send on a client stream (after the stream header, on a logged-in
// session or not) and what the server must do with them:
//   "ok"     every ping in it is answered and the stream stays open
//   "error"  the stream ends at once with one of `conditions`
//   "either" anything the server chooses, as long as the stream either answers or ends: the runner
//            follows such a case with a ping and a closing tag, so there is always an outcome.

export type Expect = "ok" | "error" | "either";

export interface HostileCase {
  index: number;
  kind: string;
  /** On a logged-in session (else straight after the stream header). */
  auth: boolean;
  reads: Buffer[];
  expect: Expect;
  /** "error": the stream errors the server may answer with. */
  conditions?: string[];
  /** "ok": ids of the pings in the reads, answered in this order. */
  pings?: string[];
}

export interface HostileLimits {
  /** c2s_stanza_size_limit of the server under test. */
  maxStanzaSize: number;
  /** c2s_max_stanza_depth. */
  maxDepth: number;
  /** c2s_max_element_attributes. */
  maxAttributes: number;
  /** c2s_max_stanza_elements. */
  maxElements: number;
}

/** mulberry32: small, fast, good enough to pick cases; the same seed gives the same cases. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NWF = ["not-well-formed"];
const RESTRICTED = ["restricted-xml"];
const POLICY = ["policy-violation"];
const ENCODING = ["unsupported-encoding"];

class Gen {
  constructor(
    readonly r: () => number,
    readonly limits: HostileLimits,
    readonly index: number,
  ) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  id(n = 0): string {
    return `f${this.index}-${n}`;
  }
  /** An iq ping; `inside` goes into the <ping/> (an iq has exactly one payload). */
  ping(n = 0, inside = ""): string {
    return `<iq type='get' id='${this.id(n)}' to='localhost'><ping xmlns='urn:xmpp:ping'${inside ? `>${inside}</ping>` : "/>"}</iq>`;
  }
  text(len: number): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-éü€漢😀";
    let s = "";
    while (s.length < len) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
  /** Split bytes into reads at random places (inside tags and UTF-8 sequences too). */
  split(data: Buffer, maxPieces = 6): Buffer[] {
    const pieces = this.int(1, maxPieces);
    const cuts = Array.from({ length: pieces - 1 }, () => this.int(1, Math.max(1, data.length - 1))).sort((a, b) => a - b);
    const out: Buffer[] = [];
    let prev = 0;
    for (const c of [...cuts, data.length]) {
      if (c > prev) out.push(data.subarray(prev, c));
      prev = Math.max(prev, c);
    }
    return out.length ? out : [data];
  }
  /** An iq of exactly `bytes` bytes (when that is at least its markup), padded inside an element. */
  sizedPing(n: number, bytes: number, fill: string): Buffer {
    const head = `<iq type='get' id='${this.id(n)}' to='localhost'><ping xmlns='urn:xmpp:ping'><pad xmlns='urn:fuzz'>`;
    const tail = "</pad></ping></iq>";
    const room = bytes - Buffer.byteLength(head) - tail.length;
    const unit = Buffer.byteLength(fill);
    return Buffer.from(head + fill.repeat(Math.floor(room / unit)) + "z".repeat(room % unit) + tail);
  }
}

type Maker = (g: Gen) => Omit<HostileCase, "index" | "kind">;

const ok = (g: Gen, stanzas: string[] | Buffer, pings: string[], split = true): Omit<HostileCase, "index" | "kind"> => {
  const data = Buffer.isBuffer(stanzas) ? stanzas : Buffer.from(stanzas.join(g.pick(["", " ", "\n", "\r\n  "])));
  return { auth: true, reads: split ? g.split(data) : [data], expect: "ok", pings };
};
/** `completeFirst`: a complete stanza comes before the fault; before authentication the server
 * may end the stream for that stanza first, so such cases run on a logged-in session. */
const err = (g: Gen, data: string | Buffer, conditions: string[], completeFirst = false): Omit<HostileCase, "index" | "kind"> => {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return { auth: completeFirst || g.chance(0.5), reads: g.split(buf), expect: "error", conditions };
};

const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc3, 0x28],
  [0xe2, 0x28, 0xa1],
  [0xe2, 0x82, 0x28],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xf0, 0x90, 0x28, 0xbc],
];

export const MAKERS: Record<string, Maker> = {
  deepNesting(g) {
    const { maxDepth } = g.limits;
    // The stanza is depth 1, its <ping/> depth 2, the nest inside the ping starts at depth 3.
    const depth = g.pick([maxDepth - 1, maxDepth, maxDepth + 1, maxDepth + 2, 2 * maxDepth, 1000, 20000]);
    const n = depth - 2;
    const open = "<a>".repeat(n);
    if (depth <= maxDepth) return ok(g, [g.ping(0, open + "</a>".repeat(n))], [g.id(0)]);
    const closed = g.chance(0.3) && n < 2000;
    return err(g, `<iq type='get' id='${g.id()}' to='localhost'><ping xmlns='urn:xmpp:ping'>${open}${closed ? "</a>".repeat(n) + "</ping></iq>" : ""}`, POLICY);
  },
  deepNestingNamespaced(g) {
    const { maxDepth } = g.limits;
    const depth = g.pick([maxDepth, maxDepth + 1, 5000]);
    const el = g.pick(["<a xmlns='urn:a'>", "<p:a xmlns:p='urn:p'>", "<p:a>"]);
    const close = el.startsWith("<p:") ? "</p:a>" : "</a>";
    const n = depth - 2;
    const body = el.repeat(n) + (depth <= maxDepth ? close.repeat(n) : "");
    const wrap = (s: string) => `<iq type='get' id='${g.id()}' to='localhost' xmlns:p='urn:p'><ping xmlns='urn:xmpp:ping'>${s}${depth <= maxDepth ? "</ping></iq>" : ""}`;
    if (depth <= maxDepth) return ok(g, [wrap(body)], [g.id()]);
    return err(g, wrap(body), POLICY);
  },
  hugeAttribute(g) {
    const { maxStanzaSize } = g.limits;
    const head = `<iq type='get' id='${g.id()}' to='localhost' x='`;
    const tail = "'><ping xmlns='urn:xmpp:ping'/></iq>";
    const target = g.pick([maxStanzaSize - 1, maxStanzaSize, maxStanzaSize + 1, 4 * maxStanzaSize]);
    const value = "v".repeat(target - head.length - tail.length);
    if (target <= maxStanzaSize) return ok(g, [head + value + tail], [g.id()]);
    // Without its end the stanza must still be over the limit.
    return err(g, head + value + (target > 2 * maxStanzaSize && g.chance(0.5) ? "" : tail), POLICY);
  },
  manyAttributes(g) {
    const { maxAttributes } = g.limits;
    // The iq has type, id and to already.
    const n = g.pick([maxAttributes - 3, maxAttributes - 2, maxAttributes + 1, 10 * maxAttributes]);
    const attrs = Array.from({ length: n }, (_, i) => ` a${i}='${i}'`).join("");
    const s = `<iq type='get' id='${g.id()}' to='localhost'${attrs}><ping xmlns='urn:xmpp:ping'/></iq>`;
    if (n + 3 <= maxAttributes) return ok(g, [s], [g.id()]);
    return err(g, s, POLICY);
  },
  manyElements(g) {
    const { maxElements } = g.limits;
    // The iq and its ping are two of them.
    const n = g.pick([maxElements - 2, maxElements - 1, 4 * maxElements]);
    const s = g.ping(0, "<a/>".repeat(n));
    if (n + 2 <= maxElements) return ok(g, [s], [g.id()]);
    return err(g, s, POLICY);
  },
  strayAmpersand(g) {
    const forms = [
      `<message to='a@localhost'><body>fish & chips</body></message>`,
      `<message to='a@localhost'><body>&</body></message>`,
      `<message to='a@localhost'><body>&&amp;</body></message>`,
      `<message to='a & b@localhost'/>`,
      `<message to='a@localhost'><body>&${"x".repeat(g.int(20, 3000))}`,
      `<message to='a@localhost'><body>& `,
      `<message to='a@localhost'><body>&amp</body></message>`,
      `<message to='a@localhost'><body>AT&T</body></message>`,
      ` & <message/>`,
    ];
    return err(g, g.pick(forms) + g.ping(1), NWF);
  },
  badEntity(g) {
    const [ref, cond] = g.pick([
      ["&foo;", RESTRICTED],
      ["&nbsp;", RESTRICTED],
      ["&#0;", NWF],
      ["&#x0;", NWF],
      ["&#xD800;", NWF],
      ["&#x110000;", NWF],
      ["&#99999999999;", NWF],
      ["&;", NWF],
      ["&#;", NWF],
      ["&#x;", NWF],
      ["&#xZZ;", NWF],
      ["&#12a;", NWF],
      ["&#x1;", NWF],
    ] as Array<[string, string[]]>);
    const where = g.pick([`<body>${ref}</body>`, `<body a='${ref}'/>`]);
    return err(g, `<message to='a@localhost'>${where}</message>` + g.ping(1), cond);
  },
  invalidUtf8(g) {
    const bad = Buffer.from(g.pick(INVALID_UTF8));
    const before = g.pick([`<message to='a@localhost'><body>${g.text(g.int(0, 50))}`, `<message to='a@localhost' id='`, `<mess`, ``, `<message/>`]);
    const after = Buffer.from(g.pick(["</body></message>", "x'/>", "age/>", "<message/>", ""]) + g.ping(1));
    return err(g, Buffer.concat([Buffer.from(before), bad, after]), ENCODING, before === "<message/>");
  },
  truncatedMultibyte(g) {
    // A sequence cut short and followed by ASCII: invalid.
    const full = Buffer.from(g.pick(["é", "€", "漢", "😀"]));
    const cut = full.subarray(0, g.int(1, full.length - 1));
    return err(g, Buffer.concat([Buffer.from("<message to='a@localhost'><body>"), cut, Buffer.from("</body></message>" + g.ping(1))]), ENCODING);
  },
  multibyteSplitAcrossReads(g) {
    const n = g.int(1, 4);
    const stanzas = Array.from({ length: n }, (_, i) => g.ping(i, `<x xmlns='urn:fuzz' a='${g.text(g.int(1, 30))}'>${g.text(g.int(1, 400))}</x>`));
    const data = Buffer.from(stanzas.join(""));
    // Cut inside multibyte characters on purpose.
    return { auth: true, reads: g.split(data, 12), expect: "ok", pings: stanzas.map((_, i) => g.id(i)) };
  },
  splitReads(g) {
    const n = g.int(1, 6);
    const stanzas = Array.from({ length: n }, (_, i) =>
      g.pick([g.ping(i), g.ping(i, `<x xmlns='urn:fuzz'><![CDATA[<not a tag> & ]]>&lt;&amp;&#x263A;&#9731;</x>`), g.ping(i, `<q:x xmlns:q='urn:q' q:a='1'><q:y/></q:x>`)]),
    );
    return ok(g, stanzas, stanzas.map((_, i) => g.id(i)));
  },
  oversizedStanza(g) {
    const { maxStanzaSize } = g.limits;
    const fill = g.pick(["x", "é", "€", "😀"]);
    const bytes = g.pick([maxStanzaSize - 1, maxStanzaSize, maxStanzaSize + 1, maxStanzaSize + 3, 3 * maxStanzaSize]);
    const data = g.sizedPing(0, bytes, fill);
    if (data.length <= maxStanzaSize) return ok(g, data, [g.id(0)]);
    return err(g, data.length > 2 * maxStanzaSize && g.chance(0.5) ? data.subarray(0, data.length - 5) : data, POLICY);
  },
  restrictedXml(g) {
    const forms = [
      "<!DOCTYPE stream [<!ENTITY x 'y'>]>",
      "<!DOCTYPE x",
      "<!-- a comment -->",
      "<!-- unterminated comment",
      "<message to='a@localhost'><!-- inside --></message>",
      "<message to='a@localhost'><body><!--",
      "<?php echo 1; ?>",
      "<?target data",
      "<message to='a@localhost'><?pi x?></message>",
      "<?xml version='1.0'?>",
    ];
    const f = g.pick(forms);
    // An XML declaration after the root is not well-formed rather than restricted.
    return err(g, f + g.ping(1), f.startsWith("<?xml") ? [...NWF, ...RESTRICTED] : RESTRICTED);
  },
  malformed(g) {
    const forms = [
      "<message><body></message>",
      "<message></body>",
      "<message to='a' to='b'/>",
      "<foo:bar/>",
      "<message a=b/>",
      "<message a='1\"/>",
      "<message><body>]]></body></message>",
      "text outside",
      "<message/>text",
      "</stream:wrong>",
      "<>",
      "</>",
      "<message xmlns:p=''/>",
      "<1message/>",
      "<message\u0001/>",
      "<message><body>\u0000</body></message>",
      "<message><body>\uFFFF</body></message>",
    ];
    const f = g.pick(forms);
    return err(g, f + g.ping(1), NWF, f.startsWith("<message/>"));
  },
  garbage(g) {
    const len = g.int(1, 3000);
    const bytes = Buffer.alloc(len + 2);
    for (let i = 0; i < len; i++) bytes[i] = g.int(0, 255);
    // Not whitespace or a tag by chance, and something that ends whatever it began.
    bytes[0] = g.pick([0x00, 0x01, 0x41, 0x26, 0xff, 0xc3, 0x80, 0x3e, 0x22]);
    bytes[len] = 0x20;
    bytes[len + 1] = 0x3c;
    return err(g, bytes, [...NWF, ...ENCODING]);
  },
  mutation(g) {
    const n = g.int(1, 3);
    const base = Buffer.from(
      Array.from({ length: n }, (_, i) =>
        g.pick([
          g.ping(i),
          `<message to='nobody@localhost' id='${g.id(i)}' type='chat'><body>${g.text(g.int(0, 80))}</body></message>`,
          `<presence id='${g.id(i)}'><show>away</show><status>${g.text(10)}</status></presence>`,
          g.ping(i, `<x xmlns='urn:fuzz' a='&amp;'><![CDATA[x]]>&#x263A;</x>`),
        ]),
      ).join(""),
    );
    const bytes = [...base];
    const edits = g.int(1, 6);
    const specials = [0x3c, 0x3e, 0x2f, 0x26, 0x27, 0x22, 0x3d, 0x20, 0x3b, 0x21, 0x3f, 0x00, 0xc3, 0xff, 0x80];
    for (let e = 0; e < edits && bytes.length > 0; e++) {
      const at = g.int(0, bytes.length - 1);
      switch (g.int(0, 5)) {
        case 0:
          bytes[at] = g.chance(0.5) ? g.pick(specials) : g.int(0, 255);
          break;
        case 1:
          bytes.splice(at, 0, g.chance(0.5) ? g.pick(specials) : g.int(0, 255));
          break;
        case 2:
          bytes.splice(at, g.int(1, 8));
          break;
        case 3: {
          const len = g.int(1, 40);
          bytes.splice(at, 0, ...bytes.slice(at, at + len));
          break;
        }
        case 4:
          bytes[at] = bytes[at] ^ (1 << g.int(0, 7));
          break;
        default:
          bytes.length = g.int(0, bytes.length);
      }
    }
    return { auth: true, reads: g.split(Buffer.from(bytes)), expect: "either" };
  },
};

/** Case `index` of the corpus for `seed`: the kinds in turn, each with its own random choices. */
export function hostileCase(seed: number, index: number, limits: HostileLimits): HostileCase {
  const kinds = Object.keys(MAKERS);
  const kind = kinds[index % kinds.length];
  const g = new Gen(rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0), limits, index);
  return { index, kind, ...MAKERS[kind](g) };
}
