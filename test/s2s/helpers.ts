// Two Herald servers federating on loopback: a.test on 127.0.0.2 and b.test on 127.0.0.3, each told
// where the other listens with s2s_connect_overrides (no /etc/hosts edits), with certificates from a
// test CA both trust (SASL EXTERNAL) or self-signed ones (dialback). And a raw s2s client for the
// anti-spoofing tests.

import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient, RawStream } from "../helpers/xmpp-client.js";
import { freePort } from "../helpers/ports.js";

export { freePort };
import type { Element } from "../../src/xml/stanza.js";
import type { LogSink } from "../../src/util/logger.js";

export const A = { domain: "a.test", ip: "127.0.0.2" };
export const B = { domain: "b.test", ip: "127.0.0.3" };

export interface Pki {
  dir: string;
  caFile: string;
  /** cert and key files per domain */
  files: Record<string, { cert: string; key: string }>;
  pem: Record<string, { cert: string; key: string }>;
}

function keyPair(): { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pubPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { priv: forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, pub: forge.pki.publicKeyFromPem(pubPem) as forge.pki.rsa.PublicKey, keyPem };
}

/** A test CA (named `caName`) and a certificate for each domain (and its subdomains) signed by it. */
export function makePki(domains: string[], caName = "Herald test CA"): Pki {
  const dir = mkdtempSync(join(tmpdir(), "herald-s2s-pki-"));
  const ca = keyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.pub;
  caCert.serialNumber = "01";
  caCert.validity.notBefore = new Date(Date.now() - 3600_000);
  caCert.validity.notAfter = new Date(Date.now() + 86400_000);
  const caAttrs = [{ name: "commonName", value: caName }];
  caCert.setSubject(caAttrs);
  caCert.setIssuer(caAttrs);
  caCert.setExtensions([{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true, cRLSign: true }, { name: "subjectKeyIdentifier" }]);
  caCert.sign(ca.priv, forge.md.sha256.create());
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, forge.pki.certificateToPem(caCert));
  const files: Pki["files"] = {};
  const pem: Pki["pem"] = {};
  let serial = 2;
  for (const d of domains) {
    const k = keyPair();
    const c = forge.pki.createCertificate();
    c.publicKey = k.pub;
    c.serialNumber = `0${serial++}`;
    c.validity.notBefore = new Date(Date.now() - 3600_000);
    c.validity.notAfter = new Date(Date.now() + 86400_000);
    c.setSubject([{ name: "commonName", value: d }]);
    c.setIssuer(caAttrs);
    c.setExtensions([
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      // Servers present their certificate as TLS clients too (outgoing s2s).
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: d }, { type: 2, value: `*.${d}` }] },
    ]);
    c.sign(ca.priv, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(c);
    files[d] = { cert: join(dir, `${d}.crt`), key: join(dir, `${d}.key`) };
    writeFileSync(files[d].cert, certPem);
    writeFileSync(files[d].key, k.keyPem, { mode: 0o600 });
    pem[d] = { cert: certPem, key: k.keyPem };
  }
  return { dir, caFile, files, pem };
}

export const MODULES = ["roster", "presence", "message", "disco", "ping", "pep", "offline", "carbons"];

export interface Pair {
  a: TestServer;
  b: TestServer;
  ports: { a: number; b: number };
  stop(): Promise<void>;
}

/**
 * Start a.test and b.test; `pki`: certificates from the test CA (else each generates a self-signed
 * one), trusted through `ssl = { cafile }` unless `ssl` gives that line instead.
 */
