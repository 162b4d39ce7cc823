import { beforeAll, describe, expect, it } from "vitest";
import { deriveCredentials, type StoredCredentials } from "./credentials.js";
import { createMechanism, type SaslBackend } from "./mechanism.js";

let alice: StoredCredentials;
beforeAll(async () => {
  alice = await deriveCredentials("wonder land", { iterations: 1 });
});

function backend(extra: Partial<SaslBackend> = {}): SaslBackend & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async getCredentials(u) {
      asked.push(u);
      return u === "alice" ? alice : undefined;
    },
    normalizeUsername: (u) => (u === "" || /[@/\s"&'<>:]/.test(u) ? null : u.toLowerCase()),
    ...extra,
  };
}

const plain = (be: SaslBackend = backend()) => createMechanism("PLAIN", be, { secure: true })!;
const msg = (authzid: string, authcid: string, passwd: string) => Buffer.from(`${authzid}\0${authcid}\0${passwd}`, "utf8");

describe("PLAIN", () => {
  it("accepts the right password", async () => {
    const m = plain();
    expect(m.name).toBe("PLAIN");
    expect(await m.start(msg("", "alice", "wonder land"))).toEqual({ kind: "success", username: "alice" });
  });

  it("SASLprep's and normalises authcid and password", async () => {
    const be = backend();
    expect(await plain(be).start(msg("", "Al\u00ADice", "wonder\u00A0land"))).toEqual({ kind: "success", username: "alice" });
    expect(be.asked).toEqual(["alice"]);
  });

  it("passes the authzid through", async () => {
    expect(await plain().start(msg("alice@example.com/res", "alice", "wonder land"))).toEqual({
      kind: "success",
      username: "alice",
      authzid: "alice@example.com/res",
    });
  });

  it("works without an initial response", async () => {
    const m = plain();
    expect(await m.start(undefined)).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    expect(await m.step(msg("", "alice", "wonder land"))).toMatchObject({ kind: "success" });
    expect((await m.step(msg("", "alice", "wonder land"))).kind).toBe("failure");
  });

  it("rejects a wrong password", async () => {
    expect(await plain().start(msg("", "alice", "wonderland"))).toEqual({ kind: "failure", condition: "not-authorized" });
    expect(await plain().start(msg("", "alice", "wonder land\u0007"))).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("rejects unknown and invalid users", async () => {
    const be = backend();
    expect(await plain(be).start(msg("", "bob", "wonder land"))).toEqual({ kind: "failure", condition: "not-authorized" });
    expect(await plain(be).start(msg("", "a@b", "x"))).toEqual({ kind: "failure", condition: "not-authorized" });
    expect(await plain(be).start(msg("", "a\u0007", "x"))).toEqual({ kind: "failure", condition: "not-authorized" });
    expect(be.asked).toEqual(["bob"]);
  });

  it("takes about as long for unknown users as for wrong passwords", async () => {
    // Not a precise measurement: just that unknown users also pay for a password check like that
    // of an account with the default 10,000 iterations (PBKDF2-SHA-256).
    const alice10k = await deriveCredentials("wonder land", { iterations: 10000 });
    const be = backend({ getCredentials: async (u) => (u === "alice" ? alice10k : undefined) });
    const once = async (user: string) => {
      const t = performance.now();
      await plain(be).start(msg("", user, "nope"));
      return performance.now() - t;
    };
    await once("bob"); // creates the dummy hash
    // Interleaved, best of several: a busy machine slows both alike, and the fastest try of each
    // is the closest to its own cost.
    let known = Infinity;
    let unknown = Infinity;
    for (let i = 0; i < 7; i++) {
      known = Math.min(known, await once("alice"));
      unknown = Math.min(unknown, await once("bob"));
    }
    expect(unknown).toBeGreaterThan(known / 4);
  });

  for (const [what, data] of [
    ["no NUL", Buffer.from("alice")],
    ["one NUL", Buffer.from("alice\0pw")],
    ["three NULs", Buffer.from("\0alice\0pw\0")],
    ["empty authcid", msg("", "", "pw")],
    ["empty password", msg("", "alice", "")],
    ["empty message", Buffer.alloc(0)],
    ["invalid UTF-8", Buffer.concat([Buffer.from("\0ali"), Buffer.from([0xc3, 0x28]), Buffer.from("\0pw")])],
    ["overlong", msg("", "alice", "x".repeat(5000))],
  ] as const) {
    it(`rejects a malformed message: ${what}`, async () => {
      expect(await plain().start(data)).toMatchObject({ kind: "failure", condition: "malformed-request" });
    });
  }

  it("maps backend errors to temporary-auth-failure", async () => {
    const be = backend({ getCredentials: () => Promise.reject(new Error("db down")) });
    expect(await plain(be).start(msg("", "alice", "x"))).toEqual({ kind: "failure", condition: "temporary-auth-failure" });
  });

  describe("with acceptAny", () => {
    it("accepts any password for a valid username", async () => {
      const be = backend({ acceptAny: true });
      expect(await plain(be).start(msg("", "Nobody", "anything"))).toEqual({ kind: "success", username: "nobody" });
      expect(be.asked).toEqual([]);
    });
    it("still needs a valid username and a well-formed message", async () => {
      const be = backend({ acceptAny: true });
      expect(await plain(be).start(msg("", "a@b", "x"))).toMatchObject({ kind: "failure", condition: "not-authorized" });
      expect(await plain(be).start(Buffer.from("nobody"))).toMatchObject({ kind: "failure", condition: "malformed-request" });
    });
  });
});

describe("PLAIN with imported (SCRAM-SHA-1-only) credentials", () => {
  it("verifies against the SCRAM-SHA-1 keys and asks the backend to upgrade them, only on success", async () => {
    const sha1Only: StoredCredentials = { scram: { "SHA-1": alice.scram["SHA-1"] } };
    const upgrades: string[] = [];
    const be = backend({
      getCredentials: async (u) => (u === "alice" ? sha1Only : undefined),
      upgradeCredentials: async (u, pw) => {
        upgrades.push(`${u}:${pw}`);
      },
    });
    expect(await plain(be).start(msg("", "alice", "wrong"))).toMatchObject({ kind: "failure", condition: "not-authorized" });
    expect(upgrades).toEqual([]);
    expect(await plain(be).start(msg("", "alice", "wonder land"))).toEqual({ kind: "success", username: "alice" });
    expect(upgrades).toEqual(["alice:wonder land"]);
  });

  it("does not upgrade complete credentials, and a failing upgrade does not fail the login", async () => {
    let calls = 0;
    const complete = backend({ upgradeCredentials: async () => void calls++ });
    expect(await plain(complete).start(msg("", "alice", "wonder land"))).toMatchObject({ kind: "success" });
    expect(calls).toBe(0);
    const failing = backend({
      getCredentials: async () => ({ scram: { "SHA-1": alice.scram["SHA-1"] } }),
      upgradeCredentials: async () => {
        calls++;
        throw new Error("disk full");
      },
    });
    expect(await plain(failing).start(msg("", "alice", "wonder land"))).toMatchObject({ kind: "success" });
    expect(calls).toBe(1);
  });
});
