// Where to connect for a remote XMPP domain (RFC 6120 §3.2, XEP-0368): the SRV records
// `_xmpps-server._tcp` (direct TLS) and `_xmpp-server._tcp` (STARTTLS), ordered by priority and, within
// a priority, by weighted random choice (RFC 2782), direct TLS first on a tie; a "." target means the
// service is not offered. Without SRV records: the domain's own addresses (dns.lookup, so /etc/hosts
// counts) on port 5269. `s2s_connect_overrides` (the option of Prosody's community module
// mod_s2soutinjection) names a host and port for a domain instead of DNS.

// Node's resolver is loaded by the first outgoing server-to-server connection, not by a server that
// makes none.
const loadDns = async () => (await import("node:dns")).promises;

export interface S2STarget {
  host: string;
  port: number;
  directTls: boolean;
}

interface Srv {
  name: string;
  port: number;
  priority: number;
  weight: number;
  directTls: boolean;
}

/** RFC 2782 ordering: by priority, then a weighted random pick within each priority. */
export function orderSrv(records: Srv[], random: () => number = Math.random): Srv[] {
  const byPriority = new Map<number, Srv[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: Srv[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    // Direct TLS first among equals (XEP-0368 §3), zero weights last (RFC 2782).
    const left = byPriority.get(p)!.sort((a, b) => Number(b.directTls) - Number(a.directTls) || a.weight - b.weight);
    while (left.length) {
      const total = left.reduce((n, r) => n + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let at = random() * total;
        pick = left.findIndex((r) => (at -= r.weight) < 0);
        if (pick < 0) pick = left.length - 1;
      }
      out.push(left.splice(pick, 1)[0]);
    }
  }
  return out;
}

async function srv(name: string, directTls: boolean, timeoutMs: number): Promise<Srv[] | undefined> {
  const dns = await loadDns();
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 1 });
  try {
    const records = await resolver.resolveSrv(name);
    return records.map((r) => ({ ...r, directTls }));
  } catch {
    return undefined;
  }
}

/**
 * The targets to try in turn for `domain`. `override`: from s2s_connect_overrides. An empty list:
 * the domain does not offer XMPP server-to-server (a "." SRV target) or does not resolve.
 */
export async function resolveS2S(domain: string, override: S2STarget | undefined, timeoutMs = 5000): Promise<S2STarget[]> {
  if (override) return [override];
  const [tls, plain] = await Promise.all([srv(`_xmpps-server._tcp.${domain}`, true, timeoutMs), srv(`_xmpp-server._tcp.${domain}`, false, timeoutMs)]);
  const records = [...(tls ?? []), ...(plain ?? [])];
  if (records.length === 1 && records[0].name === "." ) return [];
  if (records.length) {
    const targets: S2STarget[] = [];
    for (const r of orderSrv(records.filter((x) => x.name !== "."))) {
      for (const a of await addresses(r.name)) targets.push({ host: a, port: r.port, directTls: r.directTls });
    }
    return targets;
  }
  return (await addresses(domain)).map((host) => ({ host, port: 5269, directTls: false }));
}

/** A host name's addresses, IPv6 and IPv4 (getaddrinfo: /etc/hosts first). */
async function addresses(name: string): Promise<string[]> {
  try {
    const all = await (await loadDns()).lookup(name, { all: true });
    return all.map((a) => a.address);
  } catch {
    return [];
  }
}
