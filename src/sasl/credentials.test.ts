import { describe, expect, it } from "vitest";
import { deriveCredentials, deriveScramKeys, isComplete, verifyPassword, type StoredCredentials } from "./credentials.js";
import { SaslprepError } from "./saslprep.js";

describe("deriveCredentials", () => {
  it("derives SCRAM keys with 10,000 iterations and no Argon2id hash (PLAIN is checked against them), and keeps no password", async () => {
    const creds = await deriveCredentials("pencil");
    // Two PBKDF2 derivations per account: the Argon2id hash would protect nothing the keys do not.
    expect(creds.argon2id).toBeUndefined();
    expect(isComplete(creds)).toBe(true);
    expect(await verifyPassword(creds, "pencil")).toBe(true);
    expect(await verifyPassword(creds, "pencil!")).toBe(false);
    for (const [hash, len] of [["SHA-1", 20], ["SHA-256", 32]] as const) {
      const k = creds.scram[hash];
      expect(k.iterations).toBe(10000);
      expect(Buffer.from(k.salt, "base64").length).toBeGreaterThanOrEqual(16);
      expect(Buffer.from(k.storedKey, "base64").length).toBe(len);
      expect(Buffer.from(k.serverKey, "base64").length).toBe(len);
    }
    expect(creds.scram["SHA-1"].salt).not.toBe(creds.scram["SHA-256"].salt);
    expect(JSON.stringify(creds)).not.toContain("pencil");
    expect(JSON.parse(JSON.stringify(creds))).toEqual(creds);
  });

  it("uses random salts", async () => {
    const [a, b] = await Promise.all([deriveCredentials("x", { iterations: 1 }), deriveCredentials("x", { iterations: 1 })]);
    expect(a.scram["SHA-256"].salt).not.toBe(b.scram["SHA-256"].salt);
    expect(a.argon2id).not.toBe(b.argon2id);
  });

  it("keeps an Argon2id hash for PLAIN when the SCRAM keys have fewer than 10,000 iterations", async () => {
    const creds = await deriveCredentials("pencil", { iterations: 4096 });
    expect(creds.argon2id).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(isComplete(creds)).toBe(true);
    expect(isComplete({ scram: creds.scram })).toBe(false);
    expect(isComplete({ scram: { "SHA-1": creds.scram["SHA-1"] } })).toBe(false);
    expect(await verifyPassword(creds, "pencil")).toBe(true);
  });

  it("honours the iteration count", async () => {
    const creds = await deriveCredentials("x", { iterations: 4096 });
    expect(creds.scram["SHA-1"].iterations).toBe(4096);
    await expect(deriveCredentials("x", { iterations: 0 })).rejects.toThrow(RangeError);
  });

  it("rejects prohibited and empty passwords", async () => {
    await expect(deriveCredentials("a\u0007b")).rejects.toThrow(SaslprepError);
    await expect(deriveCredentials("\u00AD")).rejects.toThrow(SaslprepError);
  });

  it("refuses a new password with code points unassigned in Unicode 3.2 (a stored string, RFC 5802 §2.2)", async () => {
    await expect(deriveCredentials("p\u{1F600}ss", { iterations: 1 })).rejects.toThrow(SaslprepError);
    await expect(deriveScramKeys("SHA-256", "\u0221", { iterations: 1 })).rejects.toThrow(SaslprepError);
  });

  it("matches the SCRAM-SHA-1 keys of RFC 5802 §5", async () => {
    const salt = Buffer.from("QSXCR+Q6sek8bf92", "base64");
    const k = await deriveScramKeys("SHA-1", "pencil", { salt, iterations: 4096 });
    expect(k.salt).toBe("QSXCR+Q6sek8bf92");
    // StoredKey = H(HMAC(Hi("pencil", salt, 4096), "Client Key")), as in the RFC's example.
    expect(k.storedKey).toBe("6dlGYMOdZcOPutkcNY8U2g7vK9Y=");
    expect(k.serverKey).toBe("D+CSWLOshSulAsxiupA+qs2/fTE=");
  });
});

describe("verifyPassword", () => {
  it("accepts the right password and rejects wrong ones", async () => {
    const creds = await deriveCredentials("correct horse", { iterations: 1 });
    expect(await verifyPassword(creds, "correct horse")).toBe(true);
    expect(await verifyPassword(creds, "correct horsE")).toBe(false);
    expect(await verifyPassword(creds, "")).toBe(false);
    expect(await verifyPassword(creds, "bad\u0000")).toBe(false);
  });

  it("compares SASLprep'd passwords", async () => {
    const creds = await deriveCredentials("I\u00ADX", { iterations: 1 });
    expect(await verifyPassword(creds, "IX")).toBe(true);
    expect(await verifyPassword(creds, "\u2168")).toBe(true);
  });

  it("falls back to SCRAM keys when there is no argon2id hash", async () => {
    const creds: StoredCredentials = { ...(await deriveCredentials("pencil", { iterations: 16 })), argon2id: "" };
    expect(await verifyPassword(creds, "pencil")).toBe(true);
    expect(await verifyPassword(creds, "pencils")).toBe(false);
  });

  it("treats a damaged hash as a mismatch", async () => {
    const creds: StoredCredentials = { ...(await deriveCredentials("pencil", { iterations: 1 })), argon2id: "$argon2id$nonsense" };
    expect(await verifyPassword(creds, "pencil")).toBe(false);
  });

  it("checks passwords against SCRAM-SHA-256 keys of at least 10,000 iterations, not Argon2id", async () => {
    // A PLAIN login costs one PBKDF2 (a few ms) instead of Argon2id (about 15 ms of CPU). The
    // Argon2id hash is damaged here: only a check that does not use it can accept the password.
    const creds: StoredCredentials = { ...(await deriveCredentials("pencil", { iterations: 10000 })), argon2id: "$argon2id$nonsense" };
    expect(await verifyPassword(creds, "pencil")).toBe(true);
    expect(await verifyPassword(creds, "pencils")).toBe(false);
    expect(await verifyPassword(creds, "")).toBe(false);
    // Keys of fewer iterations are not enough: the Argon2id hash decides.
    const weak = await deriveCredentials("pencil", { iterations: 4096 });
    expect(await verifyPassword(weak, "pencil")).toBe(true);
    expect(await verifyPassword({ ...weak, argon2id: "$argon2id$nonsense" }, "pencil")).toBe(false);
  });
});
