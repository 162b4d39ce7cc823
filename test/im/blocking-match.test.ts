// XEP-0191 pure parts: JID matching, edits, reading requests.
import { describe, expect, it } from "vitest";
import { Blocklist, readItems } from "../../modules/mod_blocklist/blocklist.js";
import { Element } from "../../src/xml/stanza.js";

const list = (...jids: string[]) => new Blocklist({ items: jids.map((jid) => ({ jid, since: 1 })) });

describe("Blocklist.blocks (XEP-0191 JID matching)", () => {
  it("a bare JID blocks it and every resource of it", () => {
    const l = list("romeo@montague.lit");
    expect(l.blocks("romeo@montague.lit")).toBe(true);
    expect(l.blocks("romeo@montague.lit/orchard")).toBe(true);
    expect(l.blocks("benvolio@montague.lit")).toBe(false);
    expect(l.blocks("montague.lit")).toBe(false);
  });

  it("a full JID blocks only that resource", () => {
    const l = list("romeo@montague.lit/orchard");
    expect(l.blocks("romeo@montague.lit/orchard")).toBe(true);
    expect(l.blocks("romeo@montague.lit/garden")).toBe(false);
    expect(l.blocks("romeo@montague.lit")).toBe(false);
  });

  it("a domain blocks the domain and every JID at it; domain/resource blocks that resource at the domain (checked in the XEP-0016 order)", () => {
    const l = list("montague.lit");
    expect(l.blocks("montague.lit")).toBe(true);
    expect(l.blocks("romeo@montague.lit/orchard")).toBe(true);
    expect(l.blocks("montague.lit/service")).toBe(true);
    expect(l.blocks("capulet.lit")).toBe(false);
    const r = list("montague.lit/bot");
    expect(r.blocks("montague.lit/bot")).toBe(true);
    expect(r.blocks("montague.lit")).toBe(false);
    expect(r.blocks("romeo@montague.lit/bot")).toBe(true); // checked third: <domain/resource>
    expect(r.blocks("romeo@montague.lit/orchard")).toBe(false);
  });

  it("edits return a new list; an empty unblock clears it; the order of blocking is kept", () => {
    const a = list("b@x", "a@x");
    const b = a.edit("block", ["c@x", "a@x"], 5);
    expect(a.jids()).toEqual(["b@x", "a@x"]);
    expect(b.jids()).toEqual(["b@x", "a@x", "c@x"]);
    expect(b.edit("unblock", ["a@x"], 6).jids()).toEqual(["b@x", "c@x"]);
    expect(b.edit("unblock", [], 6).size).toBe(0);
    expect(new Blocklist(b.toStored()).jids()).toEqual(b.jids());
  });
});

describe("readItems", () => {
  const req = (name: string, jids: Array<string | undefined>) => {
    const el = new Element(name, { xmlns: "urn:xmpp:blocking" });
    for (const j of jids) el.children.push(new Element("item", j === undefined ? {} : { jid: j }));
    return el;
  };

  it("preps JIDs and drops duplicates", () => {
    expect(readItems(req("block", ["Romeo@Montague.LIT", "romeo@montague.lit"]))).toEqual({ ok: true, jids: ["romeo@montague.lit"] });
  });

  it("a block without items is a bad request; an unblock without items is unblock-all", () => {
    expect(readItems(req("block", []))).toEqual({ ok: false, condition: "bad-request" });
    expect(readItems(req("unblock", []))).toEqual({ ok: true, jids: [] });
  });

  it("an invalid or missing jid is jid-malformed", () => {
    expect(readItems(req("block", ["a@b@c"]))).toEqual({ ok: false, condition: "jid-malformed" });
    expect(readItems(req("unblock", [undefined]))).toEqual({ ok: false, condition: "jid-malformed" });
  });
});