export async function startPair(opts: { pki?: Pki; ssl?: string; extra?: string; secrets?: { a: string; b: string }; directTls?: boolean; logSinksA?: LogSink[] } = {}): Promise<Pair> {
  const pa = await freePort(A.ip);
  const pb = await freePort(B.ip);
  const dt = opts.directTls ? "; direct_tls = true" : "";
  const ports = (p: number) => (opts.directTls ? { s2s: [], s2s_direct_tls: [p] } : { s2s: [p], s2s_direct_tls: [] });
  const cfg = (me: typeof A, other: typeof A, otherPort: number, secret?: string) => `
admins = { "admin@${me.domain}" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
modules_enabled = { ${MODULES.map((m) => `"${m}"`).join("; ")} }
s2s_interfaces = { "${me.ip}" }
s2s_direct_tls_interfaces = { "${me.ip}" }
s2s_connect_overrides = { ["${other.domain}"] = { "${other.ip}", ${otherPort}${dt} }; ["pubsub.${other.domain}"] = { "${other.ip}", ${otherPort}${dt} } }
${opts.ssl ?? (opts.pki ? `ssl = { cafile = ${JSON.stringify(opts.pki.caFile)} }` : "")}
${secret ? `dialback_secret = "${secret}"` : ""}
${opts.extra ?? ""}
VirtualHost "${me.domain}"
${opts.pki ? `certificate = ${JSON.stringify(opts.pki.files[me.domain].cert)}\nkey = ${JSON.stringify(opts.pki.files[me.domain].key)}` : ""}
Component "pubsub.${me.domain}" "pubsub"
`;
  const a = await startTestServer({ config: cfg(A, B, pb, opts.secrets?.a), ports: ports(pa), logSinks: opts.logSinksA });
  const b = await startTestServer({ config: cfg(B, A, pa, opts.secrets?.b), ports: ports(pb) });
  for (const u of ["alice", "admin", "anne"]) await a.server.accounts(A.domain).create(u, "pw");
  for (const u of ["bob", "admin", "bea"]) await b.server.accounts(B.domain).create(u, "pw");
  return {
    a,
    b,
    ports: { a: pa, b: pb },
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

export interface FederatingServer {
  domain: string;
  ip: string;
  /** Accounts to create (password "pw"). */
  users: string[];
  /** Config lines of this server's global section. */
  extra?: string;
}

/**
 * Start several servers that federate on loopback, each told where every other one listens
 * (s2s_connect_overrides), each with a self-signed certificate (dialback) and the accounts asked
 * for. Returns them in the order given.
 */
export async function startFederation(specs: FederatingServer[]): Promise<{ servers: TestServer[]; stop(): Promise<void> }> {
  const ports = await Promise.all(specs.map((s) => freePort(s.ip)));
  const servers: TestServer[] = [];
  const stop = () => Promise.all(servers.map((s) => s.stop())).then(() => undefined);
  try {
    for (const [i, me] of specs.entries()) {
      const overrides = specs
        .filter((o) => o !== me)
        .map((o) => `["${o.domain}"] = { "${o.ip}", ${ports[specs.indexOf(o)]} }`)
        .join("; ");
      const config = `
admins = { "admin@${me.domain}" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
modules_enabled = { ${MODULES.map((m) => `"${m}"`).join("; ")} }
s2s_interfaces = { "${me.ip}" }
s2s_connect_overrides = { ${overrides} }
${me.extra ?? ""}
VirtualHost "${me.domain}"
`;
      const ts = await startTestServer({ config, ports: { s2s: [ports[i]], s2s_direct_tls: [] } });
      servers.push(ts);
      for (const u of me.users) await ts.server.accounts(me.domain).create(u, "pw");
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, stop };
}

export function login(ts: TestServer, user: string, domain: string, resource?: string): Promise<RawClient> {
  return RawClient.login(ts.c2sPort, user, "pw", { noTls: true, mechanism: "PLAIN", resource, domain });
}

/** A bare server-to-server stream, driven step by step (to be an attacker). */
export class RawS2S extends RawStream {
  streamId = "";

  static async connect(host: string, port: number): Promise<RawS2S> {
    const c = new RawS2S();
    await new Promise<void>((ok, fail) => {
      const s = netConnect({ host, port }, () => ok());
      s.once("error", fail);
      c.attach(s);
    });
    return c;
  }

  /** Open a stream from `from` to `to`; returns the features. */
  async open(from: string, to: string): Promise<Element> {
    const { attrs, features } = await this.openStream(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`);
    this.streamId = attrs.id ?? "";
    return features;
  }

  starttls(servername: string, own?: { cert: string; key: string }): Promise<void> {
    return this.startTls({ servername, cert: own?.cert, key: own?.key });
  }

  /** Wait for the stream error the server ends the stream with; returns its condition. */
  async streamError(timeoutMs = 5000): Promise<string> {
    for (;;) {
      const ev = await this.nextEvent(timeoutMs);
      if (ev.kind === "stanza" && ev.el!.name === "error" && ev.el!.attrs.xmlns === "http://etherx.jabber.org/streams") {
        return ev.el!.childElements()[0]?.name ?? "";
      }
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
