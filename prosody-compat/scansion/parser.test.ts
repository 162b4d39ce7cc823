import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dedent, parseScript, parseVar, parseXmlBlock, ScriptError, splitJid, substituteVars, type Step } from "./parser.js";
import { sharedDir } from "../../test/helpers/shared.js";

const { path: SHARED, available } = sharedDir("scansion", "the parser tests on the shared scripts are", process.env.SCANSION_DIR);

function sharedScripts(): string[] {
  const out: string[] = [];
  for (const dir of ["core", "pep", "pubsub"]) {
    for (const f of readdirSync(join(SHARED, dir))) if (f.endsWith(".scs")) out.push(join(SHARED, dir, f));
  }
  return out.sort();
}

const load = (rel: string) => parseScript(readFileSync(join(SHARED, rel), "utf8"), rel);
const count = (steps: Step[], action: Step["action"]) => steps.filter((s) => s.action === action).length;

describe.skipIf(!available)("the shared scripts (in ../shared/scansion)", () => {
  it("all 32 parse", () => {
    const files = sharedScripts();
    expect(files).toHaveLength(32);
    for (const f of files) {
      const s = parseScript(readFileSync(f, "utf8"), f);
      expect(s.steps.length, f).toBeGreaterThan(0);
      expect(s.title, f).not.toBe("");
    }
  });

  it("basic.scs: title, one client, four steps with their lines", () => {
    const s = load("core/basic.scs");
    expect(s.title).toBe("Basic login and initial presence");
    expect([...s.clients.keys()]).toEqual(["Romeo"]);
    expect(s.clients.get("Romeo")).toMatchObject({ jid: "user@localhost", bareJid: "user@localhost", password: "password", line: 3 });
    expect(s.steps.map((x) => [x.action, x.line])).toEqual([
      ["connects", 9],
      ["sends", 11],
      ["receives", 14],
      ["disconnects", 17],
    ]);
    const send = s.steps[1] as Extract<Step, { action: "sends" }>;
    expect(send.xml).toBe("<presence/>");
    expect(send.xmlLine).toBe(12);
  });

  it("basic_message.scs: names with apostrophes, resource property, description", () => {
    const s = load("core/basic_message.scs");
    expect([...s.clients.keys()]).toEqual(["Romeo", "Juliet", "Juliet's phone"]);
    expect(s.clients.get("Juliet's phone")).toMatchObject({ bareJid: "juliet@localhost", resource: "mobile" });
    expect(s.steps[2]).toMatchObject({ action: "connects", client: "Juliet's phone", line: 25 });
    expect(count(s.steps, "connects")).toBe(3);
    expect(count(s.steps, "disconnects")).toBe(3);
    expect(count(s.steps, "receives")).toBe(14);
    expect(s.steps.find((x) => x.action === "receives" && x.client === "Juliet's phone")?.line).toBe(54);
  });

  it("issue1121.scs: sends/receives without a colon", () => {
    const s = load("core/issue1121.scs");
    expect(s.steps[1]).toMatchObject({ action: "sends", client: "Romeo", line: 15, xml: "<presence/>" });
    expect(s.steps[2]).toMatchObject({ action: "receives", client: "Romeo", line: 18 });
    expect(count(s.steps, "sends")).toBe(7);
    expect(count(s.steps, "receives")).toBe(11);
  });

  it("pubsub_basic.scs: a block commented out with -- is skipped, // comments too", () => {
    const s = load("pubsub/pubsub_basic.scs");
    expect(s.steps.map((x) => `${x.client} ${x.action}@${x.line}`).slice(0, 6)).toEqual([
      "Romeo connects@15",
      "Romeo sends@17",
      "Romeo receives@24",
      "Juliet connects@27",
      "Juliet sends@39",
      "Juliet receives@46",
    ]);
  });

  it("full JIDs request a resource (version.scs); tags, title and description", () => {
    const v = load("core/version.scs");
    expect(v.clients.get("Romeo")).toMatchObject({ bareJid: "romeo@localhost", resource: "dfaZpuxV" });
    const sci = load("core/server_contact_info.scs");
    expect(sci.title).toBe("XEP-0157: Contact Addresses for XMPP Services");
    expect(sci.description).toBe("mod_server_contact_info");
  });

  it("server_contact_info.scs: the header-less block is glued to the preceding sends (with a warning)", () => {
    const s = load("core/server_contact_info.scs");
    const send = s.steps.filter((x) => x.action === "sends")[1] as Extract<Step, { action: "sends" }>;
    expect(send.line).toBe(57);
    expect(parseXmlBlock(send.xml)).toHaveLength(2);
    expect(s.warnings.join("\n")).toMatch(/server_contact_info\.scs:57: the sends: block holds 2 elements/);
    expect(s.steps.at(-1)).toMatchObject({ action: "disconnects", line: 81 });
  });

  it("presence_preapproval.scs: the second disconnect of Bob is a warning", () => {
    const s = load("core/presence_preapproval.scs");
    expect(s.warnings).toEqual([expect.stringMatching(/:74: Bob disconnects but is not connected/)]);
  });

  it("multi-line attributes, entities and xmlns:stream declarations parse (bookmarks2, pubsub_max_items)", () => {
    const b = load("pep/bookmarks2.scs");
    const pub = b.steps.find((x) => x.action === "sends" && x.xml.includes("theplay")) as Extract<Step, { action: "sends" }>;
    const conf = parseXmlBlock(pub.xml)[0].getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish")!.getChild("item")!.firstElement()!;
    expect(conf.attrs).toMatchObject({ xmlns: "urn:xmpp:bookmarks:1", name: "The Play's the Thing", autojoin: "true" });
    const m = load("pubsub/pubsub_max_items.scs");
    const first = m.steps.find((x) => x.action === "sends") as Extract<Step, { action: "sends" }>;
    const el = parseXmlBlock(first.xml)[0];
    expect(el.name).toBe("presence");
    expect(el.attrs).toEqual({ id: ":7IoqYcT3191rfk_dZGo2" });
  });

  it("scansion:strict needs no prefix declaration", () => {
    const s = load("core/version.scs");
    const recv = s.steps.find((x) => x.action === "receives") as Extract<Step, { action: "receives" }>;
    const q = parseXmlBlock(recv.xml)[0].firstElement()!;
    expect(q.attrs["scansion:strict"]).toBe("true");
  });
});

