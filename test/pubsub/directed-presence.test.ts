// DirectedPresence: what the pubsub service remembers of the directed presence it received
// (RFC 6121 §4.6), by bare JID and bounded.

import { describe, expect, it } from "vitest";
import { DIRECTED_PRESENCE_LIMIT, DirectedPresence } from "../../modules/lib/pubsub/access.js";
import { Element } from "../../src/xml/stanza.js";

const available = (show?: string) => {
  const p = new Element("presence");
  if (show !== undefined) p.textTag("show", show);
  return p;
};

describe("DirectedPresence", () => {
  it("tracks shows per full JID and answers for a bare JID; tells an arrival from an update", () => {
    const d = new DirectedPresence();
    expect(d.available("a@x/1", available())).toBe(false);
    expect(d.available("a@x/2", available("away"))).toBe(false);
    expect(d.available("a@x/1", available("dnd"))).toBe(true);
    expect(d.available("b@x/1", available())).toBe(false);
    expect(d.showsOf("a@x").sort()).toEqual(["away", "dnd"]);
    expect(d.showsOf("a@x/2")).toEqual(["away"]);
    expect(d.showsOf("a@x/3")).toEqual([]);
    d.unavailable("a@x/2");
    expect(d.showsOf("a@x")).toEqual(["dnd"]);
    d.unavailable("a@x");
    expect(d.showsOf("a@x")).toEqual([]);
    expect(d.showsOf("b@x")).toEqual(["online"]);
    expect(d.size).toBe(1);
    // Gone, then back: an arrival again.
    expect(d.available("a@x/1", available())).toBe(false);
  });

  it("is bounded: past the limit the oldest presence is forgotten", () => {
    const d = new DirectedPresence(3);
    d.available("a@x/1", available());
    d.available("b@x/1", available());
    d.available("a@x/2", available());
    d.available("a@x/1", available("away")); // refreshed: now the newest
    d.available("c@x/1", available());
    expect(d.size).toBe(3);
    expect(d.showsOf("b@x")).toEqual([]);
    expect(d.showsOf("a@x").sort()).toEqual(["away", "online"]);
    d.available("d@x/1", available());
    expect(d.showsOf("a@x/2")).toEqual([]);
    expect(d.showsOf("a@x")).toEqual(["away"]);
    expect(d.size).toBe(3);
  });

  it("a flood of senders that never go unavailable stays within the default bound", () => {
    const d = new DirectedPresence();
    for (let i = 0; i < DIRECTED_PRESENCE_LIMIT + 500; i++) d.available(`u${i}@remote.example/r`, available());
    expect(d.size).toBe(DIRECTED_PRESENCE_LIMIT);
    expect(DIRECTED_PRESENCE_LIMIT).toBe(10000);
    expect(d.showsOf("u0@remote.example")).toEqual([]);
    expect(d.showsOf(`u${DIRECTED_PRESENCE_LIMIT + 499}@remote.example`)).toEqual(["online"]);
  });
});
