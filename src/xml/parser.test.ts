import { describe, expect, it } from "vitest";
import { XmlStream, type StreamErrorCondition } from "./parser.js";
import type { Element } from "./stanza.js";

const OPEN = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

function collect(opts: { framing?: "stream" | "framed"; maxStanzaSize?: number; maxDepth?: number } = {}) {
  const out = { starts: [] as Record<string, string>[], stanzas: [] as Element[], errors: [] as [StreamErrorCondition, string][], ended: false };
  const stream = new XmlStream(
    {
      streamStart: (attrs) => out.starts.push(attrs),
      stanza: (el) => out.stanzas.push(el),
      streamEnd: () => (out.ended = true),
      error: (c, t) => out.errors.push([c, t]),
    },
    { framing: opts.framing ?? "stream", maxStanzaSize: opts.maxStanzaSize, maxDepth: opts.maxDepth },
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
});
