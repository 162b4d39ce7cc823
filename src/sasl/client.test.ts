import { describe, expect, it } from "vitest";
import { scramClient } from "./client.js";
import { deriveCredentials, type ScramHash } from "./credentials.js";
import { createMechanism, type SaslBackend } from "./mechanism.js";

describe("scramClient", () => {
  it("produces the RFC 5802 §5 messages", async () => {
    const c = scramClient("SHA-1", "user", "pencil", { nonce: "fyko+d2lbbFgONRv9qkxdawL" });
    expect(c.mechanism).toBe("SCRAM-SHA-1");
    expect(c.first()).toBe("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    expect(await c.final("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")).toBe(
      "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    );
    expect(c.verify("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")).toBe(true);
    expect(c.verify("v=rmF9pqV8S7suAoZWja4dJRkFsKQ")).toBe(false);
    expect(c.verify("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toBe(false);
    expect(c.verify("e=other-error")).toBe(false);
  });

  it("produces the RFC 7677 §3 messages", async () => {
    const c = scramClient("SHA-256", "user", "pencil", { nonce: "rOprNGfwEbeRWgbNEkqO" });
    expect(c.first()).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const serverFirst = Buffer.from("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    expect(await c.final(serverFirst)).toBe(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    expect(c.verify(Buffer.from("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))).toBe(true);
  });

  it("refuses bad server-first-messages", async () => {
    const bad = [
      "r=other123,s=QSXCR+Q6sek8bf92,i=4096", // nonce not ours
      "r=abc,s=QSXCR+Q6sek8bf92,i=4096", // no server part
      "r=abcdef,s=QSXCR+Q6sek8bf9,i=4096", // bad base64
      "r=abcdef,s=QSXCR+Q6sek8bf92,i=0",
      "r=abcdef,s=QSXCR+Q6sek8bf92",
      "m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096",
    ];
    for (const s of bad) await expect(scramClient("SHA-1", "u", "p", { nonce: "abc" }).final(s), s).rejects.toThrow();
  });

  it("does not verify before final()", () => {
    expect(scramClient("SHA-1", "u", "p").verify("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")).toBe(false);
  });

  for (const hash of ["SHA-1", "SHA-256"] as ScramHash[]) {
    it(`logs in to the server (${hash}), with escaped names and an authzid`, async () => {
      const creds = await deriveCredentials("p\u00E4ss,=word", { iterations: 4096 });
      const backend: SaslBackend = {
        getCredentials: async (u) => (u === "a,b=c" ? creds : undefined),
        normalizeUsername: (u) => u,
      };
      const server = createMechanism(`SCRAM-${hash}`, backend, { secure: false })!;
      const c = scramClient(hash, "a,b=c", "pa\u0308ss,=word", { authzid: "x,y@example.com" });
      expect(c.first()).toMatch(/^n,a=x=2Cy@example.com,n=a=2Cb=3Dc,r=/);
      const s1 = await server.start(Buffer.from(c.first()));
      if (s1.kind !== "challenge") throw new Error(JSON.stringify(s1));
      const s2 = await server.step(Buffer.from(await c.final(s1.data)));
      if (s2.kind !== "success") throw new Error(JSON.stringify(s2));
      expect(s2.username).toBe("a,b=c");
      expect(s2.authzid).toBe("x,y@example.com");
      expect(c.verify(s2.data!)).toBe(true);
    });
  }
});
