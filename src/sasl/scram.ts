// SCRAM-SHA-1 and SCRAM-SHA-256, server side (RFC 5802, RFC 7677), without channel binding
// (no -PLUS variants yet).
//
//   C: client-first-message   gs2-header client-first-message-bare
//   S: server-first-message   r=<c-nonce s-nonce>,s=<salt>,i=<iterations>
//   C: client-final-message   c=<base64 gs2-header>,r=<nonce>,p=<proof>
//   S: <success/> with server-final-message v=<server signature>
//
// Unknown (or invalid) users get a server-first-message of the same shape as real ones, with a
// salt derived from the username and a secret, so that neither the answer nor its timing tells
// whether an account exists; the exchange then fails at the proof like a wrong password.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  DEFAULT_SCRAM_ITERATIONS,
  hashLength,
  SCRAM_SALT_BYTES,
  scramH,
  scramHmac,
  type ScramHash,
  type ScramKeys,
} from "./credentials.js";
import type { MechanismOptions, SaslBackend, SaslChannel, SaslMechanism, SaslStep } from "./mechanism.js";
import { saslprep } from "./saslprep.js";

/** Longest client message we parse, in bytes. */
const MAX_MESSAGE_BYTES = 4096;

const processFakeSaltSecret = randomBytes(32);

// ---- syntax helpers (shared with the client in client.ts) ----

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode strict, padded base64 (RFC 4648 §4); undefined when it isn't. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  return BASE64.test(s) ? Buffer.from(s, "base64") : undefined;
}

/** saslname: escape ',' as =2C and '=' as =3D. */
export function escapeSaslname(s: string): string {
  return s.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

/** saslname: undo =2C and =3D; undefined for any other '=' sequence, or for an empty name. */
export function unescapeSaslname(s: string): string | undefined {
  if (s === "") return undefined;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== "=") {
      out += ch;
      continue;
    }
    const code = s.slice(i + 1, i + 3);
    if (code === "2C") out += ",";
    else if (code === "3D") out += "=";
    else return undefined;
    i += 2;
  }
  return out;
}

