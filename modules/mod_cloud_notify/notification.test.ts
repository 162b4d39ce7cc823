import { describe, expect, it } from "vitest";
import { xml } from "../../test/helpers/xml.js";
import { Element } from "../../src/xml/stanza.js";
import { isImportant, publishIq, summaryForm } from "./notification.js";


const fields = (x: Element) => Object.fromEntries(x.childElements("field").map((f) => [f.attrs.var, f.childElements("value").map((v) => v.getText())]));

describe("mod_cloud_notify: notifications", () => {
  it("counts a message as important with a non-empty body, an encrypted payload or a call proposal", () => {
    expect(isImportant(xml("<message><body>hi</body></message>"))).toBe(true);
    expect(isImportant(xml("<message><body></body></message>"))).toBe(false);
    expect(isImportant(xml("<message type='headline'><body>news</body></message>"))).toBe(false);
    expect(isImportant(xml("<message type='groupchat'><subject>topic</subject></message>"))).toBe(false);
    expect(isImportant(xml("<message><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>"))).toBe(true);
    expect(isImportant(xml("<message><propose xmlns='urn:xmpp:jingle-message:0' id='c'/></message>"))).toBe(true);
    expect(isImportant(xml("<presence/>"))).toBe(false);
    const carbon = (dir: string) => `<message><${dir} xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>x</body></message></forwarded></${dir}></message>`;
    expect(isImportant(xml(carbon("received")))).toBe(true);
    expect(isImportant(xml(carbon("sent")))).toBe(false);
  });

  it("puts the real body and sender in the summary only when asked to", () => {
    const msg = xml("<message from='a@x/r'><body>the text</body></message>");
    expect(fields(summaryForm(msg, { withBody: false, withSender: false, importantBody: "New Message!" }))).toEqual({
      FORM_TYPE: ["urn:xmpp:push:summary"],
      "message-count": ["1"],
      "last-message-body": ["New Message!"],
    });
    expect(fields(summaryForm(msg, { withBody: true, withSender: true, importantBody: "New Message!" }))).toEqual({
      FORM_TYPE: ["urn:xmpp:push:summary"],
      "message-count": ["1"],
      "last-message-sender": ["a@x/r"],
      "last-message-body": ["the text"],
    });
    expect(fields(summaryForm(msg, { withBody: false, withSender: false, importantBody: "" }))["last-message-body"]).toBeUndefined();
  });

  it("publishes to the node with the client's publish options", () => {
    const opts = xml("<x xmlns='jabber:x:data' type='submit'><field var='secret'><value>s</value></field></x>");
    const iq = publishIq("example.com", "push.example", "n1", summaryForm(undefined, { withBody: false, withSender: false, importantBody: "" }), opts, "i1");
    expect(iq.toString()).toContain("<publish node='n1'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data' type='submit'>");
    expect(iq.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish-options")!.toString()).toContain("<field var='secret'><value>s</value></field>");
    expect(iq.attrs).toEqual({ type: "set", from: "example.com", to: "push.example", id: "i1" });
  });
});
