import { describe, expect, it } from "vitest";
import { createMechanism, listMechanisms, type SaslBackend } from "./mechanism.js";

const backend: SaslBackend = { getCredentials: async () => undefined, normalizeUsername: (u) => u };

describe("listMechanisms", () => {
  it("offers SCRAM first, PLAIN only when secure or allowed", () => {
    expect(listMechanisms({ secure: true, allowPlainUnencrypted: false })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
    expect(listMechanisms({ secure: false, allowPlainUnencrypted: false })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
    expect(listMechanisms({ secure: false, allowPlainUnencrypted: true })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
  });
  it("offers only PLAIN with acceptAny", () => {
    expect(listMechanisms({ secure: true, allowPlainUnencrypted: false, acceptAny: true })).toEqual(["PLAIN"]);
    expect(listMechanisms({ secure: false, allowPlainUnencrypted: false, acceptAny: true })).toEqual([]);
  });
});

describe("createMechanism", () => {
  it("creates the mechanisms it knows", () => {
    for (const name of ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]) {
      expect(createMechanism(name, backend, { secure: true })?.name).toBe(name);
    }
  });
  it("returns undefined for others", () => {
    for (const name of ["DIGEST-MD5", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS", "plain", "ANONYMOUS", ""]) {
      expect(createMechanism(name, backend, { secure: true })).toBeUndefined();
    }
  });
});
