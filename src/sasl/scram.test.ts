import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveCredentials, deriveScramKeys, type ScramHash, type StoredCredentials } from "./credentials.js";
import { createMechanism, type MechanismOptions, type SaslBackend, type SaslStep } from "./mechanism.js";
import { decodeBase64Strict, escapeSaslname, unescapeSaslname } from "./scram.js";

// ---- test helpers ----

function backendOf(users: Record<string, StoredCredentials>, extra: Partial<SaslBackend> = {}): SaslBackend & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async getCredentials(u) {
      asked.push(u);
      return users[u];
    },
    normalizeUsername: (u) => (u === "" || /[@/\s"&'<>:]/.test(u) ? null : u.toLowerCase()),
    ...extra,
  };
}

const mech = (hash: ScramHash, backend: SaslBackend, opts: MechanismOptions = {}) => {
  const m = createMechanism(`SCRAM-${hash}`, backend, { secure: true }, opts);
  if (!m) throw new Error("no mechanism");
  return m;
};

const b = (s: string) => Buffer.from(s, "utf8");
const str = (step: SaslStep) => {
  if (step.kind === "failure") throw new Error(`failure: ${step.condition} ${step.text ?? ""}`);
  return step.data ? step.data.toString("utf8") : "";
};

/** A deliberately small SCRAM client, separate from client.ts, written straight from RFC 5802 §3. */
function testClient(hash: ScramHash, user: string, password: string, cnonce = "abcdefghijklmnop", gs2 = "n,,") {
  const alg = hash === "SHA-1" ? "sha1" : "sha256";
  const len = hash === "SHA-1" ? 20 : 32;
  const H = (d: Buffer) => createHash(alg).update(d).digest();
  const HMAC = (k: Buffer, d: string) => createHmac(alg, k).update(d).digest();
  const bare = `n=${user},r=${cnonce}`;
  let serverSig = "";
  return {
    first: () => gs2 + bare,
    final(serverFirst: string, override: { c?: string; r?: string } = {}) {
      const f = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(f.s, "base64"), Number(f.i), len, alg);
      const clientKey = HMAC(salted, "Client Key");
      const noProof = `c=${override.c ?? Buffer.from(gs2).toString("base64")},r=${override.r ?? f.r}`;
      const auth = `${bare},${serverFirst},${noProof}`;
      const sig = HMAC(H(clientKey), auth);
      serverSig = `v=${HMAC(HMAC(salted, "Server Key"), auth).toString("base64")}`;
      return `${noProof},p=${Buffer.from(clientKey.map((x, i) => x ^ sig[i])).toString("base64")}`;
    },
    serverFinal: () => serverSig,
  };
}

async function rfcBackend(hash: ScramHash, salt: string): Promise<SaslBackend> {
  const keys = await deriveScramKeys(hash, "pencil", { salt: Buffer.from(salt, "base64"), iterations: 4096 });
  const creds = { scram: { "SHA-1": keys, "SHA-256": keys }, argon2id: "" } as StoredCredentials;
  return backendOf({ user: creds });
}

let credsCache: StoredCredentials | undefined;
const aliceCreds = async () => (credsCache ??= await deriveCredentials("wonderland", { iterations: 4096 }));

// ---- tests ----

