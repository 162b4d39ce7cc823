import { describe, expect, it } from "vitest";
import { parseXmlBlock } from "./parser.js";
import { matchStanza, type MatchResult } from "./matcher.js";
import { XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";

/** Parse a stanza as a client receives it from a server (through Herald's stream parser). */
function received(xml: string): Element {
  const out: Element[] = [];
  const s = new XmlStream({ stanza: (e) => out.push(e), error: (_c, t) => { throw new Error(t); } }, { framing: "stream" });
  s.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${xml}`);
  return out[0];
}

function m(expected: string, got: string, captures?: Map<string, string>): MatchResult {
  return matchStanza(parseXmlBlock(expected)[0], received(got), { captures });
}

const ok = (expected: string, got: string) => expect(m(expected, got)).toEqual({ ok: true });
function bad(expected: string, got: string, difference?: RegExp): void {
  const r = m(expected, got);
  expect(r.ok, `should not match:\n${expected}\n${got}`).toBe(false);
  if (difference && !r.ok) expect(r.difference).toMatch(difference);
}

describe("loose mode (stanza and its jabber:client children)", () => {
  it("extra received attributes and children are ignored", () => {
    ok(`<presence/>`, `<presence from='a@b/c' to='a@b/c' xml:lang='en'><priority>1</priority><x xmlns='urn:x'/></presence>`);
    ok(`<iq type="result" id="x"/>`, `<iq type='result' id='x' from='h'><query xmlns='jabber:iq:roster'><item jid='n@h'/></query></iq>`);
  });

  it("every expected attribute must be there with the same value", () => {
    bad(`<iq type="result" id="x"/>`, `<iq type='error' id='x'/>`, /^iq: attribute type expected 'result' got 'error'$/);
    bad(`<presence to="a@b"/>`, `<presence/>`, /^presence: attribute to missing \(expected 'a@b'\)$/);
  });

  it("the element name and namespace must match", () => {
    bad(`<presence/>`, `<message/>`, /^presence: expected element <presence xmlns='jabber:client'> got <message xmlns='jabber:client'>$/);
  });

  it("children: order ignored, each received child used once", () => {
    ok(`<message><body>b</body><subject>s</subject></message>`, `<message><subject>s</subject><thread>t</thread><body>b</body></message>`);
    bad(`<message><body>b</body></message>`, `<message><subject>s</subject></message>`, /^message: missing child <body>$/);
    bad(`<presence><status>a</status><status>a</status></presence>`, `<presence><status>a</status></presence>`, /one-to-one/);
    ok(`<presence><status>a</status><status>b</status></presence>`, `<presence><status>b</status><status>a</status></presence>`);
  });

  it("text of un-namespaced children must be equal; an element without text accepts any", () => {
    ok(`<message><body>Hello</body></message>`, `<message><body>Hello</body></message>`);
    bad(`<message><body>Hello</body></message>`, `<message><body>Hello!</body></message>`, /^message\/body: text expected 'Hello' got 'Hello!'$/);
    ok(`<presence><status/></presence>`, `<presence><status>Away</status></presence>`);
  });

  it("reports the closest candidate among several", () => {
    bad(
      `<message><x xmlns='urn:x' a='1'><y>2</y></x></message>`,
      `<message><x xmlns='urn:x' a='9'/><x xmlns='urn:x' a='1'><y>3</y></x></message>`,
      /^message: no received <x> matches <x xmlns='urn:x' a='1'> \(2 candidates; closest: message\/x\/y: text expected '2' got '3'\)$/,
    );
  });
});

describe("strict mode (namespaced payloads and their subtrees)", () => {
  const exp = `<iq type='result' id='1'><query xmlns='urn:q'><item id='a'>one</item><item id='b'>two</item></query></iq>`;
  it("identical payload matches", () => ok(exp, `<iq type='result' id='1' from='h'><query xmlns='urn:q'><item id='a'>one</item><item id='b'>two</item></query></iq>`));
  it("an extra attribute fails", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q' ver='2'><item id='a'>one</item><item id='b'>two</item></query></iq>`, /^iq\/query: unexpected attribute ver='2' \(strict\)$/));
  it("an extra attribute deep inside fails", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='a' p='x'>one</item><item id='b'>two</item></query></iq>`, /^iq\/query\/item\[1\]: unexpected attribute p='x'/));
  it("an extra child fails", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='a'>one</item><item id='b'>two</item><item id='c'/></query></iq>`, /^iq\/query: unexpected child <item id='c'> \(strict: expected 2 child element\(s\), got 3\)$/));
  it("a missing child fails", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='a'>one</item></query></iq>`, /^iq\/query: missing child <item id='b'>/));
  it("order matters", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='b'>two</item><item id='a'>one</item></query></iq>`, /^iq\/query\/item\[1\]: attribute id expected 'a' got 'b'$/));
  it("a different child name fails", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='a'>one</item><entry id='b'>two</entry></query></iq>`, /child 2 expected <item id='b'> got <entry/));
  it("text must be equal", () =>
    bad(exp, `<iq type='result' id='1'><query xmlns='urn:q'><item id='a'>uno</item><item id='b'>two</item></query></iq>`, /^iq\/query\/item\[1\]: text expected 'one' got 'uno'$/));
  it("an element written without text accepts any text (http_upload.scs's Authorization header)", () => {
    ok(`<iq><slot xmlns='urn:s'><put url='{scansion:any}'><header name='Authorization'></header></put></slot></iq>`, `<iq><slot xmlns='urn:s'><put url='u'><header name='Authorization'>Bearer x</header></put></slot></iq>`);
    bad(`<iq><v xmlns='urn:v'><version/></v></iq>`, `<iq><v xmlns='urn:v'><version a='1'>1.0</version></v></iq>`, /unexpected attribute a='1'/);
  });
  it("un-namespaced children of a stanza stay loose; a payload below them is strict", () => {
    ok(`<message><body>x</body></message>`, `<message><body a='1'>x</body></message>`);
    bad(`<iq><error type='cancel'><c xmlns='urn:c'/></error></iq>`, `<iq><error type='cancel'><c xmlns='urn:c' z='1'/></error></iq>`, /^iq\/error\/c: unexpected attribute z='1'/);
    ok(`<iq><error type='cancel'/></iq>`, `<iq><error type='cancel' by='h'><c xmlns='urn:c'/></error></iq>`);
  });
  it("a jabber:client element inside a payload is strict (forwarded messages)", () =>
    bad(
      `<message><f xmlns='urn:forward'><message xmlns='jabber:client' type='chat'/></f></message>`,
      `<message><f xmlns='urn:forward'><message xmlns='jabber:client' type='chat' id='x'/></f></message>`,
      /^message\/f\/message: unexpected attribute id='x'/,
    ));
});

describe("scansion:strict", () => {
  it("false on a payload makes it and its subtree loose", () => {
    ok(
      `<iq><query xmlns='urn:d' scansion:strict='false'><feature var='a'/><x xmlns='urn:x'><f v='1'/></x></query></iq>`,
      `<iq><query xmlns='urn:d' node='n'><feature var='z'/><x xmlns='urn:x' t='r'><f v='0'/><f v='1' w='2'/></x><feature var='a'/></query></iq>`,
    );
    bad(`<iq><query xmlns='urn:d' scansion:strict='false'><feature var='a'/></query></iq>`, `<iq><query xmlns='urn:d'><feature var='b'/></query></iq>`, /missing|attribute var/);
  });
  it("true on a stanza makes it strict; false again below it is honoured", () => {
    bad(`<presence scansion:strict='true'/>`, `<presence from='a@b'/>`, /^presence: unexpected attribute from='a@b' \(strict\)$/);
    ok(
      `<iq><q xmlns='urn:v' scansion:strict='true'><name>P</name><version scansion:strict='false'/></q></iq>`,
      `<iq from='h'><q xmlns='urn:v'><name>P</name><version>0.12</version></q></iq>`,
    );
    bad(
      `<iq><q xmlns='urn:v' scansion:strict='true'><name>P</name><version scansion:strict='false'/></q></iq>`,
      `<iq><q xmlns='urn:v'><name>P</name><version>0.12</version><os>Linux</os></q></iq>`,
      /^iq\/q: unexpected child <os>/,
    );
  });
  it("is not compared as an attribute", () => ok(`<iq><q xmlns='urn:q' scansion:strict='true'/></iq>`, `<iq><q xmlns='urn:q'/></iq>`));
});

describe("wildcards and captures", () => {
  it("{scansion:any}: present with any value", () => {
    ok(`<iq id='{scansion:any}'/>`, `<iq id='x7'/>`);
    bad(`<iq id='{scansion:any}'/>`, `<iq/>`, /attribute id missing/);
    ok(`<m><d xmlns='urn:d' stamp='{scansion:any}'/></m>`, `<m><d xmlns='urn:d' stamp='2020'/></m>`);
  });
  it("{scansion:capture:NAME}: first records, later ones must equal, across stanzas", () => {
    const caps = new Map<string, string>();
    expect(m(`<iq><r xmlns='urn:r' id='{scansion:capture:first}'/></iq>`, `<iq><r xmlns='urn:r' id='abc'/></iq>`, caps)).toEqual({ ok: true });
    expect(caps.get("first")).toBe("abc");
    expect(m(`<message><r xmlns='urn:r' id='{scansion:capture:first}'/></message>`, `<message><r xmlns='urn:r' id='abc'/></message>`, caps)).toEqual({ ok: true });
    const r = m(`<message><r xmlns='urn:r' id='{scansion:capture:first}'/></message>`, `<message><r xmlns='urn:r' id='abd'/></message>`, caps);
    expect(r).toEqual({ ok: false, difference: "message/r: attribute id expected 'abc' (captured as first) got 'abd'" });
  });
  it("a failed match records nothing", () => {
    const caps = new Map<string, string>();
    expect(m(`<iq type='result'><r xmlns='urn:r' id='{scansion:capture:c}'/></iq>`, `<iq type='error'><r xmlns='urn:r' id='zz'/></iq>`, caps).ok).toBe(false);
    expect(caps.size).toBe(0);
  });
  it("wildcards also work as text", () => {
    ok(`<iq><q xmlns='urn:q'><v>{scansion:any}</v></q></iq>`, `<iq><q xmlns='urn:q'><v>42</v></q></iq>`);
  });
});

describe("namespaces and whitespace", () => {
  it("namespaces are compared by URI, not by prefix or redundant declarations", () => {
    ok(`<iq><query xmlns='urn:d'><identity xmlns='urn:d' category='account'/></query></iq>`, `<iq><query xmlns='urn:d'><identity category='account'/></query></iq>`);
    ok(`<iq><p:query xmlns:p='urn:d'><p:item/></p:query></iq>`, `<iq><query xmlns='urn:d'><item/></query></iq>`);
    bad(`<iq><query xmlns='urn:d'/></iq>`, `<iq><query xmlns='urn:e'/></iq>`, /missing child <query xmlns='urn:d'>/);
    bad(`<iq><q xmlns='urn:q'><item/></q></iq>`, `<iq><q xmlns='urn:q'><item xmlns='urn:other'/></q></iq>`, /child 1 expected <item> got <item xmlns='urn:other'>/);
    ok(`<iq xmlns:stream='http://etherx.jabber.org/streams' id='1'/>`, `<iq id='1'/>`);
  });
  it("prefixed attributes compare by namespace URI", () => {
    ok(`<m xmlns:a='urn:a'><x xmlns='urn:x' a:k='v'/></m>`, `<m><x xmlns='urn:x' xmlns:b='urn:a' b:k='v'/></m>`);
    bad(`<m xmlns:a='urn:a'><x xmlns='urn:x' a:k='v'/></m>`, `<m><x xmlns='urn:x' xmlns:b='urn:b' b:k='v'/></m>`);
  });
  it("indentation is ignored on both sides", () => {
    ok(`<iq>\n  <q xmlns='urn:q'>\n    <i a='1'/>\n  </q>\n</iq>`, `<iq><q xmlns='urn:q'>\n\t<i a='1'/>\n</q></iq>`);
    ok(`<iq><q xmlns='urn:q'><fin/></q></iq>`, `<iq><q xmlns='urn:q'><fin>  \n </fin></q></iq>`);
  });
});
