import { describe, expect, it } from "vitest";
import { Element } from "../../src/xml/stanza.js";
import { parseShow } from "../lib/im/presence.js";
import { TokenBucket, parsePriority, readdress, withDelay, xmppDateTime } from "./presence.js";

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
});
