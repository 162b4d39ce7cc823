import { describe, expect, it } from "vitest";
import { saslprep, SaslprepError } from "./saslprep.js";

describe("saslprep", () => {
  // RFC 4013 §3
  it("maps SOFT HYPHEN to nothing", () => expect(saslprep("I\u00ADX")).toBe("IX"));
  it("leaves plain strings alone", () => expect(saslprep("user")).toBe("user"));
  it("preserves case", () => expect(saslprep("USER")).toBe("USER"));
  it("applies NFKC to ª", () => expect(saslprep("\u00AA")).toBe("a"));
  it("applies NFKC to ROMAN NUMERAL NINE", () => expect(saslprep("\u2168")).toBe("IX"));
  it("prohibits control characters", () => expect(() => saslprep("\u0007")).toThrow(SaslprepError));
  it("rejects a bidi string that ends in a left-to-right character", () => {
    expect(() => saslprep("\u0627\u0031")).toThrow(SaslprepError);
  });

  it("maps non-ASCII spaces to SPACE", () => {
    expect(saslprep("a\u00A0b\u2003c\u3000d")).toBe("a b c d");
  });
  it("maps the other B.1 characters to nothing", () => {
    expect(saslprep("a\uFEFFb\uFE0Fc\u034F\u1806\u180B\u2060d")).toBe("abcd");
  });
  it("maps U+200B, in both B.1 and C.1.2, to a space (C.1.2 first, as libidn, Prosody's stringprep, does)", () => {
    expect(saslprep("a\u200Bb")).toBe("a b");
  });
  it("applies NFKC composition (so C.8 U+0340 becomes U+0300 before the prohibition step)", () => {
    expect(saslprep("a\u0340")).toBe("\u00E0");
    expect(saslprep("e\u0301")).toBe("\u00E9");
    expect(saslprep("\uFB01")).toBe("fi");
  });
  it("keeps ASCII space and the empty string", () => {
    expect(saslprep("pass word")).toBe("pass word");
    expect(saslprep("")).toBe("");
  });
  it("prohibits the C tables", () => {
    for (const s of [
      "\u0000", "\u001F", "\u007F", // C.2.1
      "\u0085", "\u06DD", "\u2028", "\u2063", "\u{1D173}", // C.2.2
      "\uE000", "\u{F0000}", "\u{10FFFD}", // C.3
      "\uFDD0", "\uFFFE", "\u{1FFFF}", // C.4
      "\uD800", "x\uDFFFy", // C.5 (lone surrogates)
      "\uFFFD", // C.6
      "\u2FF0", // C.7
      "\u200E", "\u202E", "\u206A", // C.8
      "\u{E0001}", "\u{E0041}", // C.9
    ]) {
      expect(() => saslprep(s), `U+${s.codePointAt(0)!.toString(16)}`).toThrow(SaslprepError);
    }
  });
  it("allows right-to-left strings that follow the bidi rules", () => {
    expect(saslprep("\u0627\u0031\u0628")).toBe("\u0627\u0031\u0628");
    expect(saslprep("\u05D0\u05D1")).toBe("\u05D0\u05D1");
  });
  it("rejects right-to-left mixed with left-to-right", () => {
    expect(() => saslprep("\u05D0a\u05D1")).toThrow(SaslprepError);
    expect(() => saslprep("1\u05D0")).toThrow(SaslprepError);
  });
  it("allows code points unassigned in Unicode 3.2 in queries (user names, passwords being checked)", () => {
    expect(saslprep("p\u{1F600}ss")).toBe("p\u{1F600}ss");
    expect(saslprep("\u0221")).toBe("\u0221");
  });
  it("refuses them in stored strings (RFC 4013 §2.5, Table A.1), and keeps assigned ones", () => {
    for (const s of ["p\u{1F600}ss", "\u0221", "\u0378", "a\u{E0080}", "\u{2FFFD}"]) {
      expect(() => saslprep(s, { stored: true }), `U+${s.codePointAt(s.length > 1 && s.startsWith("p") ? 1 : 0)!.toString(16)}`).toThrow(SaslprepError);
    }
    expect(saslprep("I\u00ADX \u00E9\u4E2D\u{10400}", { stored: true })).toBe("IX \u00E9\u4E2D\u{10400}");
  });
});
