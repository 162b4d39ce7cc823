import { describe, expect, it } from "vitest";
import { Element } from "../../src/xml/stanza.js";
import { parseShow } from "../lib/im/presence.js";
import type { ClientSession } from "../../src/sessions/session.js";
import type { StoredItem } from "../lib/roster/roster.js";
import {
  TokenBucket,
  audience,
  availableResources,
  newSessionPresence,
  parsePriority,
  presenceSlot,
  probeTargets,
  readdress,
  trackDirected,
  uncoveredDirected,
  withDelay,
  xmppDateTime,
} from "./presence.js";

describe("presence helpers", () => {
  it("parses priorities as RFC 6121 §4.7.2.3 says, clamping and defaulting to 0", () => {
    const p = (text?: string) => {
      const el = new Element("presence");
      if (text !== undefined) el.textTag("priority", text);
      return parsePriority(el);
    };
    expect(p()).toBe(0);
    expect(p("5")).toBe(5);
    expect(p(" -1 ")).toBe(-1);
    expect(p("+12")).toBe(12);
    expect(p("1000")).toBe(127);
    expect(p("-1000")).toBe(-128);
    expect(p("abc")).toBe(0);
    expect(p("1.5")).toBe(0);
  });

  it("reads <show/> (RFC 6121 §4.7.2.1), none or an unknown value being online", () => {
    const p = (text?: string) => {
      const el = new Element("presence");
      if (text !== undefined) el.textTag("show", text);
      return parseShow(el);
    };
    expect(p()).toBe("online");
    expect(p("away")).toBe("away");
    expect(p(" dnd ")).toBe("dnd");
    expect(p("xa")).toBe("xa");
    expect(p("chat")).toBe("chat");
    expect(p("sleeping")).toBe("online");
  });

  it("readdresses without touching the original", () => {
    const orig = new Element("presence", { from: "a@b/c", to: "x@y", id: "1" }).textTag("show", "away");
    const copy = readdress(orig, "a@b/c", undefined);
    expect(copy.attrs).toEqual({ from: "a@b/c", id: "1" });
    expect(orig.attrs.to).toBe("x@y");
    expect(copy.getChildText("show")).toBe("away");
  });

  it("adds one XEP-0203 delay, replacing an older one", () => {
    const orig = new Element("presence", { from: "a@b/c" }).tag("delay", { xmlns: "urn:xmpp:delay", stamp: "old" }).up();
    const d = withDelay(orig, Date.UTC(2020, 0, 2, 3, 4, 5, 678), "b");
    const delays = d.childElements("delay", "urn:xmpp:delay");
    expect(delays).toHaveLength(1);
    expect(delays[0].attrs).toEqual({ xmlns: "urn:xmpp:delay", stamp: "2020-01-02T03:04:05Z", from: "b" });
    expect(orig.childElements("delay")[0].attrs.stamp).toBe("old");
    expect(xmppDateTime(0)).toBe("1970-01-01T00:00:00Z");
  });

  it("token bucket: a burst, then the rate", () => {
    const b = new TokenBucket(3, 2, 1000);
    expect([b.take(1000), b.take(1000), b.take(1000), b.take(1000)]).toEqual([true, true, true, false]);
    expect(b.wait(1000)).toBe(500);
    expect(b.take(1400)).toBe(false);
    expect(b.take(1500)).toBe(true);
    expect(b.take(10_000)).toBe(true); // refilled, but never beyond capacity
    expect(b.take(10_000) && b.take(10_000)).toBe(true);
    expect(b.take(10_000)).toBe(false);
  });

  const items = new Map<string, StoredItem>([
    ["none@x", { subscription: "none", groups: [] }],
    ["to@x", { subscription: "to", groups: [] }],
    ["from@x", { subscription: "from", groups: [] }],
    ["both@x", { subscription: "both", groups: [] }],
    ["pending-out@x", { subscription: "none", ask: "subscribe", groups: [] }],
  ]);

  it("broadcasts to contacts that see the user (from, both), minus those that answered with errors (RFC 6121 §4.2.2, §4.4.2)", () => {
    expect(audience(items, new Set())).toEqual(["from@x", "both@x"]);
    expect(audience(items, new Set(["both@x"]))).toEqual(["from@x"]);
    expect(audience(new Map(), new Set())).toEqual([]);
  });

  it("probes the contacts the user sees (to, both) on initial presence (RFC 6121 §4.2.2)", () => {
    expect(probeTargets(items)).toEqual(["to@x", "both@x"]);
  });

  it("tracks directed presence recipients up to a limit; unavailable frees a slot (RFC 6121 §4.6)", () => {
    const directed = new Set<string>();
    expect(trackDirected(directed, "a@x/1", undefined, 2)).toBe("ok");
    expect(trackDirected(directed, "b@x", undefined, 2)).toBe("ok");
    expect(trackDirected(directed, "a@x/1", undefined, 2)).toBe("ok"); // an update to a tracked JID
    expect(trackDirected(directed, "c@x", undefined, 2)).toBe("refused");
    expect([...directed]).toEqual(["a@x/1", "b@x"]);
    expect(trackDirected(directed, "b@x", "unavailable", 2)).toBe("ok");
    expect(trackDirected(directed, "c@x", undefined, 2)).toBe("ok");
    expect([...directed]).toEqual(["a@x/1", "c@x"]);
  });

  it("sends unavailable only to directed recipients the broadcast did not reach, by full or bare JID (RFC 6121 §4.6.3)", () => {
    const covered = new Set(["a@x", "me@x/other"]);
    expect(uncoveredDirected(["a@x/1", "a@x", "b@x/2", "me@x/other", "c@x"], covered)).toEqual(["b@x/2", "c@x"]);
  });

  it("lists the available sessions with their priority and show, sharing the stored presence", () => {
    const session = (fullJid: string, closed = false) => ({ fullJid, closed, data: new Map<string, unknown>() }) as unknown as ClientSession;
    const away = session("u@x/a");
    const unavailable = session("u@x/b");
    const closed = session("u@x/c", true);
    const online = session("u@x/d");
    const stored = new Element("presence", { from: "u@x/a" }).textTag("show", "away");
    presenceSlot.set(away, { ...newSessionPresence(1, 1), current: stored, priority: 5 });
    presenceSlot.set(unavailable, newSessionPresence(1, 1));
    presenceSlot.set(closed, { ...newSessionPresence(1, 1), current: new Element("presence"), priority: 1 });
    presenceSlot.set(online, { ...newSessionPresence(1, 1), current: new Element("presence", { from: "u@x/d" }), priority: -1 });
    const got = availableResources([away, unavailable, closed, online, session("u@x/e")]);
    expect(got.map((r) => [r.jid, r.priority, r.show])).toEqual([
      ["u@x/a", 5, "away"],
      ["u@x/d", -1, "online"],
    ]);
    expect(got[0].presence).toBe(stored);
  });
});
