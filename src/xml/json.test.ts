import { describe, expect, it } from "vitest";
import { Element } from "./stanza.js";
import { elementFromJson, elementToJson, upgradeElementJson } from "./json.js";
import type { Json } from "../storage/types.js";

const message = () =>
  new Element("message", { xmlns: "jabber:client", to: "a@b", "xml:lang": "en" }, [
    new Element("body", {}, ["hi ", new Element("b", { xmlns: "urn:x" }, ["there"]), " & bye"]),
    new Element("x"),
  ]);

describe("elements as JSON (the stores' one form)", () => {
  it("is [name, attrs?, ...children]: attributes left out when there are none, text and elements in order", () => {
    const el = message();
    expect(el.toString()).toBe("<message xmlns='jabber:client' to='a@b' xml:lang='en'><body>hi <b xmlns='urn:x'>there</b> &amp; bye</body><x/></message>");
    expect(elementToJson(el)).toEqual([
      "message",
      { xmlns: "jabber:client", to: "a@b", "xml:lang": "en" },
      ["body", "hi ", ["b", { xmlns: "urn:x" }, "there"], " & bye"],
      ["x"],
    ]);
    expect(elementFromJson(JSON.parse(JSON.stringify(elementToJson(el))))!.toString()).toBe(el.toString());
  });

  it("reads the array form written with empty attributes (pubsub items, offline messages)", () => {
    expect(elementFromJson(["tune", { xmlns: "urn:t" }, ["artist", {}, "Arne"]])!.toString()).toBe("<tune xmlns='urn:t'><artist>Arne</artist></tune>");
  });

  it("refuses what is no element", () => {
    for (const bad of [null, "x", 1, {}, [], [""], [1], ["a", { k: 1 }], ["a", 5], ["a", ["b", null]], { n: "a", a: {}, c: [] }]) {
      expect(elementFromJson(bad)).toBeUndefined();
    }
  });

  it("upgrades the old { n, a, c } form, and leaves values already upgraded or not elements as they are", () => {
    const old: Json = { n: "vCard", a: { xmlns: "vcard-temp" }, c: [{ n: "FN", a: {}, c: ["Juliet"] }, " ", { n: "NOTE", a: { "xml:lang": "en" }, c: [] }] };
    const up = upgradeElementJson(old);
    expect(up).toEqual(["vCard", { xmlns: "vcard-temp" }, ["FN", "Juliet"], " ", ["NOTE", { "xml:lang": "en" }]]);
    expect(elementFromJson(up)!.toString()).toBe("<vCard xmlns='vcard-temp'><FN>Juliet</FN> <NOTE xml:lang='en'/></vCard>");
    expect(upgradeElementJson(up)).toEqual(up);
    for (const other of [null, 3, "s", { ver: 1 }, ["a", {}]] as Json[]) expect(upgradeElementJson(other)).toEqual(other);
  });
});