describe("syntax", () => {
  const header = "# T\n\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n\n-----\n\n";

  it("receives: nothing, inline XML, spaces for indentation, CRLF", () => {
    const s = parseScript(header + "Romeo connects\r\nRomeo receives: nothing\r\nRomeo sends: <presence/>\r\nRomeo receives:\r\n    <presence>\r\n      <status>x</status>\r\n    </presence>\r\n", "t.scs");
    expect(s.steps.map((x) => x.action)).toEqual(["connects", "receives-nothing", "sends", "receives"]);
    expect((s.steps[2] as { xml: string }).xml).toBe("<presence/>");
    expect((s.steps[3] as { xml: string }).xml).toBe("<presence>\n  <status>x</status>\n</presence>");
  });

  it("blank lines inside an XML block are part of it", () => {
    const s = parseScript(header + "Romeo sends:\n\t<message>\n\n\t\t<body>x</body>\n\t</message>\n\nRomeo disconnects\n", "t.scs");
    expect(parseXmlBlock((s.steps[0] as { xml: string }).xml)[0].getChildText("body")).toBe("x");
    expect(s.steps[1]).toMatchObject({ action: "disconnects", line: 15 });
  });

  it("comments with #, // and -- between actions", () => {
    const s = parseScript(header + "# a\n// b\n-- c\n--\nRomeo connects\n", "t.scs");
    expect(s.steps).toEqual([{ action: "connects", client: "Romeo", line: 13 }]);
  });

  it("tags", () => {
    const s = parseScript("# Title\n# Desc 1\n# Desc 2\n## tag-a\n## key: value\n\n[Client] R\n\tjid: r@h\n\tpassword: p\n\nR connects\n", "t.scs");
    expect(s.title).toBe("Title");
    expect(s.description).toBe("Desc 1\nDesc 2");
    expect(s.tags).toEqual(["tag-a", "key: value"]);
  });

  it("connect_host and connect_port", () => {
    const s = parseScript("[Client] R\n\tjid: r@h\n\tpassword: p\n\tconnect_host: 127.0.0.2\n\tconnect_port: 5299\nR connects\n", "t.scs");
    expect(s.clients.get("R")).toMatchObject({ connectHost: "127.0.0.2", connectPort: 5299 });
  });

  const errors: [string, string, RegExp][] = [
    ["unknown client", "Mercutio connects\n", /t\.scs:9: "Mercutio" is not a declared client/],
    ["unknown verb", "Romeo dances\n", /t\.scs:9: cannot understand this line/],
    ["no XML after sends", "Romeo sends:\nRomeo connects\n", /t\.scs:9: "Romeo sends:" is not followed by an indented XML block/],
    ["malformed XML", "Romeo sends:\n\t<presence>\n", /t\.scs:10: invalid XML/],
    ["mismatched tags", "Romeo receives:\n\t<a><b></a>\n", /t\.scs:10: invalid XML/],
    ["two elements in receives", "Romeo receives:\n\t<a/>\n\t<b/>\n", /t\.scs:10: the receives: block holds 2 elements/],
    ["unknown variable name", "Romeo sends:\n\t<presence to=\"${Tybalt's JID}\"/>\n", /t\.scs:10: .*undeclared client "Tybalt"/],
    ["unknown variable form", "Romeo sends:\n\t<presence to=\"${Romeo's address}\"/>\n", /t\.scs:10: unknown variable/],
    ["variable on a later line", "Romeo sends:\n\t<presence>\n\t\t<x v=\"${X's JID}\"/>\n\t</presence>\n", /t\.scs:11: /],
    ["text after connects", "Romeo connects now\n", /t\.scs:9: unexpected text after "connects"/],
    ["stray indented line", "Romeo connects\n\t<presence/>\n", /t\.scs:10: indented line outside/],
  ];
  for (const [what, body, re] of errors) {
    it(`error: ${what}`, () => {
      expect(() => parseScript(header + body, "t.scs")).toThrow(re);
      try {
        parseScript(header + body, "t.scs");
      } catch (e) {
        expect(e).toBeInstanceOf(ScriptError);
      }
    });
  }

  it("declaration errors", () => {
    expect(() => parseScript("[Client] R\n\tpassword: p\nR connects\n", "d.scs")).toThrow(/d\.scs:1: R has no jid/);
    expect(() => parseScript("[Client] R\n\tjid: r@h\n\tcolour: red\n", "d.scs")).toThrow(/d\.scs:3: unknown property "colour"/);
    expect(() => parseScript("[Component] C\n\tjid: c.h\n", "d.scs")).toThrow(/d\.scs:1: unsupported character class \[Component\]/);
    expect(() => parseScript("[Client] R\n\tjid: r@h/a\n\tresource: b\n", "d.scs")).toThrow(/d\.scs:3: resource "b" conflicts/);
    expect(() => parseScript("[Client] R\n\tjid: r@h\n[Client] R\n\tjid: r@h\n", "d.scs")).toThrow(/d\.scs:3: client R declared twice/);
    expect(() => parseScript("# only a title\n", "d.scs")).toThrow(/no \[Client\] declared/);
    expect(() => parseScript("[Client] R\n\tjid: r@h\n\tconnect_port: x\n", "d.scs")).toThrow(/invalid connect_port/);
  });
});

