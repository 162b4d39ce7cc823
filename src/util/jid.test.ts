import { describe, expect, it } from "vitest";
import { jidBare, jidHost, jidPrep, jidSplit, nodePrep, resourcePrep } from "./jid.js";

describe("jid", () => {
  it("splits and joins", () => {
    expect(jidSplit("a@b/c")).toEqual({ node: "a", domain: "b", resource: "c" });
    expect(jidSplit("b/c/d@e")).toEqual({ node: undefined, domain: "b", resource: "c/d@e" });
    expect(jidSplit("@b")).toBeUndefined();
    expect(jidSplit("a@b/")).toBeUndefined();
    expect(jidBare("a@b/c")).toBe("a@b");
    expect(jidHost("a@b/c")).toBe("b");
  });

  it("prepares each part (RFC 7622)", () => {
    expect(jidPrep("Romeo@Example.COM/Balcony")).toBe("romeo@example.com/Balcony");
    expect(jidPrep("ＲＯＭＥＯ@example.com")).toBe("romeo@example.com"); // width mapping
    expect(jidPrep("juliet@example.com./x")).toBe("juliet@example.com/x");
    expect(jidPrep("ßtraße@例え.jp/ｒ")).toBe("ßtraße@例え.jp/r");
    expect(jidPrep("[::1]")).toBe("[::1]");
  });

  it.each(["a@b@c", "a b@c", "a@b c", "\"a\"@b", "a:b@c", "a@", "@b", "a@b/\u0007", "a@-b.c", "a@b..c", `${"x".repeat(1024)}@b`])(
    "rejects %s",
    (bad) => expect(jidPrep(bad)).toBeUndefined(),
  );

  it("prepares parts on their own", () => {
    expect(nodePrep("ＭiXed")).toBe("mixed");
    expect(nodePrep("with/slash")).toBeUndefined();
    expect(resourcePrep("  keep case  ")).toBe("  keep case  ");
    expect(resourcePrep("")).toBeUndefined();
  });
});
