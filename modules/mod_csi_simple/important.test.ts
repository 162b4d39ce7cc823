import { describe, expect, it } from "vitest";
import { xml as parseXml } from "../../test/helpers/xml.js";
import { isImportant, parsePayloadPatterns } from "./important.js";


const important = (xml: string, extra: string[] = []) => isImportant(parseXml(xml), parsePayloadPatterns(extra).patterns).important;

describe("mod_csi_simple: which stanzas wake an inactive client", () => {
  it("holds presence updates, sends subscription requests", () => {
    expect(important("<presence from='a@x/r'><show>away</show></presence>")).toBe(false);
    expect(important("<presence type='unavailable'/>")).toBe(false);
    expect(important("<presence type='subscribe'/>")).toBe(true);
    expect(important("<presence type='unsubscribed'/>")).toBe(true);
  });

  it("sends messages with a body or subject, errors, carbons of sent messages; holds chat states, headlines and receipts", () => {
    expect(important("<message type='chat'><body>hi</body></message>")).toBe(true);
    expect(important("<message type='groupchat'><subject>topic</subject></message>")).toBe(true);
    expect(important("<message type='error'><error type='cancel'/></message>")).toBe(true);
    expect(important("<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")).toBe(false);
    expect(important("<message><received xmlns='urn:xmpp:receipts' id='x'/></message>")).toBe(false);
    expect(important("<message type='headline'><body>news</body></message>")).toBe(false);
    expect(important("<message><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><active xmlns='http://jabber.org/protocol/chatstates'/></message></forwarded></sent></message>")).toBe(true);
  });

  it("looks inside received carbons", () => {
    const carbon = (inner: string) => `<message><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'>${inner}</message></forwarded></received></message>`;
    expect(important(carbon("<body>hi</body>"))).toBe(true);
    expect(important(carbon("<paused xmlns='http://jabber.org/protocol/chatstates'/>"))).toBe(false);
  });

  it("sends encrypted messages, invitations and call signalling without a body", () => {
    expect(important("<message><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>")).toBe(true);
    expect(important("<message><encryption xmlns='urn:xmpp:eme:0' namespace='x'/></message>")).toBe(true);
    expect(important("<message><x xmlns='jabber:x:conference' jid='room@muc'/></message>")).toBe(true);
    expect(important("<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@x'/></x></message>")).toBe(true);
    expect(important("<message><propose xmlns='urn:xmpp:jingle-message:0' id='c'/></message>")).toBe(true);
  });

  it("sends iq, and payloads named in csi_important_payloads", () => {
    expect(important("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>")).toBe(true);
    expect(important("<message><urgent xmlns='urn:example:prio'/></message>")).toBe(false);
    expect(important("<message><urgent xmlns='urn:example:prio'/></message>", ["{urn:example:prio}"])).toBe(true);
    expect(important("<message><other xmlns='urn:example:prio'/></message>", ["{urn:example:prio}urgent"])).toBe(false);
    expect(parsePayloadPatterns(["urn:no-braces", "{urn:a}b"])).toEqual({ patterns: [{ ns: "urn:a", name: "b" }], invalid: ["urn:no-braces"] });
  });
});