/** printable = %x21-2B / %x2D-7E, at least one. */
export function isPrintableNonce(s: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(s);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict UTF-8 decode without NUL characters; undefined when invalid. */
export function decodeUtf8Message(data: Buffer): string | undefined {
  let s: string;
  try {
    s = utf8.decode(data);
  } catch {
    return undefined;
  }
  return s.includes("\0") ? undefined : s;
}

/** attr-val: one ALPHA, '=', then the value (which, split on ',', can't contain one). */
function attr(part: string | undefined, name: string): string | undefined {
  return part !== undefined && part.length >= 2 && part[0] === name && part[1] === "=" ? part.slice(2) : undefined;
}

function isAttrVal(part: string): boolean {
  return /^[A-Za-z]=/.test(part);
}

// ---- the server ----

type Account = { keys: { salt: Buffer; iterations: number; storedKey: Buffer; serverKey: Buffer }; real: boolean };

type State =
  | { at: "start" }
  | { at: "client-first" }
  | {
      at: "client-final";
      username: string | null; // normalised; null: unknown or invalid, fail at the proof
      authzid?: string;
      gs2Header: string;
      nonce: string;
      clientFirstBare: string;
      serverFirst: string;
      account: Account;
    }
  | { at: "done" };

function fail(condition: "malformed-request" | "not-authorized" | "temporary-auth-failure", text?: string): SaslStep {
  return text === undefined ? { kind: "failure", condition } : { kind: "failure", condition, text };
}

class ScramServer implements SaslMechanism {
  readonly name: string;
  private state: State = { at: "start" };

  constructor(
    private readonly hash: ScramHash,
    private readonly backend: SaslBackend,
    readonly channel: SaslChannel,
    private readonly opts: MechanismOptions,
  ) {
    this.name = `SCRAM-${hash}`;
  }

  async start(initial: Buffer | undefined): Promise<SaslStep> {
    if (this.state.at !== "start") return this.finish(fail("malformed-request", "exchange already started"));
    this.state = { at: "client-first" };
    if (initial === undefined) return { kind: "challenge", data: Buffer.alloc(0) };
    return this.clientFirst(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    switch (this.state.at) {
      case "client-first":
        return this.clientFirst(response);
      case "client-final":
        return this.clientFinal(response);
      default:
        return this.finish(fail("malformed-request", "unexpected response"));
    }
  }

  private finish(result: SaslStep): SaslStep {
    this.state = { at: "done" };
    return result;
  }

  private async clientFirst(data: Buffer): Promise<SaslStep> {
    if (data.length > MAX_MESSAGE_BYTES) return this.finish(fail("malformed-request", "message too long"));
    const msg = decodeUtf8Message(data);
    if (msg === undefined) return this.finish(fail("malformed-request", "invalid UTF-8"));
    const parts = msg.split(",");
    if (parts.length < 4) return this.finish(fail("malformed-request", "incomplete client-first-message"));

    // gs2-header
    const cbflag = parts[0];
    if (cbflag.startsWith("p=")) {
      return this.finish(fail("malformed-request", "channel binding is not supported with this mechanism"));
    }
    if (cbflag !== "n" && cbflag !== "y") return this.finish(fail("malformed-request", "invalid gs2-cbind-flag"));
    let authzid: string | undefined;
    if (parts[1] !== "") {
      const a = attr(parts[1], "a");
      authzid = a === undefined ? undefined : unescapeSaslname(a);
      if (authzid === undefined) return this.finish(fail("malformed-request", "invalid authzid"));
    }
    const gs2Header = `${parts[0]},${parts[1]},`;

    // client-first-message-bare
    const bare = parts.slice(2);
    if (attr(bare[0], "m") !== undefined) {
      return this.finish(fail("malformed-request", "mandatory extension not supported"));
    }
    const rawName = attr(bare[0], "n");
    const name = rawName === undefined ? undefined : unescapeSaslname(rawName);
    if (name === undefined) return this.finish(fail("malformed-request", "invalid username"));
    const clientNonce = attr(bare[1], "r");
    if (clientNonce === undefined || !isPrintableNonce(clientNonce)) {
      return this.finish(fail("malformed-request", "invalid nonce"));
    }
    if (!bare.slice(2).every(isAttrVal)) return this.finish(fail("malformed-request", "invalid extension"));

    let prepped: string | undefined;
    try {
      prepped = saslprep(name);
    } catch {
      prepped = undefined;
    }
    const username = prepped === undefined || prepped === "" ? null : this.backend.normalizeUsername(prepped);

    let account: Account | undefined;
    if (username !== null) {
      try {
        const creds = await this.backend.getCredentials(username);
        account = usableKeys(this.hash, creds?.scram?.[this.hash]);
      } catch {
        return this.finish(fail("temporary-auth-failure"));
      }
    }
    account ??= this.fakeAccount(prepped ?? name);

    const serverPart = this.opts.nonce ? this.opts.nonce() : randomBytes(18).toString("base64");
    if (!isPrintableNonce(serverPart)) throw new Error("SCRAM nonce generator returned an invalid nonce");
    const nonce = clientNonce + serverPart;
    const serverFirst = `r=${nonce},s=${account.keys.salt.toString("base64")},i=${account.keys.iterations}`;
    this.state = {
      at: "client-final",
      username: account.real ? username : null,
      gs2Header,
      nonce,
      clientFirstBare: bare.join(","),
      serverFirst,
      account,
      ...(authzid === undefined ? {} : { authzid }),
    };
    return { kind: "challenge", data: Buffer.from(serverFirst, "utf8") };
  }

  private fakeAccount(name: string): Account {
    const secret = this.opts.fakeSaltSecret ?? processFakeSaltSecret;
    const salt = createHmac("sha256", secret).update(`${this.hash}\0${name}`).digest().subarray(0, SCRAM_SALT_BYTES);
    const len = hashLength(this.hash);
    return {
      keys: {
        salt,
        iterations: this.opts.fakeIterations ?? DEFAULT_SCRAM_ITERATIONS,
        storedKey: randomBytes(len),
        serverKey: randomBytes(len),
      },
      real: false,
    };
  }

  private async clientFinal(data: Buffer): Promise<SaslStep> {
    const st = this.state;
    if (st.at !== "client-final") return this.finish(fail("malformed-request"));
    if (data.length > MAX_MESSAGE_BYTES) return this.finish(fail("malformed-request", "message too long"));
    const msg = decodeUtf8Message(data);
    if (msg === undefined) return this.finish(fail("malformed-request", "invalid UTF-8"));
    const parts = msg.split(",");
    if (parts.length < 3) return this.finish(fail("malformed-request", "incomplete client-final-message"));

    const cbind = attr(parts[0], "c");
    const nonce = attr(parts[1], "r");
    const proofB64 = attr(parts[parts.length - 1], "p");
    if (cbind === undefined || nonce === undefined || proofB64 === undefined) {
      return this.finish(fail("malformed-request", "client-final-message needs c=, r= and p="));
    }
    if (!parts.slice(2, -1).every(isAttrVal)) return this.finish(fail("malformed-request", "invalid extension"));

    const cbindData = decodeBase64Strict(cbind);
    if (cbindData === undefined) return this.finish(fail("malformed-request", "invalid base64 in c="));
    if (!cbindData.equals(Buffer.from(st.gs2Header, "utf8"))) {
      return this.finish(fail("malformed-request", "channel binding data does not match"));
    }
    if (nonce !== st.nonce) return this.finish(fail("malformed-request", "nonce does not match"));
    const proof = decodeBase64Strict(proofB64);
    if (proof === undefined) return this.finish(fail("malformed-request", "invalid base64 in p="));
    const len = hashLength(this.hash);
    if (proof.length !== len) return this.finish(fail("malformed-request", "proof has the wrong length"));

    const withoutProof = parts.slice(0, -1).join(",");
    const authMessage = `${st.clientFirstBare},${st.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = st.account.keys;
    const clientSignature = scramHmac(this.hash, storedKey, authMessage);
    const clientKey = Buffer.alloc(len);
    for (let i = 0; i < len; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const matches = timingSafeEqual(scramH(this.hash, clientKey), storedKey);
    if (!matches || st.username === null) return this.finish(fail("not-authorized"));

    const serverSignature = scramHmac(this.hash, serverKey, authMessage);
    const success: SaslStep = {
      kind: "success",
      data: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8"),
      username: st.username,
      ...(st.authzid === undefined ? {} : { authzid: st.authzid }),
    };
    return this.finish(success);
  }
}

/** Stored keys in a form we can use, or undefined when missing or damaged. */
function usableKeys(hash: ScramHash, keys: ScramKeys | undefined): Account | undefined {
  if (!keys || typeof keys.salt !== "string" || typeof keys.storedKey !== "string") return undefined;
  if (typeof keys.serverKey !== "string") return undefined;
  const salt = decodeBase64Strict(keys.salt);
  const storedKey = decodeBase64Strict(keys.storedKey);
  const serverKey = decodeBase64Strict(keys.serverKey);
  const len = hashLength(hash);
  if (!salt || salt.length === 0 || storedKey?.length !== len || serverKey?.length !== len) return undefined;
  if (!Number.isSafeInteger(keys.iterations) || keys.iterations < 1) return undefined;
  return { keys: { salt, iterations: keys.iterations, storedKey, serverKey }, real: true };
}

/** The server side of SCRAM-SHA-1 or SCRAM-SHA-256 for one exchange. */
export function createScramMechanism(
  hash: ScramHash,
  backend: SaslBackend,
  channel: SaslChannel,
  opts: MechanismOptions = {},
): SaslMechanism {
  return new ScramServer(hash, backend, channel, opts);
}
