// The node's subscription table and its indexes (by JID, by bare JID, pending count) against a
// plain walk over the same subscriptions, after every kind of change.

import { describe, expect, it } from "vitest";
import { SubscriptionTable } from "./subscription-table.js";
import { indexMismatches } from "./testing.js";
import type { Subscription } from "./types.js";

function sub(subid: string, jid: string, state: Subscription["state"] = "subscribed", deliver = true): Subscription {
  return { node: "n", jid, subid, state, options: { deliver, includeBody: false }, created: 0 };
}

/** Every index answer equals the walk's, for every JID and bare JID in `jids`. */
function expectConsistent(table: SubscriptionTable, jids: Iterable<string>): void {
  expect(indexMismatches(table, jids)).toEqual([]);
}

describe("SubscriptionTable", () => {
  it("answers by JID and bare JID, in creation order, through replacements and removals", () => {
    const t = new SubscriptionTable([sub("1", "a@x/1"), sub("2", "a@x"), sub("3", "b@x/1", "pending"), sub("4", "a@x/1")]);
    const jids = ["a@x/1", "a@x", "a@x/2", "b@x/1", "b@x", "c@x"];
    expectConsistent(t, jids);
    expect(t.ofJid("a@x/1").map((s) => s.subid)).toEqual(["1", "4"]);
    expect(t.ofBare("a@x").map((s) => s.subid)).toEqual(["1", "2", "4"]);
    expect(t.pending).toBe(1);
    // Options changed on the first of two subids: it keeps its place.
    t.set("1", { ...sub("1", "a@x/1"), options: { deliver: false, includeBody: true } });
    expect(t.ofJid("a@x/1").map((s) => [s.subid, s.options.deliver])).toEqual([["1", false], ["4", true]]);
    expect(t.ofBare("a@x").map((s) => s.subid)).toEqual(["1", "2", "4"]);
    // Approved: no longer pending.
    t.set("3", sub("3", "b@x/1"));
    expect(t.pending).toBe(0);
    expectConsistent(t, jids);
    t.delete("1");
    t.delete("4");
    expect(t.hasJid("a@x/1")).toBe(false);
    expect(t.jidsOf("a@x")).toEqual(["a@x"]);
    expect(t.delete("4")).toBe(false);
    expectConsistent(t, jids);
    // Removed and added again: the newest.
    t.set("1", sub("1", "a@x/1", "pending"));
    expect(t.ofBare("a@x").map((s) => s.subid)).toEqual(["2", "1"]);
    expectConsistent(t, jids);
    t.clear();
    expect([t.size, t.pending, t.ofBare("a@x").length, t.jidsOf("b@x").length]).toEqual([0, 0, 0, 0]);
    expect(() => t.set("9", sub("8", "a@x"))).toThrow();
  });

  it("stays equal to a walk over many JIDs with many subids each, through random changes", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const jids: string[] = [];
    for (let u = 0; u < 12; u++) {
      jids.push(`u${u}@x`);
      for (let r = 0; r < 3; r++) jids.push(`u${u}@x/r${r}`);
    }
    jids.push("x", "x/resource");
    const t = new SubscriptionTable();
    const states: Subscription["state"][] = ["subscribed", "pending", "unconfigured"];
    let next = 0;
    for (let step = 0; step < 2000; step++) {
      const op = random(10);
      const subids = [...t.keys()];
      if (op < 5 || subids.length === 0) {
        const id = `s${next++}`;
        t.set(id, sub(id, jids[random(jids.length)], states[random(3)]));
      } else if (op < 8) {
        const id = subids[random(subids.length)];
        t.set(id, { ...t.get(id)!, state: states[random(3)], options: { deliver: random(2) === 0, includeBody: false } });
      } else {
        t.delete(subids[random(subids.length)]);
      }
      if (step % 250 === 0) expectConsistent(t, jids);
    }
    expectConsistent(t, jids);
    expect(t.size).toBeGreaterThan(100);
  });
});
