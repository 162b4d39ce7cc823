import { describe, expect, it } from "vitest";
import { Element, StanzaError, errorReply } from "../../../src/xml/stanza.js";
import { iqAnswerOf } from "./context.js";

const request = new Element("iq", { type: "set", id: "r1", from: "a@example.com/x", to: "pubsub.example.com" }, [
  new Element("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" }),
]);

describe("iqAnswerOf", () => {
  it("turns a built error reply into a StanzaError that gives the same reply: URI, text, application condition, by, payload", () => {
    const built = errorReply(request, "cancel", "gone", "Moved", new Element("closed-node", { xmlns: "http://jabber.org/protocol/pubsub#errors" }), "pubsub.example.com");
    built.getChild("error")!.childElements()[0].children.push("xmpp:pubsub.example.com?;node=new");
    built.children.unshift(new Element("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" }, [new Element("publish", { node: "old" })]));
    const answer = iqAnswerOf(built);
    expect(answer).toBeInstanceOf(StanzaError);
    expect((answer as StanzaError).replyTo(request).toString()).toBe(built.toString());
  });

  it("gives a result's payload, or null for an empty result", () => {
    const q = new Element("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" });
    expect(iqAnswerOf(new Element("iq", { type: "result" }, [q]))).toBe(q);
    expect(iqAnswerOf(new Element("iq", { type: "result" }))).toBeNull();
  });
});
