import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { XmlStream, type StreamErrorCondition } from "./parser.js";
import type { Element } from "./stanza.js";

const OPEN = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

function collect(opts: { framing?: "stream" | "framed"; maxStanzaSize?: number; maxDepth?: number; maxAttributes?: number; maxElements?: number } = {}) {
  const out = { starts: [] as Record<string, string>[], stanzas: [] as Element[], errors: [] as [StreamErrorCondition, string][], ended: false };
  const stream = new XmlStream(
    {
      streamStart: (attrs) => out.starts.push(attrs),
      stanza: (el) => out.stanzas.push(el),
      streamEnd: () => (out.ended = true),
      error: (c, t) => out.errors.push([c, t]),
    },
    { framing: opts.framing ?? "stream", maxStanzaSize: opts.maxStanzaSize, maxDepth: opts.maxDepth, maxAttributes: opts.maxAttributes, maxElements: opts.maxElements },
  );
  return { stream, out };
}

describe("XmlStream", () => {
  it("reports the stream root, stanzas and the end", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message to='a@b' type='chat'><body>hi &amp; &lt;bye&gt;</body></message> </stream:stream>");
    expect(out.starts).toEqual([{ to: "localhost", version: "1.0" }]);
    expect(out.stanzas.map(String)).toEqual(["<message to='a@b' type='chat'><body>hi &amp; &lt;bye&gt;</body></message>"]);
    expect(out.stanzas[0].getChildText("body")).toBe("hi & <bye>");
    expect(out.ended).toBe(true);
    expect(out.errors).toEqual([]);
  });

  it("parses the same stanzas whatever the chunk boundaries (also inside UTF-8 sequences)", () => {
    const doc = Buffer.from(OPEN + "<iq type='get' id='1'><query xmlns='jabber:iq:version'/></iq><message><body>héllo 𝄞 wörld</body></message>");
    const whole = collect();
    whole.stream.write(doc);
    for (let cut = 1; cut < doc.length; cut++) {
      const { stream, out } = collect();
      stream.write(doc.subarray(0, cut));
      stream.write(doc.subarray(cut));
      expect(out.stanzas.map(String)).toEqual(whole.out.stanzas.map(String));
    }
    const bytewise = collect();
    for (let i = 0; i < doc.length; i++) bytewise.stream.write(doc.subarray(i, i + 1));
    expect(bytewise.out.stanzas.map(String)).toEqual(whole.out.stanzas.map(String));
    expect(whole.out.stanzas[1].getChildText("body")).toBe("héllo 𝄞 wörld");
  });

  it("reads long character data the same whatever the reads, and refuses ']]>' in it even split across reads", () => {
    const text = "plain text\twith tabs\r\nCRLF, é and 𝄞, ]] and ] > and &amp; entities ".repeat(3);
    const good = Buffer.from(OPEN + `<message><body>${text}</body></message>`);
    const bad = Buffer.from(OPEN + `<message><body>${text}]]>${text}</body></message>`);
    const expected = text.replace(/\r\n/g, "\n").replace(/&amp;/g, "&");
    for (let cut = OPEN.length; cut < good.length; cut++) {
      const ok = collect();
      ok.stream.write(good.subarray(0, cut));
      ok.stream.write(good.subarray(cut));
      expect(ok.out.errors).toEqual([]);
      expect(ok.out.stanzas[0]?.getChildText("body")).toBe(expected);
    }
    for (let cut = OPEN.length; cut < bad.length; cut++) {
      const refused = collect();
      refused.stream.write(bad.subarray(0, cut));
      refused.stream.write(bad.subarray(cut));
      expect(refused.out.stanzas).toEqual([]);
      expect(refused.out.errors.map(([c]) => c)).toEqual(["not-well-formed"]);
    }
  });

  it("keeps namespaces: payload xmlns, inherited children, prefixed elements", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<iq type='set' id='x'><p:pubsub xmlns:p='http://jabber.org/protocol/pubsub'><p:publish node='n'><p:item><entry xmlns='urn:a'/></p:item></p:publish></p:pubsub></iq>");
    const iq = out.stanzas[0];
    expect(iq.attrs.xmlns).toBeUndefined();
    const ps = iq.getChild("pubsub", "http://jabber.org/protocol/pubsub")!;
    expect(ps).toBeDefined();
    expect(ps.getChild("publish", "http://jabber.org/protocol/pubsub")!.attrs.node).toBe("n");
    expect(String(iq)).toBe("<iq type='set' id='x'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><entry xmlns='urn:a'/></item></publish></pubsub></iq>");
  });

  it.each([
    ["a DTD", "<!DOCTYPE foo [<!ENTITY x 'y'>]>", "restricted-xml"],
    ["a comment", "<message><!-- hi --></message>", "restricted-xml"],
    ["a processing instruction", "<message><?foo bar?></message>", "restricted-xml"],
    ["an undefined entity", "<message><body>&foo;</body></message>", "restricted-xml"],
    ["mismatched tags", "<message><body></message>", "not-well-formed"],
    ["text between stanzas", "hello<message/>", "not-well-formed"],
    ["an unbound prefix", "<foo:bar/>", "not-well-formed"],
  ])("rejects %s", (_what, input, condition) => {
    const { stream, out } = collect();
    stream.write(OPEN + input);
    expect(out.errors[0]?.[0]).toBe(condition);
    expect(out.errors).toHaveLength(1);
  });

  it("rejects a DTD before the root", () => {
    const { stream, out } = collect();
    stream.write("<?xml version='1.0'?><!DOCTYPE stream>" + OPEN);
    expect(out.errors[0][0]).toBe("restricted-xml");
  });

  it("accepts character references and CDATA", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message><body>&#x263A;<![CDATA[<b>]]></body></message>");
    expect(out.stanzas[0].getChildText("body")).toBe("☺<b>");
  });

  it("enforces the stanza size limit even when the stanza never ends", () => {
    const { stream, out } = collect({ maxStanzaSize: 1000 });
    stream.write(OPEN + "<message><body>");
    for (let i = 0; i < 10; i++) stream.write("x".repeat(500));
    expect(out.errors).toEqual([["policy-violation", "Stanza larger than 1000 bytes"]]);
    // many small stanzas are fine
    const ok = collect({ maxStanzaSize: 1000 });
    ok.stream.write(OPEN);
    for (let i = 0; i < 100; i++) ok.stream.write("<message><body>" + "y".repeat(500) + "</body></message>");
    expect(ok.out.errors).toEqual([]);
    expect(ok.out.stanzas).toHaveLength(100);
  });

  it.each([
    ["a huge start tag", OPEN + "<message to='", "x"],
    ["a huge stream header", "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='", "x"],
    ["endless whitespace between stanzas", OPEN + "<message/>", " "],
  ])("limits %s too", (_what, start, filler) => {
    const { stream, out } = collect({ maxStanzaSize: 10000 });
    stream.write(start);
    for (let i = 0; i < 40 && out.errors.length === 0; i++) stream.write(filler.repeat(1000));
    expect(out.errors[0]?.[0]).toBe("policy-violation");
  });

  it("enforces the depth limit", () => {
    const { stream, out } = collect({ maxDepth: 5 });
    stream.write(OPEN + "<a><b><c><d><e><f/></e></d></c></b></a>");
    expect(out.errors[0][0]).toBe("policy-violation");
  });

  it("ignores input after the first error", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<a></b>");
    stream.write("<message/>");
    expect(out.errors).toHaveLength(1);
    expect(out.stanzas).toHaveLength(0);
  });

  it("parses RFC 7395 framed messages", () => {
    const { stream, out } = collect({ framing: "framed" });
    stream.write("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    stream.write("<iq xmlns='jabber:client' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    stream.write("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    expect(out.stanzas.map(String)).toEqual([
      "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
      "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
      "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    ]);
  });

  it("ends the stream when the root's closing tag is the wrong one", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message/></stream:wrong>");
    expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
    expect(out.ended).toBe(false);
  });

  it("ignores anything after the end of the stream", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message/></stream:stream>garbage & <more/>");
    expect(out.ended).toBe(true);
    expect(out.errors).toEqual([]);
    expect(out.stanzas).toHaveLength(1);
  });
});