describe("helpers", () => {
  it("variables", () => {
    expect(parseVar("Juliet's phone's full JID")).toEqual({ name: "Juliet's phone", full: true });
    expect(parseVar("Romeo's JID")).toEqual({ name: "Romeo", full: false });
    expect(parseVar("nonsense")).toBeUndefined();
    const out = substituteVars(`<a to="\${Romeo's JID}" b="\${Juliet's phone's full JID}"/>`, (ref) => (ref.full ? `j'@h/x&y` : "r@h"));
    expect(out).toBe(`<a to="r@h" b="j&#39;@h/x&#38;y"/>`);
    expect(parseXmlBlock(out)[0].attrs.b).toBe("j'@h/x&y");
  });

  it("JIDs and dedent", () => {
    expect(splitJid("a@b/c/d")).toEqual({ local: "a", domain: "b", bare: "a@b", resource: "c/d" });
    expect(splitJid("b")).toEqual({ local: undefined, domain: "b", bare: "b", resource: undefined });
    expect(splitJid("@b")).toBeUndefined();
    expect(dedent(["\t\t<a>", "", "\t\t\t<b/>", "\t\t</a>"])).toEqual(["<a>", "", "\t<b/>", "</a>"]);
  });

  it("XML blocks: top-level elements are jabber:client, entities work", () => {
    const [el] = parseXmlBlock("<message xmlns:stream='http://etherx.jabber.org/streams'><body>it&apos;s &amp; &lt;</body><x xmlns='urn:x'/></message>");
    expect(el.attrs).toEqual({});
    expect(el.getChildText("body")).toBe("it's & <");
    expect(el.getChild("x", "urn:x")).toBeDefined();
    expect(() => parseXmlBlock("")).toThrow(/no XML element/);
    expect(() => parseXmlBlock("<a>")).toThrow();
  });
});
