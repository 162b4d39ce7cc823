// JIDs (RFC 7622) as plain strings, with preparation of each part.
//
// Localparts follow the UsernameCaseMapped profile (width-mapped with NFKC, case-folded, NFC),
// domainparts are lower-cased and NFKC-normalised (IDNA labels are kept in their Unicode form),
// resourceparts follow OpaqueString (NFKC, no case folding). Each part is at most 1023 bytes.

export interface JidParts {
  node?: string;
  domain: string;
  resource?: string;
}

const MAX_PART_BYTES = 1023;

/** Split without preparation. Returns undefined for a JID with an empty part. RFC 7622 §3.1 */
export function jidSplit(jid: string): JidParts | undefined {
  const slash = jid.indexOf("/");
  const head = slash < 0 ? jid : jid.slice(0, slash);
  const resource = slash < 0 ? undefined : jid.slice(slash + 1);
  const at = head.indexOf("@");
  const node = at < 0 ? undefined : head.slice(0, at);
  const domain = at < 0 ? head : head.slice(at + 1);
  if (domain === "" || node === "" || resource === "") return undefined;
  return { node, domain, resource };
}

export function jidJoin(node: string | undefined, domain: string, resource?: string): string {
  let s = node !== undefined ? `${node}@${domain}` : domain;
  if (resource !== undefined) s += `/${resource}`;
  return s;
}

/** The bare JID (no resource), unprepped. */
export function jidBare(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? jid : jid.slice(0, slash);
}

export function jidHost(jid: string): string {
  const bare = jidBare(jid);
  const at = bare.indexOf("@");
  return at < 0 ? bare : bare.slice(at + 1);
}

export function jidNode(jid: string): string | undefined {
  const bare = jidBare(jid);
  const at = bare.indexOf("@");
  return at < 0 ? undefined : bare.slice(0, at);
}

export function jidResource(jid: string): string | undefined {
  const slash = jid.indexOf("/");
  return slash < 0 ? undefined : jid.slice(slash + 1);
}

function tooLong(s: string): boolean {
  return s.length > MAX_PART_BYTES || Buffer.byteLength(s, "utf8") > MAX_PART_BYTES;
}

// RFC 7622 §3.3.1: characters a localpart may not contain; plus controls and whitespace.
const NODE_FORBIDDEN = /["&'/:<>@\s\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u;
const RESOURCE_FORBIDDEN = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u;
const DOMAIN_FORBIDDEN = /[\s\p{Cc}\p{Cs}\p{Co}\p{Cn}@/\\"'<>&]/u;

const cache = new Map<string, string | null>();
const CACHE_MAX = 10000;

export function nodePrep(node: string): string | undefined {
  if (node === "") return undefined;
  const out = node.normalize("NFKC").toLowerCase().normalize("NFC");
  if (out === "" || tooLong(out) || NODE_FORBIDDEN.test(out)) return undefined;
  return out;
}

export function namePrep(domain: string): string | undefined {
  let out = domain.normalize("NFKC").toLowerCase();
  if (out.endsWith(".")) out = out.slice(0, -1); // RFC 7622 §3.2: trailing dot is stripped
  if (out === "" || tooLong(out)) return undefined;
  if (out.startsWith("[") && out.endsWith("]")) {
    // IPv6 literal
    return /^\[[0-9a-f:.]+\]$/.test(out) ? out : undefined;
  }
  if (DOMAIN_FORBIDDEN.test(out)) return undefined;
  for (const label of out.split(".")) {
    if (label === "" || label.length > 63 || label.startsWith("-") || label.endsWith("-")) return undefined;
  }
  return out;
}

export function resourcePrep(resource: string): string | undefined {
  if (resource === "") return undefined;
  const out = resource.normalize("NFKC");
  if (out === "" || tooLong(out) || RESOURCE_FORBIDDEN.test(out)) return undefined;
  return out;
}

/** The canonical form of a JID, or undefined when it is not a valid JID. */
export function jidPrep(jid: string): string | undefined {
  const hit = cache.get(jid);
  if (hit !== undefined) return hit ?? undefined;
  const parts = jidSplit(jid);
  let out: string | undefined;
  if (parts) {
    const domain = namePrep(parts.domain);
    const node = parts.node === undefined ? undefined : nodePrep(parts.node);
    const resource = parts.resource === undefined ? undefined : resourcePrep(parts.resource);
    if (domain !== undefined && (parts.node === undefined || node !== undefined) && (parts.resource === undefined || resource !== undefined)) {
      out = jidJoin(node, domain, resource);
    }
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(jid, out ?? null);
  return out;
}

/** The prepared bare JID, or undefined. */
export function jidPrepBare(jid: string): string | undefined {
  const p = jidPrep(jid);
  return p === undefined ? undefined : jidBare(p);
}
