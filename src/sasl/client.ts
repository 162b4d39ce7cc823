// A small SCRAM client (RFC 5802 / RFC 7677, no channel binding), for tests and benchmarks
// that need to log in.
//
//   const c = scramClient("SHA-256", "alice", "secret");
//   send(c.first());                      // client-first-message
//   send(await c.final(serverFirst));     // client-final-message
//   if (!c.verify(serverFinal)) throw ... // server-final-message (data of <success/>)

import { randomBytes, timingSafeEqual } from "node:crypto";
import { scramHmac, scramKeysFromSaltedPassword, scramSaltedPassword, type ScramHash } from "./credentials.js";
import { saslprep } from "./saslprep.js";
import { decodeBase64Strict, escapeSaslname, isPrintableNonce } from "./scram.js";

export type ScramClient = {
  /** The SASL mechanism name, e.g. "SCRAM-SHA-256". */
  readonly mechanism: string;
  /** client-first-message (the initial response). */
  first(): string;
  /** client-final-message for the server-first-message; throws if that is invalid. */
  final(serverFirst: string | Buffer): Promise<string>;
  /** Whether the server-final-message proves that the server knew the password. */
  verify(serverFinal: string | Buffer): boolean;
};

export function scramClient(
  hash: ScramHash,
  username: string,
  password: string,
  opts: { nonce?: string; authzid?: string; saltedPasswords?: Map<string, Buffer> } = {},
): ScramClient {
  const clientNonce = opts.nonce ?? randomBytes(18).toString("base64");
  if (!isPrintableNonce(clientNonce)) throw new Error("invalid client nonce");
  const gs2Header = `n,${opts.authzid === undefined ? "" : `a=${escapeSaslname(opts.authzid)}`},`;
  const clientFirstBare = `n=${escapeSaslname(prepOrKeep(username))},r=${clientNonce}`;
  let serverSignature: Buffer | undefined;

  return {
    mechanism: `SCRAM-${hash}`,

    first() {
      return gs2Header + clientFirstBare;
    },

    async final(serverFirstIn) {
      const serverFirst = text(serverFirstIn);
      const attrs = serverFirst.split(",");
      if (attrs[0]?.startsWith("m=")) throw new Error("SCRAM: server requires an unsupported extension");
      const nonce = value(attrs[0], "r");
      const saltB64 = value(attrs[1], "s");
      const iter = value(attrs[2], "i");
      if (nonce === undefined || saltB64 === undefined || iter === undefined) {
        throw new Error("SCRAM: malformed server-first-message");
      }
      if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length || !isPrintableNonce(nonce)) {
        throw new Error("SCRAM: invalid server nonce");
      }
      const salt = decodeBase64Strict(saltB64);
      const iterations = /^[1-9][0-9]{0,9}$/.test(iter) ? Number(iter) : NaN;
      if (!salt || salt.length === 0 || !Number.isSafeInteger(iterations)) {
        throw new Error("SCRAM: invalid salt or iteration count");
      }
      // A client may keep the SaltedPassword of a salt and iteration count (RFC 5802 §5.1).
      const cacheKey = `${hash}\0${saltB64}\0${iterations}\0${password}`;
      const salted = opts.saltedPasswords?.get(cacheKey) ?? (await scramSaltedPassword(hash, prepOrKeep(password), salt, iterations));
      opts.saltedPasswords?.set(cacheKey, salted);
      const { clientKey, storedKey, serverKey } = scramKeysFromSaltedPassword(hash, salted);
      const withoutProof = `c=${Buffer.from(gs2Header, "utf8").toString("base64")},r=${nonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const clientSignature = scramHmac(hash, storedKey, authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ clientSignature[i];
      serverSignature = scramHmac(hash, serverKey, authMessage);
      return `${withoutProof},p=${proof.toString("base64")}`;
    },

    verify(serverFinalIn) {
      if (!serverSignature) return false;
      const v = value(text(serverFinalIn).split(",")[0], "v");
      const got = v === undefined ? undefined : decodeBase64Strict(v);
      return got !== undefined && got.length === serverSignature.length && timingSafeEqual(got, serverSignature);
    },
  };
}

function prepOrKeep(s: string): string {
  try {
    return saslprep(s);
  } catch {
    return s;
  }
}

function text(data: string | Buffer): string {
  return typeof data === "string" ? data : data.toString("utf8");
}

function value(part: string | undefined, name: string): string | undefined {
  return part?.startsWith(`${name}=`) ? part.slice(name.length + 1) : undefined;
}
