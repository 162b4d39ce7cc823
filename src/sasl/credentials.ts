// Stored credentials: what an account keeps instead of its password.
//
// SCRAM keys (RFC 5802 §3) for SCRAM-SHA-1 and SCRAM-SHA-256, both PBKDF2 with 10,000 iterations
// by default (Prosody keeps SCRAM-SHA-1 keys with 10,000): a password given in the clear (PLAIN) is
// checked against the SCRAM-SHA-256 keys. Only when the keys are derived with fewer iterations
// (a lower `scram_iteration_count`) is an Argon2id hash (PHC string) kept beside them for PLAIN.
// Every field is a string or a number, so the whole object is JSON-serialisable as it is.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { Algorithm, Options as Argon2Options } from "@node-rs/argon2";
import { saslprep, SaslprepError } from "./saslprep.js";
import { Semaphore } from "../util/semaphore.js";

// Argon2 (a native addon) is loaded when an account is created or a password checked with it.
const loadArgon2 = () => import("@node-rs/argon2");

/**
 * Password hashing (Argon2id and PBKDF2 both run on libuv's thread pool, as do LevelDB's reads
 * and writes and file I/O) may use at most half of the pool, so a burst of registrations or
 * password checks can never leave storage without threads. The pool has UV_THREADPOOL_SIZE
 * threads, 4 unless the environment says otherwise.
 */
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) || 4;
export const hashingSlots = new Semaphore(Math.max(1, Math.floor(POOL_SIZE / 2)));

const pbkdf2Raw = promisify(pbkdf2);
const pbkdf2Async = (password: Buffer, salt: Buffer, iterations: number, keylen: number, digest: string) =>
  hashingSlots.run(() => pbkdf2Raw(password, salt, iterations, keylen, digest));
const argon2Hash = (password: string, options: Argon2Options) => hashingSlots.run(async () => (await loadArgon2()).hash(password, options));
const argon2Verify = (hashed: string, password: string) => hashingSlots.run(async () => (await loadArgon2()).verify(hashed, password));

export type ScramHash = "SHA-1" | "SHA-256";

/** The SCRAM hashes we support, strongest first. */
export const SCRAM_HASHES: readonly ScramHash[] = ["SHA-256", "SHA-1"];

export type ScramKeys = {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
};

/**
 * What deriveCredentials() makes from a password: keys for every SCRAM hash, and an Argon2id hash
 * when those have fewer than MIN_PLAIN_CHECK_ITERATIONS iterations.
 */
export type DerivedCredentials = {
  scram: { "SHA-1": ScramKeys; "SHA-256": ScramKeys };
  argon2id?: string; // PHC string
};

/**
 * What an account keeps. Accounts imported from another server (Prosody's internal_hashed keeps
 * SCRAM-SHA-1 keys only) may lack some SCRAM hashes and the Argon2id hash until their password is
 * next seen (a PLAIN login or a password change): see isComplete().
 */
export type StoredCredentials = {
  scram: { "SHA-1"?: ScramKeys; "SHA-256"?: ScramKeys };
  argon2id?: string; // PHC string; absent or "" for imported SCRAM-only credentials
};

/**
 * Credentials with keys for every SCRAM hash and a way to check a PLAIN password no weaker than
 * Prosody's (SCRAM-SHA-256 keys of at least MIN_PLAIN_CHECK_ITERATIONS, or an Argon2id hash):
 * nothing to upgrade.
 */
export function isComplete(creds: StoredCredentials): boolean {
  if (!SCRAM_HASHES.every((h) => creds.scram?.[h] !== undefined)) return false;
  return plainCheckKeys(creds) !== undefined || (typeof creds.argon2id === "string" && creds.argon2id !== "");
}

export const DEFAULT_SCRAM_ITERATIONS = 10000;
export const SCRAM_SALT_BYTES = 16;

// Argon2id, with the OWASP-recommended minimum: m=19456 KiB, t=2, p=1.
const ARGON2ID = 2 as Algorithm; // Algorithm.Argon2id (an ambient const enum, not importable as a value here)
const ARGON2_OPTIONS: Argon2Options = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

const NODE_HASH: Record<ScramHash, string> = { "SHA-1": "sha1", "SHA-256": "sha256" };
const HASH_BYTES: Record<ScramHash, number> = { "SHA-1": 20, "SHA-256": 32 };

export function hashLength(hash: ScramHash): number {
  return HASH_BYTES[hash];
}

/** H(data) */
export function scramH(hash: ScramHash, data: Buffer): Buffer {
  return createHash(NODE_HASH[hash]).update(data).digest();
}

/** HMAC(key, data) */
export function scramHmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(NODE_HASH[hash], key).update(data).digest();
}

/** SaltedPassword := Hi(Normalize(password), salt, i). `password` must already be SASLprep'd. */
export async function scramSaltedPassword(
  hash: ScramHash,
  preppedPassword: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(preppedPassword, "utf8"), salt, iterations, HASH_BYTES[hash], NODE_HASH[hash]);
}

/** ClientKey, StoredKey and ServerKey from a SaltedPassword. */
export function scramKeysFromSaltedPassword(
  hash: ScramHash,
  saltedPassword: Buffer,
): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = scramHmac(hash, saltedPassword, "Client Key");
  return {
    clientKey,
    storedKey: scramH(hash, clientKey),
    serverKey: scramHmac(hash, saltedPassword, "Server Key"),
  };
}

/**
 * Prepare a password with SASLprep; throws for prohibited or empty passwords. A password being set
 * is a stored string (`stored`: unassigned code points refused, RFC 5802 §2.2); one being checked
 * is prepared as a query, so a password set before that rule still matches.
 */
export function preparePassword(password: string, opts: { stored?: boolean } = {}): string {
  const prepped = saslprep(password, opts);
  if (prepped === "") throw new SaslprepError("empty password");
  return prepped;
}