describe("SCRAM test vectors", () => {
  it("SCRAM-SHA-1, RFC 5802 §5", async () => {
    const m = mech("SHA-1", await rfcBackend("SHA-1", "QSXCR+Q6sek8bf92"), { nonce: () => "3rfcNHYJY1ZVvWVs7j" });
    const first = await m.start(b("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
    expect(first.kind).toBe("challenge");
    expect(str(first)).toBe("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    const final = await m.step(
      b("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
    );
    expect(final).toEqual({ kind: "success", data: b("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), username: "user" });
  });

  it("SCRAM-SHA-256, RFC 7677 §3", async () => {
    const m = mech("SHA-256", await rfcBackend("SHA-256", "W22ZaJ0SNY7soEsUEjb6gQ=="), {
      nonce: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    });
    const first = await m.start(b("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    expect(str(first)).toBe("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    const final = await m.step(
      b(
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      ),
    );
    expect(final).toEqual({ kind: "success", data: b("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), username: "user" });
  });
});

describe("SCRAM exchanges", () => {
  for (const hash of ["SHA-1", "SHA-256"] as const) {
    it(`logs in with derived credentials (${hash})`, async () => {
      const m = mech(hash, backendOf({ alice: await aliceCreds() }));
      expect(m.name).toBe(`SCRAM-${hash}`);
      const c = testClient(hash, "alice", "wonderland");
      const first = await m.start(b(c.first()));
      const serverFirst = str(first);
      expect(serverFirst).toMatch(/^r=abcdefghijklmnop[A-Za-z0-9+/=]{24},s=[A-Za-z0-9+/=]+,i=4096$/);
      const done = await m.step(b(c.final(serverFirst)));
      expect(done.kind).toBe("success");
      expect(str(done)).toBe(c.serverFinal());
      expect(done).toMatchObject({ username: "alice" });
      expect(done).not.toHaveProperty("authzid");
    });

    it(`rejects a wrong password (${hash})`, async () => {
      const m = mech(hash, backendOf({ alice: await aliceCreds() }));
      const c = testClient(hash, "alice", "wonderlant");
      const serverFirst = str(await m.start(b(c.first())));
      expect(await m.step(b(c.final(serverFirst)))).toEqual({ kind: "failure", condition: "not-authorized" });
      // the exchange is over
      expect((await m.step(b("x"))).kind).toBe("failure");
    });
  }

  it("works without an initial response", async () => {
    const m = mech("SHA-256", backendOf({ alice: await aliceCreds() }));
    const empty = await m.start(undefined);
    expect(empty).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    const c = testClient("SHA-256", "alice", "wonderland");
    const serverFirst = str(await m.step(b(c.first())));
    expect((await m.step(b(c.final(serverFirst)))).kind).toBe("success");
  });

  it("normalises the username and accepts the y flag", async () => {
    const backend = backendOf({ alice: await aliceCreds() });
    const m = mech("SHA-256", backend);
    const c = testClient("SHA-256", "AL\u00ADICE", "wonderland", "nonce", "y,,");
    const serverFirst = str(await m.start(b(c.first())));
    expect(backend.asked).toEqual(["alice"]);
    expect(await m.step(b(c.final(serverFirst)))).toMatchObject({ kind: "success", username: "alice" });
  });

  it("passes an escaped authzid through", async () => {
    const m = mech("SHA-1", backendOf({ alice: await aliceCreds() }));
    const gs2 = "n,a=al=3Dice=2Cx@example.com,";
    const c = testClient("SHA-1", "alice", "wonderland", "nonce", gs2);
    const serverFirst = str(await m.start(b(c.first())));
    expect(await m.step(b(c.final(serverFirst)))).toMatchObject({
      kind: "success",
      username: "alice",
      authzid: "al=ice,x@example.com",
    });
  });

  it("answers unknown and invalid users like known ones, and fails them at the proof", async () => {
    const secret = Buffer.alloc(32, 7);
    const backend = backendOf({ alice: await aliceCreds() });
    const shape = (s: string) => s.replace(/s=[^,]+/, "s=SALT").replace(/r=[^,]+/, "r=NONCE");
    const known = str(await mech("SHA-256", backend, { fakeSaltSecret: secret, fakeIterations: 4096 }).start(b("n,,n=alice,r=abc")));
    for (const user of ["bob", "a@b"]) {
      const m = mech("SHA-256", backend, { fakeSaltSecret: secret, fakeIterations: 4096 });
      const serverFirst = str(await m.start(b(`n,,n=${user},r=abc`)));
      expect(shape(serverFirst)).toBe(shape(known));
      const salt = /s=([^,]+)/.exec(serverFirst)![1];
      expect(decodeBase64Strict(salt)!.length).toBe(16);
      // the fake salt is stable for a name, so asking twice does not give it away
      const again = str(await mech("SHA-256", backend, { fakeSaltSecret: secret, fakeIterations: 4096 }).start(b(`n,,n=${user},r=abc`)));
      expect(/s=([^,]+)/.exec(again)![1]).toBe(salt);
      const c = testClient("SHA-256", user, "whatever", "abc");
      expect(await m.step(b(c.final(serverFirst)))).toEqual({ kind: "failure", condition: "not-authorized" });
    }
    expect(backend.asked).toEqual(["alice", "bob", "bob"]); // "a@b" is invalid: not looked up
  });

  it("maps backend errors to temporary-auth-failure", async () => {
    const m = mech("SHA-256", backendOf({}, { getCredentials: () => Promise.reject(new Error("db down")) }));
    expect(await m.start(b("n,,n=alice,r=abc"))).toMatchObject({ kind: "failure", condition: "temporary-auth-failure" });
  });

  it("is not available with acceptAny", () => {
    const backend = backendOf({}, { acceptAny: true });
    expect(createMechanism("SCRAM-SHA-1", backend, { secure: true })).toBeUndefined();
    expect(createMechanism("SCRAM-SHA-256", backend, { secure: true })).toBeUndefined();
  });
});

describe("SCRAM malformed messages", () => {
  const malformedFirst = [
    "",
    "n,,",
    "n,,n=alice",
    "n,,r=abc",
    "n,,n=alice,r=",
    "n,,r=abc,n=alice",
    "x,,n=alice,r=abc",
    "p=tls-unique,,n=alice,r=abc",
    "p=tls-server-end-point,,n=alice,r=abc",
    "n,z=bob,n=alice,r=abc",
    "n,a=,n=alice,r=abc",
    "n,a=b=2Xc,n=alice,r=abc",
    "n,,n=al=ice,r=abc",
    "n,,n=alice=2,r=abc",
    "n,,n=,r=abc",
    "n,,m=ext,n=alice,r=abc",
    "n,,n=alice,r=ab\u00e9c",
    "n,,n=alice,r=abc,bad",
    "n,,n=al\u0000ice,r=abc",
  ];
  for (const msg of malformedFirst) {
    it(`rejects client-first ${JSON.stringify(msg)}`, async () => {
      const m = mech("SHA-256", backendOf({ alice: await aliceCreds() }));
      expect(await m.start(b(msg))).toMatchObject({ kind: "failure", condition: "malformed-request" });
    });
  }

  it("rejects invalid UTF-8", async () => {
    const m = mech("SHA-256", backendOf({}));
    expect(await m.start(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])))
      .toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("rejects overlong messages", async () => {
    const m = mech("SHA-256", backendOf({}));
    expect(await m.start(b(`n,,n=alice,r=${"a".repeat(5000)}`))).toMatchObject({ condition: "malformed-request" });
  });

  it("allows unknown extensions in client-first", async () => {
    const m = mech("SHA-256", backendOf({ alice: await aliceCreds() }));
    expect((await m.start(b("n,,n=alice,r=abc,x=1,y=2"))).kind).toBe("challenge");
  });

  async function atFinal(gs2 = "n,,") {
    const m = mech("SHA-256", backendOf({ alice: await aliceCreds() }));
    const c = testClient("SHA-256", "alice", "wonderland", "abc", gs2);
    const serverFirst = str(await m.start(b(c.first())));
    const nonce = /r=([^,]+)/.exec(serverFirst)![1];
    return { m, c, serverFirst, nonce, good: c.final(serverFirst) };
  }

  const finals: Array<[string, (f: Awaited<ReturnType<typeof atFinal>>) => string]> = [
    ["missing proof", (f) => f.good.replace(/,p=.*$/, "")],
    ["missing nonce", (f) => f.good.replace(/r=[^,]+,/, "")],
    ["missing channel binding", (f) => f.good.replace(/^c=[^,]+,/, "")],
    ["wrong channel binding attribute", (f) => f.good.replace(/^c=/, "d=")],
    ["channel binding for another gs2 header", (f) => f.c.final(f.serverFirst, { c: Buffer.from("y,,").toString("base64") })],
    ["channel binding not base64", (f) => f.c.final(f.serverFirst, { c: "biws!" })],
    ["channel binding without padding", (f) => f.c.final(f.serverFirst, { c: "bixhPWFsaWNlLA" })],
    ["nonce mismatch", (f) => f.c.final(f.serverFirst, { r: `${f.nonce}x` })],
    ["client nonce only", (f) => f.c.final(f.serverFirst, { r: "abc" })],
    ["proof not base64", (f) => f.good.replace(/p=.*$/, "p=%%%%")],
    ["proof too short", (f) => f.good.replace(/p=.*$/, "p=AAAA")],
    ["attributes out of order", (f) => f.good.replace(/^(c=[^,]+),(r=[^,]+)/, "$2,$1")],
    ["garbage extension", (f) => f.good.replace(/,p=/, ",junk,p=")],
    ["empty", () => ""],
  ];
  for (const [what, make] of finals) {
    it(`rejects client-final: ${what}`, async () => {
      const f = await atFinal();
      expect(await f.m.step(b(make(f)))).toMatchObject({ kind: "failure", condition: "malformed-request" });
    });
  }

  it("rejects the gs2 header of another authzid in c=", async () => {
    const f = await atFinal("n,a=alice,");
    const other = f.c.final(f.serverFirst, { c: Buffer.from("n,,").toString("base64") });
    expect(await f.m.step(b(other))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("allows extensions before the proof", async () => {
    const f = await atFinal();
    // the proof covers everything before ",p=", so the client must sign the extension too:
    // with an unsigned one the proof no longer matches
    expect(await f.m.step(b(f.good.replace(/,p=/, ",x=1,p=")))).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("rejects start twice", async () => {
    const m = mech("SHA-1", backendOf({}));
    await m.start(undefined);
    expect((await m.start(undefined)).kind).toBe("failure");
  });
});

describe("saslname escaping", () => {
  it("round-trips", () => {
    for (const s of ["a", "a,b", "a=b", "=2C", ",,==", "é"]) expect(unescapeSaslname(escapeSaslname(s))).toBe(s);
    expect(escapeSaslname("a=b,c")).toBe("a=3Db=2Cc");
  });
  it("rejects other = sequences and empty names", () => {
    for (const s of ["", "a=", "a=2", "a=2c", "a=3d", "=41"]) expect(unescapeSaslname(s)).toBeUndefined();
  });
});
