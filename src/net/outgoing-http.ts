// HTTP requests Herald makes to URLs its users give it (pubsub webhooks), guarded against
// server-side request forgery: a user must not make the server reach loopback, the private network or
// a cloud metadata service (169.254.169.254) on their behalf.
//
// The address is checked where the connection is made: a name is resolved once, its non-public
// addresses are dropped, and the socket connects to one of the addresses that passed (so a name that
// resolves to a public address when checked and to 127.0.0.1 when connecting, DNS rebinding, gets
// nowhere). Redirects are never followed: a 3xx answer is the answer.

import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { addressFilter, isNonPublicAddress, normalizeAddress } from "../util/ip.js";

/** Which addresses outgoing requests may reach. */
export interface AddressPolicy {
  allows(addr: string): boolean;
  /** What the refusal tells the user (the options that would permit it). */
  readonly hint: string;
}

/**
 * Public addresses only, unless `allowPrivate`; `allowed` lists addresses and CIDR ranges reachable
 * even though they are not public (an internal receiver). `hint` names the options.
 */
export function addressPolicy(opts: { allowPrivate: boolean; allowed?: readonly string[]; hint: string }): AddressPolicy & { invalid: string[] } {
  const entries = opts.allowed ?? [];
  const extra = addressFilter(
    entries.filter((e) => !e.includes("/")),
    entries.filter((e) => e.includes("/")),
  );
  return {
    hint: opts.hint,
    invalid: extra.invalid,
    allows: (addr) => opts.allowPrivate || !isNonPublicAddress(addr) || extra.allows(addr),
  };
}

/** A request refused because its target is not an address the policy allows. */
export class BlockedAddressError extends Error {
  readonly code = "ERR_HERALD_BLOCKED_ADDRESS";
}

function blockedText(host: string, addresses: string[], policy: AddressPolicy): string {
  const what = addresses.length === 1 && addresses[0] === host ? `${host} is not a public address` : `${host} resolves only to addresses that are not public (${addresses.join(", ")})`;
  return `${what}; ${policy.hint}`;
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * Check a URL before it is stored (a user configuring a webhook): its host, or every address its
 * name resolves to now. undefined when acceptable (a name that does not resolve yet is: delivery
 * checks again), else the reason.
 */
export async function refusedTarget(url: URL, policy: AddressPolicy): Promise<string | undefined> {
  const host = hostOf(url);
  if (isIP(host)) return policy.allows(host) ? undefined : blockedText(host, [host], policy);
  const found = await new Promise<LookupAddress[]>((resolve) => dnsLookup(host, { all: true }, (err, list) => resolve(err ? [] : list)));
  if (found.length === 0 || found.some((a) => policy.allows(a.address))) return undefined;
  return blockedText(host, found.map((a) => normalizeAddress(a.address)), policy);
}

/** net.connect's lookup that resolves once and hands on only the addresses the policy allows. */
function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { family: options.family, hints: options.hints, all: true }, (err, list) => {
      if (err) return callback(err, "", 0);
      const ok = list.filter((a) => policy.allows(a.address));
      if (ok.length === 0) {
        return callback(new BlockedAddressError(blockedText(hostname, list.map((a) => normalizeAddress(a.address)), policy)), "", 0);
      }
      if (options.all) (callback as unknown as (e: null, l: LookupAddress[]) => void)(null, ok);
      else callback(null, ok[0].address, ok[0].family);
    });
  };
}

export interface GuardedPost {
  headers: Record<string, string>;
  body: string | Buffer;
  timeoutMs: number;
  policy: AddressPolicy;
}

/**
 * POST `body` to `url` and resolve with the answer's status (its body is not read). Rejects with
 * BlockedAddressError when the target's address is not allowed, or with the connection's error.
 */
export function guardedPost(url: URL, opts: GuardedPost): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (url.protocol !== "http:" && url.protocol !== "https:") return reject(new Error(`not an http(s) URL: ${url.protocol}`));
    const host = hostOf(url);
    const literal = isIP(host) !== 0;
    if (literal && !opts.policy.allows(host)) return reject(new BlockedAddressError(blockedText(host, [host], opts.policy)));
    const body = typeof opts.body === "string" ? Buffer.from(opts.body) : opts.body;
    const headers: Record<string, string> = { ...opts.headers, "content-length": String(body.length) };
    if (url.username || url.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    }
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    let settled = false;
    const req = request({
      protocol: url.protocol,
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: "POST",
      headers,
      // A connection of its own each time, so the lookup (and its check) runs for every request.
      agent: false,
      lookup: literal ? undefined : guardedLookup(opts.policy),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    req.on("response", (res: IncomingMessage) => {
      settled = true;
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on("error", (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err.name === "AbortError" ? new Error(`no answer within ${opts.timeoutMs / 1000} s`) : err);
    });
    req.end(body);
  });
}