/** Derive the SCRAM keys of one hash from a (not yet prepared) password. Random salt unless given. */
export async function deriveScramKeys(
  hash: ScramHash,
  password: string,
  opts: { iterations?: number; salt?: Buffer } = {},
): Promise<ScramKeys> {
  return deriveKeysPrepped(hash, preparePassword(password, { stored: true }), checkIterations(opts.iterations), opts.salt);
}

async function deriveKeysPrepped(
  hash: ScramHash,
  prepped: string,
  iterations: number,
  salt: Buffer = randomBytes(SCRAM_SALT_BYTES),
): Promise<ScramKeys> {
  const salted = await scramSaltedPassword(hash, prepped, salt, iterations);
  const keys = scramKeysFromSaltedPassword(hash, salted);
  return {
    salt: salt.toString("base64"),
    iterations,
    storedKey: keys.storedKey.toString("base64"),
    serverKey: keys.serverKey.toString("base64"),
  };
}

function checkIterations(iterations: number | undefined): number {
  const i = iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isSafeInteger(i) || i < 1) throw new RangeError(`invalid SCRAM iteration count ${i}`);
  return i;
}

/**
 * Derive everything an account stores from its password. The password is SASLprep'd first
 * (SaslprepError for prohibited characters or an empty result); the password itself is not kept.
 */
export async function deriveCredentials(
  password: string,
  opts: { iterations?: number } = {},
): Promise<DerivedCredentials> {
  const prepped = preparePassword(password, { stored: true });
  const iterations = checkIterations(opts.iterations);
  // PLAIN is checked against the SCRAM-SHA-256 keys when they are strong enough; then an Argon2id
  // hash (~17 ms of CPU and 19 MiB per account creation or password change) would add nothing.
  const [sha1, sha256, argon2id] = await Promise.all([
    deriveKeysPrepped("SHA-1", prepped, iterations),
    deriveKeysPrepped("SHA-256", prepped, iterations),
    iterations < MIN_PLAIN_CHECK_ITERATIONS ? argon2Hash(prepped, ARGON2_OPTIONS) : undefined,
  ]);
  return argon2id === undefined ? { scram: { "SHA-1": sha1, "SHA-256": sha256 } } : { scram: { "SHA-1": sha1, "SHA-256": sha256 }, argon2id };
}

/** The SCRAM-SHA-256 keys a PLAIN password may be checked against (enough iterations), if any. */
function plainCheckKeys(creds: StoredCredentials): ScramKeys | undefined {
  const sha256 = creds.scram?.["SHA-256"];
  return sha256 && Number.isSafeInteger(sha256.iterations) && sha256.iterations >= MIN_PLAIN_CHECK_ITERATIONS ? sha256 : undefined;
}

/**
 * The least PBKDF2 iteration count of stored SCRAM-SHA-256 keys that a password check (PLAIN) may
 * use instead of the Argon2id hash: Prosody's default. Keys with fewer iterations (an account
 * created with a lower `scram_iteration_count`) are checked with Argon2id as before.
 */
export const MIN_PLAIN_CHECK_ITERATIONS = 10000;

let dummyKeys: Promise<ScramKeys> | undefined;

/** SCRAM-SHA-256 keys of a random password, with our parameters: checking a password against
 * them costs what a real check costs, so unknown users take as long as known ones. */
function dummyScramKeys(): Promise<ScramKeys> {
  dummyKeys ??= deriveKeysPrepped("SHA-256", randomBytes(24).toString("base64"), DEFAULT_SCRAM_ITERATIONS);
  return dummyKeys;
}

/** Burn the time of one password verification (for unknown users); always false. */
export async function verifyDummyPassword(password: string): Promise<false> {
  await verifyAgainstScramKeys("SHA-256", await dummyScramKeys(), password).catch(() => false);
  return false;
}

/**
 * Check a password against stored credentials. The password is SASLprep'd (failure: false).
 * Uses the SCRAM-SHA-256 keys when they were derived with at least MIN_PLAIN_CHECK_ITERATIONS
 * (PBKDF2, a few milliseconds: what the keys already stored for SCRAM protect, no weaker than
 * Prosody's PBKDF2-SHA-1 with 10,000 iterations), else the Argon2id hash when there is one (about
 * 15 ms of CPU per check), else the SCRAM keys there are (imported credentials). Comparisons are
 * constant-time.
 */
export async function verifyPassword(creds: StoredCredentials, password: string): Promise<boolean> {
  let prepped: string;
  try {
    prepped = preparePassword(password);
  } catch {
    return verifyDummyPassword(password);
  }
  const sha256 = plainCheckKeys(creds);
  if (sha256) return verifyAgainstScramKeys("SHA-256", sha256, prepped);
  if (typeof creds.argon2id === "string" && creds.argon2id !== "") {
    try {
      return await argon2Verify(creds.argon2id, prepped);
    } catch {
      return false; // unparseable hash
    }
  }
  for (const hash of SCRAM_HASHES) {
    const keys = creds.scram?.[hash];
    if (keys) return verifyAgainstScramKeys(hash, keys, prepped);
  }
  return false;
}

async function verifyAgainstScramKeys(hash: ScramHash, keys: ScramKeys, prepped: string): Promise<boolean> {
  const stored = Buffer.from(keys.storedKey, "base64");
  if (stored.length !== HASH_BYTES[hash] || !Number.isSafeInteger(keys.iterations) || keys.iterations < 1) {
    return false;
  }
  const salted = await scramSaltedPassword(hash, prepped, Buffer.from(keys.salt, "base64"), keys.iterations);
  return timingSafeEqual(scramKeysFromSaltedPassword(hash, salted).storedKey, stored);
}
