import { describe, expect, it } from "vitest";
import { Element } from "../../src/xml/stanza.js";
import { contactsSeen, presenceTarget } from "./presence.js";

const HOST = "localhost";
const presence = (attrs: Record<string, string>) => new Element("presence", attrs);
const server = { type: "local" as const, id: "test", host: HOST };

describe("presenceTarget", () => {
  it("a contact's presence to an account here concerns that account, not as itself", () => {
    expect(presenceTarget(presence({ from: "juliet@capulet.lit/balcony", to: "romeo@localhost" }), server, HOST)).toEqual({
      username: "romeo",
      from: "juliet@capulet.lit/balcony",
      self: false,
    });
  });

  it("an account's presence to its own bare JID is its own", () => {
    expect(presenceTarget(presence({ from: "romeo@localhost/orchard", to: "romeo@localhost" }), server, HOST)?.self).toBe(true);
  });

  it("presence to another host or without a sender concerns no account here", () => {
    expect(presenceTarget(presence({ from: "a@b/c", to: "romeo@elsewhere" }), server, HOST)).toBeUndefined();
    expect(presenceTarget(presence({ to: "romeo@localhost" }), server, HOST)).toBeUndefined();
    // Broadcast presence (no `to`) from something that is no client session.
    expect(presenceTarget(presence({ from: "romeo@localhost/orchard" }), server, HOST)).toBeUndefined();
  });
});

describe("contactsSeen", () => {
  it("keeps local contacts whose presence the account receives (to, both), not itself", () => {
    const items = [
      { jid: "juliet@localhost", subscription: "both" },
      { jid: "nurse@localhost", subscription: "to" },
      { jid: "tybalt@localhost", subscription: "from" },
      { jid: "mercutio@localhost", subscription: "none" },
      { jid: "benvolio@elsewhere", subscription: "both" },
      { jid: "romeo@localhost", subscription: "both" },
    ];
    expect(contactsSeen(items, "romeo", HOST)).toEqual(["juliet", "nurse"]);
  });
});
