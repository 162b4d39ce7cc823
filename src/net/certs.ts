// Certificates: from the config (`certificate`/`key`, globally or per host, Prosody's names), or a
// self-signed one generated on first start and kept in the data directory.
// The key pair comes from node's crypto (fast); node-forge builds the X.509 certificate.

import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import { createRequire } from "node:module";
import type forgeModule from "node-forge";

export interface CertPair {
  cert: string; // PEM
  key: string; // PEM
  source: string; // where it came from, for logs and `herald check`
}

/** A self-signed certificate for these names (the first is the subject CN), valid `days` from `start`. */
export function generateSelfSigned(names: string[], days = 3650, start = Date.now()): { cert: string; key: string } {
  // node-forge (~10 MB of heap and code) is loaded only when a certificate is made.
  // A plain require() where there is one: the single-executable bundle (CommonJS) bundles it.
  const forge = (typeof require === "function" ? require("node-forge") : createRequire(import.meta.url)("node-forge")) as typeof forgeModule;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pubPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pubPem);
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(start - 60_000);
  cert.validity.notAfter = new Date(start + days * 86400_000);
  const attrs = [{ name: "commonName", value: names[0] }, { name: "organizationName", value: "Herald self-signed" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: names.map((n) => ({ type: 2, value: n })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem) as forgeModule.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

/** Load a configured pair, checking that it parses and that key and certificate belong together. */
export function loadPair(certPath: string, keyPath: string): CertPair {
  const cert = readFileSync(certPath, "utf8");
  const key = readFileSync(keyPath, "utf8");
  createSecureContext({ cert, key }); // throws on a mismatch or a bad file
  return { cert, key, source: `${certPath} + ${keyPath}` };
}

/** The generated certificate of a host, created on first use in `<dataDir>/certs/`. */
export function selfSignedFor(host: string, dataDir: string): CertPair {
  const dir = join(dataDir, "certs");
  const certPath = join(dir, `${host}.crt`);
  const keyPath = join(dir, `${host}.key`);
  if (existsSync(certPath) && existsSync(keyPath)) return loadPair(certPath, keyPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { cert, key } = generateSelfSigned([host, `*.${host}`]);
  writeFileSync(keyPath, key, { mode: 0o600 });
  writeFileSync(certPath, cert);
  return { cert, key, source: `${certPath} (generated, self-signed)` };
}

/**
 * Prosody's `certificates` directory: `<dir>/<host>.crt` + `<dir>/<host>.key`, or the layout
 * certbot leaves, `<dir>/<host>/fullchain.pem` + `<dir>/<host>/privkey.pem`.
 */
export function findInCertificatesDir(dir: string, host: string): { cert: string; key: string } | undefined {
  const candidates = [
    { cert: join(dir, `${host}.crt`), key: join(dir, `${host}.key`) },
    { cert: join(dir, host, "fullchain.pem"), key: join(dir, host, "privkey.pem") },
  ];
  return candidates.find((c) => existsSync(c.cert) && existsSync(c.key));
}

/** Does a certificate cover this name (SAN dNSName, with one-label wildcards). */
export function certCovers(certPem: string, name: string): boolean {
  const x = new X509Certificate(certPem);
  return x.checkHost(name) !== undefined;
}

/** Secure contexts per host name, for SNI. */
export class CertStore {
  private contexts = new Map<string, SecureContext>();
  private pairs = new Map<string, CertPair>();
  private fallback?: string;

  add(host: string, pair: CertPair): void {
    this.pairs.set(host, pair);
    this.contexts.set(host, createSecureContext({ cert: pair.cert, key: pair.key }));
    this.fallback ??= host;
  }

  pair(host: string): CertPair | undefined {
    return this.pairs.get(host);
  }

  /**
   * The certificate of the first VirtualHost: what a client gets when it names no host in its TLS
   * handshake (no SNI: clients connecting by IP address) or names one Herald does not serve.
   */
  defaultPair(): CertPair | undefined {
    return this.fallback ? this.pairs.get(this.fallback) : undefined;
  }

  /** The context for an SNI name: exact host, parent host (for components), else the first. */
  context(servername: string | undefined): SecureContext | undefined {
    if (servername) {
      const exact = this.contexts.get(servername.toLowerCase());
      if (exact) return exact;
      const dot = servername.indexOf(".");
      if (dot > 0) {
        const parent = this.contexts.get(servername.slice(dot + 1).toLowerCase());
        if (parent) return parent;
      }
    }
    return this.fallback ? this.contexts.get(this.fallback) : undefined;
  }
}