describe("XmlStream on hostile input", () => {
  it("stops parsing at the first limit breach instead of reading the rest of the chunk", () => {
    const { stream, out } = collect({ maxDepth: 64 });
    stream.write(OPEN);
    const before = stream.consumed;
    // 60 KB of nesting in one read: saxes would spend seconds on it (its prefix lookup costs depth²).
    stream.write(Buffer.from("<message>" + "<a>".repeat(20000)));
    expect(out.errors.map((e) => e[0])).toEqual(["policy-violation"]);
    expect(stream.consumed - before).toBeLessThan(4096);
    expect(stream.pending).toBe(0);
  });

  it("stops parsing at the first error", () => {
    const { stream, out } = collect();
    stream.write(OPEN);
    const before = stream.consumed;
    stream.write("<message></body>" + "<message/>".repeat(10000));
    expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
    expect(stream.consumed - before).toBeLessThan(4096);
    expect(out.stanzas).toEqual([]);
  });

  it("parses a large read a slice at a time, giving the event loop back in between", async () => {
    const { stream, out } = collect();
    stream.write(OPEN);
    const read = Buffer.from("<message><body>hi</body></message>".repeat(2000)); // 68 KB, as one socket read
    stream.write(read);
    expect(stream.consumed).toBeLessThan(read.length);
    expect(out.stanzas.length).toBeLessThan(2000);
    await stream.idle();
    expect(out.stanzas).toHaveLength(2000);
    expect(stream.pending).toBe(0);
    expect(out.errors).toEqual([]);
  });

  it("parses everything at once in sync mode (trusted input)", () => {
    const out: Element[] = [];
    const stream = new XmlStream({ stanza: (el) => out.push(el), error: () => {} }, { framing: "stream", sync: true });
    stream.write(OPEN + "<message><body>hi</body></message>".repeat(2000));
    expect(out).toHaveLength(2000);
  });

  it("keeps the order of stanzas across queued reads", async () => {
    const { stream, out } = collect();
    stream.write(OPEN);
    for (let r = 0; r < 5; r++) {
      stream.write(Array.from({ length: 1000 }, (_, i) => `<iq id='${r * 1000 + i}'/>`).join(""));
    }
    await stream.idle();
    expect(out.stanzas.map((s) => Number(s.attrs.id))).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it("reports a backlog while reads arrive faster than they are parsed, and its end", async () => {
    const busy: boolean[] = [];
    let n = 0;
    const stream = new XmlStream(
      { stanza: () => n++, error: () => {}, backlog: (b) => busy.push(b) },
      { framing: "stream" },
    );
    stream.write(OPEN);
    for (let i = 0; i < 4; i++) stream.write("<message/>".repeat(6600));
    expect(busy).toEqual([true]);
    await stream.idle();
    expect(busy).toEqual([true, false]);
    expect(n).toBe(4 * 6600);
  });

  // Stanza size: bytes of UTF-8 from the stanza's '<' to its last '>', wherever the reads split it.
  const stanzaOf = (bytes: number, fill: string) => {
    const head = "<message><body>";
    const tail = "</body></message>";
    const fillBytes = bytes - head.length - tail.length;
    const unit = Buffer.byteLength(fill);
    expect(fillBytes % unit).toBe(0);
    return head + fill.repeat(fillBytes / unit) + tail;
  };

  it.each([
    ["ASCII", "x"],
    ["two-byte characters", "é"],
    ["four-byte characters", "𝄞"],
  ])("counts the stanza size in bytes exactly, however the reads split it (%s)", (_what, fill) => {
    const limit = 1000 + 32 + 4 * 3; // divisible by 1, 2 and 4 once the markup is taken off
    const fits = Buffer.from(stanzaOf(limit, fill));
    expect(fits.length).toBe(limit);
    const over = Buffer.from(stanzaOf(limit + 4, fill));
    for (let cut = 0; cut <= fits.length; cut += 7) {
      const ok = collect({ maxStanzaSize: limit });
      ok.stream.write(OPEN + "  \n ");
      ok.stream.write(fits.subarray(0, cut));
      ok.stream.write(fits.subarray(cut));
      ok.stream.write(" ");
      ok.stream.write(fits);
      expect(ok.out.errors).toEqual([]);
      expect(ok.out.stanzas).toHaveLength(2);
      const no = collect({ maxStanzaSize: limit });
      no.stream.write(OPEN);
      no.stream.write(over.subarray(0, cut));
      no.stream.write(over.subarray(cut));
      expect(no.out.errors).toEqual([["policy-violation", `Stanza larger than ${limit} bytes`]]);
      expect(no.out.stanzas).toHaveLength(0);
    }
  });

  it("refuses a stanza one byte over the limit that arrives in one read, and accepts one at the limit in many", async () => {
    const limit = 10_000;
    const one = collect({ maxStanzaSize: limit });
    one.stream.write(OPEN + stanzaOf(limit + 1, "x"));
    await one.stream.idle();
    expect(one.out.errors[0]?.[0]).toBe("policy-violation");
    const many = collect({ maxStanzaSize: limit });
    many.stream.write(OPEN);
    const s = Buffer.from(stanzaOf(limit, "x"));
    for (let i = 0; i < s.length; i += 333) many.stream.write(s.subarray(i, i + 333));
    expect(many.out.errors).toEqual([]);
    expect(many.out.stanzas).toHaveLength(1);
  });

  it.each([
    ["in text", "<message><body>fish & chips</body></message>"],
    ["at the end of text", "<message><body>fish &"],
    ["with a long name", "<message><body>&" + "a".repeat(40)],
    ["in an attribute", "<message to='a & b'/>"],
    ["without a name", "<message><body>&;</body></message>"],
    ["as a bad character reference", "<message><body>&#xZZ;</body></message>"],
    ["as a character reference to NUL", "<message><body>&#0;</body></message>"],
  ])("refuses a stray '&' (%s) at once with <not-well-formed/>", (_what, input) => {
    const { stream, out } = collect();
    stream.write(OPEN + input + "<message><body>later</body></message>");
    if (input.endsWith("&")) {
      // nothing can follow '&' but a name: the very next byte decides
      expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
    }
    expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
    expect(out.stanzas).toEqual([]);
  });

  it("refuses a stray '&' that ends a read as soon as the next byte is not part of a name", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message><body>fish &");
    expect(out.errors).toEqual([]);
    stream.write(" chips");
    expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
  });

  it.each([
    ["a byte that never starts UTF-8", [0xff]],
    ["a lone continuation byte", [0x80]],
    ["an overlong '/'", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["a truncated sequence followed by ASCII", [0xe2, 0x82, 0x41]],
  ])("ends the stream on invalid UTF-8: %s", (_what, bytes) => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message><body>");
    stream.write(Buffer.from(bytes));
    stream.write("</body></message>");
    expect(out.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    expect(out.stanzas).toEqual([]);
  });

  it("refuses an encoding other than UTF-8 declared in the XML declaration", () => {
    const { stream, out } = collect();
    stream.write("<?xml version='1.0' encoding='ISO-8859-1'?>" + OPEN.slice("<?xml version='1.0'?>".length));
    expect(out.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    expect(out.starts).toEqual([]);
  });

  it.each([
    ["a comment", "<message><!-- and then nothing more"],
    ["a processing instruction", "<message><?php echo"],
    ["a DTD", "<!DOCTYPE x [ <!ENTITY a 'b'"],
  ])("refuses %s as soon as it starts, not when it ends", (_what, input) => {
    const { stream, out } = collect();
    stream.write(OPEN + input);
    expect(out.errors.map((e) => e[0])).toEqual(["restricted-xml"]);
  });

  it("refuses text between stanzas before any '<' follows it", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<message/> \n hello");
    expect(out.errors.map((e) => e[0])).toEqual(["not-well-formed"]);
    expect(out.stanzas).toHaveLength(1);
  });

  it("limits the attributes of one element", () => {
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join("");
    const ok = collect({ maxAttributes: 20 });
    ok.stream.write(OPEN + `<message${attrs(20)}/>`);
    expect(ok.out.errors).toEqual([]);
    const { stream, out } = collect({ maxAttributes: 20 });
    stream.write(OPEN + `<message${attrs(21)}/>`);
    expect(out.errors.map((e) => e[0])).toEqual(["policy-violation"]);
  });

  it("limits the elements of one stanza", () => {
    const ok = collect({ maxElements: 50 });
    ok.stream.write(OPEN + `<message>${"<a/>".repeat(49)}</message><message>${"<a><b/></a>".repeat(24)}<c/></message>`);
    expect(ok.out.errors).toEqual([]);
    expect(ok.out.stanzas).toHaveLength(2);
    const { stream, out } = collect({ maxElements: 50 });
    stream.write(OPEN + `<message>${"<a/>".repeat(50)}</message>`);
    expect(out.errors.map((e) => e[0])).toEqual(["policy-violation"]);
  });

  it("resolves prefixes declared anywhere up the tree", () => {
    const { stream, out } = collect();
    stream.write(OPEN + "<iq xmlns:a='urn:a'><x xmlns:b='urn:b'><a:y><b:z a:k='1'><w/></b:z></a:y></x></iq>");
    expect(out.errors).toEqual([]);
    expect(String(out.stanzas[0])).toBe("<iq><x><y xmlns='urn:a'><z xmlns='urn:b' xmlns:a='urn:a' a:k='1'><w xmlns='jabber:client'/></z></y></x></iq>");
  });

  describe("RFC 7395 framing", () => {
    it("refuses a message that is not one complete element", () => {
      for (const msg of ["<message>", "<message to='a", "<message/>trailing", "<message><body>a & b"]) {
        const { stream, out } = collect({ framing: "framed" });
        stream.write(msg);
        stream.write("<iq id='next'/>");
        expect(out.errors.map((e) => e[0]), msg).toEqual(["not-well-formed"]);
        expect(out.stanzas.filter((el) => el.name === "iq"), msg).toEqual([]);
      }
    });

    it("applies the same limits", () => {
      const deep = collect({ framing: "framed" });
      deep.stream.write("<message>" + "<a>".repeat(20000) + "</a>".repeat(20000) + "</message>");
      expect(deep.out.errors.map((e) => e[0])).toEqual(["policy-violation"]);
      const big = collect({ framing: "framed", maxStanzaSize: 1000 });
      big.stream.write(stanzaOf(1000, "é"));
      big.stream.write(stanzaOf(1002, "é"));
      expect(big.out.stanzas).toHaveLength(1);
      expect(big.out.errors.map((e) => e[0])).toEqual(["policy-violation"]);
      const utf = collect({ framing: "framed" });
      utf.stream.write(Buffer.concat([Buffer.from("<message><body>"), Buffer.from([0xc3]), Buffer.from("</body></message>")]));
      expect(utf.out.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    });

    it("refuses a message that ends inside a UTF-8 sequence", () => {
      const { stream, out } = collect({ framing: "framed" });
      const msg = Buffer.from("<message><body>é</body></message>");
      stream.write(msg.subarray(0, 16));
      expect(out.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    });
  });
});

describe("XmlStream memory", () => {
  it("keeps its saxes parser a fast-properties object (every connection has one)", () => {
    // A dictionary-mode parser costs about 3 KiB more per connection; V8 tells which mode an
    // object is in only through its natives syntax, enabled here for this one function.
    setFlagsFromString("--allow-natives-syntax");
    const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: object) => boolean;
    const { stream, out } = collect();
    stream.write(OPEN + "<message to='a@b'><body>hi</body></message>");
    expect(out.stanzas).toHaveLength(1);
    expect(hasFastProperties((stream as unknown as { parser: object }).parser)).toBe(true);
  });
});
