import { describe, expect, it } from "vitest";
import { Element, errorReply, getError, iq, message, reply } from "./stanza.js";

describe("Element", () => {
  it("builds with a cursor and always returns the root", () => {
    const s = iq({ type: "set", id: "1", to: undefined })
      .tag("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" })
      .tag("publish", { node: "n" })
      .tag("item", { id: "i" })
      .textTag("entry", "hi", { xmlns: "urn:x" })
      .up()
      .up()
      .up();
    expect(String(s)).toBe(
      "<iq type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item id='i'><entry xmlns='urn:x'>hi</entry></item></publish></pubsub></iq>",
    );
    const publish = s.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish", "http://jabber.org/protocol/pubsub");
    expect(publish?.attrs.node).toBe("n");
  });

  it("escapes text and attributes", () => {
    const m = message({ to: "a'b\"<>&" }).textTag("body", "<b>&amp;</b> 'q' \"d\"");
    expect(String(m)).toBe("<message to='a&apos;b&quot;&lt;&gt;&amp;'><body>&lt;b&gt;&amp;amp;&lt;/b&gt; 'q' \"d\"</body></message>");
  });

  it("getChild without a namespace only matches inherited-namespace children", () => {
    const m = new Element("message").textTag("body", "x").textTag("body", "y", { xmlns: "urn:other" });
    expect(m.getChild("body")!.getText()).toBe("x");
    expect(m.getChild("body", "urn:other")!.getText()).toBe("y");
    expect(m.childElements("body")).toHaveLength(2);
  });

  it("reply swaps addresses and keeps the id; errorReply carries the condition", () => {
    const req = iq({ type: "get", id: "q", from: "a@b/c", to: "b" }).tag("query", { xmlns: "urn:x" }).up();
    expect(String(reply(req))).toBe("<iq to='a@b/c' from='b' id='q' type='result'/>");
    const err = errorReply(req, "cancel", "item-not-found", "No such thing");
    expect(String(err)).toBe(
      "<iq to='a@b/c' from='b' id='q' type='error'><error type='cancel' code='404'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No such thing</text></error></iq>",
    );
    expect(getError(err)).toEqual({ type: "cancel", condition: "item-not-found", text: "No such thing" });
  });

  it("clone is deep", () => {
    const a = message({ id: "1" }).textTag("body", "x");
    const b = a.clone();
    b.attrs.id = "2";
    b.getChild("body")!.children[0] = "y";
    expect(String(a)).toBe("<message id='1'><body>x</body></message>");
  });
});

describe("freezeSerialization", () => {
  it("writes a shared element's text once computed, inside any number of stanzas", async () => {
    const { freezeSerialization } = await import("./stanza.js");
    const payload = new Element("event", { xmlns: "http://jabber.org/protocol/pubsub#event" }).tag("items", { node: "n" }).textTag("item", "a&b").up();
    freezeSerialization(payload);
    const a = message({ to: "a@x" }).add(payload);
    const b = message({ to: "b@x" }).add(payload);
    const text = "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item>a&amp;b</item></items></event>";
    expect(String(a)).toBe(`<message to='a@x'>${text}</message>`);
    expect(String(b)).toBe(`<message to='b@x'>${text}</message>`);
  });
});
