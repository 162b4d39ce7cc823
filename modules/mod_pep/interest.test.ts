import { describe, expect, it } from "vitest";
import { COMPONENT_NODE_DEFAULTS, type ItemsEvent } from "../../src/util/pubsub/index.js";
import { Element } from "../../src/xml/stanza.js";
import { Notifier } from "../lib/pubsub/notifications.js";
import { StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";
import { pepRecipients, type PepRecipientOptions } from "../lib/pubsub/pep.js";
import { InterestTable, NO_NODES, PendingQueries, SharedCapsQueries, type CapsAsk } from "./interest.js";

describe("InterestTable", () => {
  it("remembers who wants which node, and forgets empty wishes", () => {
    const t = new InterestTable(10);
    t.set("romeo", "juliet@localhost/a", new Set(["tune", "mood"]));
    t.set("romeo", "juliet@localhost", new Set(["tune"]));
    t.set("romeo", "nurse@localhost/b", new Set(["mood"]));
    expect(t.wanting("romeo", "tune")).toEqual(["juliet@localhost/a", "juliet@localhost"]);
    expect(t.recipientsOf("romeo", "juliet@localhost")).toEqual(["juliet@localhost/a", "juliet@localhost"]);
    t.set("romeo", "juliet@localhost/a", NO_NODES);
    expect(t.get("romeo", "juliet@localhost/a")).toBeUndefined();
    expect(t.wanting("romeo", "mood")).toEqual(["nurse@localhost/b"]);
    t.forgetAccount("romeo");
    expect(t.wanting("romeo", "mood")).toEqual([]);
  });

  it("remembers which last items went to which resource until it stops wanting them or its account goes", () => {
    const t = new InterestTable(10);
    t.noteLastItemSent("romeo", "juliet@localhost/a", "tune");
    t.noteLastItemSent("romeo", "juliet@localhost/a", "mood");
    t.noteLastItemSent("romeo", "juliet@localhost/b", "tune");
    expect(t.lastItemSent("romeo", "juliet@localhost/a", "tune")).toBe(true);
    expect(t.lastItemSent("nurse", "juliet@localhost/a", "tune")).toBe(false);
    t.keepLastItemsSent("romeo", "juliet@localhost/a", new Set(["mood"]));
    expect(t.lastItemSent("romeo", "juliet@localhost/a", "tune")).toBe(false);
    expect(t.lastItemSent("romeo", "juliet@localhost/a", "mood")).toBe(true);
    t.forgetLastItemsSent("romeo", "juliet@localhost");
    expect(t.lastItemSent("romeo", "juliet@localhost/a", "mood")).toBe(false);
    expect(t.lastItemSent("romeo", "juliet@localhost/b", "tune")).toBe(false);
  });
});

describe("PendingQueries", () => {
  it("matches an answer to its query by node, once", () => {
    const p = new PendingQueries(10);
    const a = { key: "sha-1:a", queryNode: "n#a", algorithm: "sha-1", ver: "a" };
    const b = { key: "sha-1:b", queryNode: "n#b", algorithm: "sha-1", ver: "b" };
    p.add("romeo", "romeo@localhost/x", a);
    p.add("romeo", "romeo@localhost/x", b);
    expect(p.take("romeo", "romeo@localhost/x", undefined)).toBeUndefined(); // two pending: ambiguous
    expect(p.take("romeo", "romeo@localhost/x", "n#b")).toBe(b);
    expect(p.take("romeo", "romeo@localhost/x", "n#b")).toBeUndefined();
    expect(p.take("romeo", "romeo@localhost/x", undefined)).toBe(a);
    expect(p.take("romeo", "juliet@localhost/x", "n#a")).toBeUndefined();
  });
});

describe("SharedCapsQueries", () => {
  const claim = { key: "sha-1:v", queryNode: "n#v", algorithm: "sha-1", ver: "v" };
  const legacy = { key: "legacy:n#1.0#", queryNode: "n#1.0", ver: "1.0" };
  const w = (username: string, from: string, self = false) => ({ username, from, self });
  const who = (asks: CapsAsk[]) => asks.map((a) => `${a.waiter.username} ${a.waiter.from}`);

  it("asks an entity once for all the accounts its presence reaches; the answer serves them all", () => {
    const q = new SharedCapsQueries(10, 30_000);
    expect(who(q.join(claim, w("ann", "ann@h/1", true)))).toEqual(["ann ann@h/1"]);
    expect(q.join(claim, w("bob", "ann@h/1"))).toEqual([]);
    expect(q.join(claim, w("cy", "ann@h/1"))).toEqual([]);
    expect(q.join(claim, w("ann", "ann@h/1", true))).toEqual([]); // the same presence again
    expect(q.answered(claim, "ann@h/1").map((x) => x.username)).toEqual(["ann", "bob", "cy"]);
    expect(q.size).toBe(0);
    expect(q.answered(claim, "ann@h/1")).toEqual([]);
  });

  it("another entity with the same ver is asked on its own (as Prosody does), and so is legacy caps", () => {
    const q = new SharedCapsQueries(10, 30_000);
    expect(who(q.join(claim, w("ann", "e@h/1")))).toEqual(["ann e@h/1"]);
    expect(who(q.join(claim, w("ann", "f@h/1")))).toEqual(["ann f@h/1"]);
    expect(who(q.join(legacy, w("bob", "g@h/1")))).toEqual(["bob g@h/1"]);
    expect(q.join(legacy, w("cy", "g@h/1"))).toEqual([]);
    expect(q.answered(claim, "e@h/1").map((x) => x.from)).toEqual(["e@h/1"]);
    expect(q.answered(legacy, "g@h/1").map((x) => x.username)).toEqual(["bob", "cy"]);
  });

  it("the asking account leaving hands the query on; an error ends it; new caps leave the old query", () => {
    const q = new SharedCapsQueries(10, 30_000);
    q.join(claim, w("ann", "e@h/1"));
    q.join(claim, w("bob", "e@h/1"));
    q.join(claim, w("cy", "e@h/1"));
    expect(q.leave("bob", "e@h/1")).toEqual([]); // not the asker
    expect(who(q.leave("ann", "e@h/1"))).toEqual(["cy e@h/1"]);
    q.failed("cy", "e@h/1");
    expect(q.size).toBe(0);
    expect(q.answered(claim, "e@h/1")).toEqual([]);
    q.join(claim, w("dee", "g@h/1"));
    const other = { ...claim, key: "sha-1:w", queryNode: "n#w", ver: "w" };
    expect(who(q.join(other, w("dee", "g@h/1")))).toEqual(["dee g@h/1"]);
    expect(q.size).toBe(1);
    expect(q.answered(claim, "g@h/1")).toEqual([]);
    expect(q.answered(other, "g@h/1").map((x) => x.username)).toEqual(["dee"]);
  });

  it("a query unanswered past the timeout is sent again when the entity's presence comes again", () => {
    let now = 0;
    const q = new SharedCapsQueries(10, 1000, () => now);
    q.join(claim, w("ann", "e@h/1"));
    now = 999;
    expect(q.join(claim, w("bob", "e@h/1"))).toEqual([]);
    now = 2000;
    expect(who(q.join(claim, w("cy", "e@h/1")))).toEqual(["cy e@h/1"]);
    expect(q.answered(claim, "e@h/1").map((x) => x.username)).toEqual(["ann", "bob", "cy"]);
  });
});

/** The shared broadcaster with PEP's recipient filter, as mod_pep wires it. */
/** A broadcaster with PEP's recipient filter for romeo's node; `sent`: what it posted. */
function pepBroadcaster(filter: PepRecipientOptions, nextId: () => string = () => "m"): { b: StanzaBroadcaster; sent: Element[] } {
  const sent: Element[] = [];
  const post = async (s: Element) => {
    sent.push(s);
  };
  return { b: new StanzaBroadcaster(new Notifier({ from: "romeo@localhost", maxItems: 256, nextId }), { recipients: pepRecipients(filter), post }), sent };
}

describe("the broadcaster with PEP's recipient filter", () => {
  const event = (recipients: string[]): ItemsEvent => ({
    kind: "items",
    node: "tune",
    item: { id: "1", publisher: "romeo@localhost", published: 0, payload: new Element("tune", { xmlns: "urn:tune" }) },
    recipients: recipients.map((jid) => ({ jid, subids: [] })),
    config: COMPONENT_NODE_DEFAULTS,
    owners: ["romeo@localhost"],
  });

  it("adds the +notify recipients the access model allows, one copy per resource", async () => {
    let n = 0;
    const { b, sent } = pepBroadcaster(
      {
        interested: () => ["juliet@localhost/a", "juliet@localhost", "nurse@localhost", "tybalt@localhost/x", "sub@localhost/s"],
        mayReceive: async (_node, jid) => !jid.startsWith("tybalt"),
      },
      () => `m${++n}`,
    );
    await b.notify(event(["sub@localhost/s"]));
    // juliet's bare JID is left out beside her resource; tybalt may not; sub is not doubled.
    expect(sent.map((m) => m.attrs.to)).toEqual(["sub@localhost/s", "juliet@localhost/a", "nurse@localhost"]);
    expect(sent.every((m) => m.attrs.type === "headline" && m.attrs.from === "romeo@localhost")).toBe(true);
  });

  it("does not add them to events other than items, retract, purge and delete", async () => {
    const { b, sent } = pepBroadcaster({ interested: () => ["juliet@localhost/a"], mayReceive: async () => true });
    await b.notify({ ...event(["x@localhost/1"]), kind: "last-item" });
    expect(sent.map((m) => m.attrs.to)).toEqual(["x@localhost/1"]);
  });

  it("sends affiliation notifications (XEP-0060 §8.9.4) to the entity whose affiliation changed", async () => {
    const { b, sent } = pepBroadcaster({ interested: () => ["juliet@localhost/a"], mayReceive: async () => true });
    await b.notify({
      kind: "affiliation",
      node: "tune",
      recipients: [{ jid: "nurse@localhost", subids: [] }],
      config: COMPONENT_NODE_DEFAULTS,
      owners: ["romeo@localhost"],
      jid: "nurse@localhost",
      affiliation: "member",
    });
    expect(sent.map((m) => m.attrs.to)).toEqual(["nurse@localhost"]);
    const aff = sent[0].getChild("pubsub", "http://jabber.org/protocol/pubsub")?.getChild("affiliations")?.getChild("affiliation");
    expect(aff?.attrs).toEqual({ jid: "nurse@localhost", affiliation: "member" });
  });
});
