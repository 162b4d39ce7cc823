// Certificates for federation tests, made with the openssl command line: a test CA that every server
// of a test trusts (certificates it issues authenticate with SASL EXTERNAL, XEP-0178), and
// self-signed certificates nobody trusts (those servers fall back to dialback, XEP-0220).

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertFiles {
  cert: string;
  key: string;
  /** Certificate followed by its key, in one file (ejabberd's `certfiles`). */
  combined: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A certificate for `domain` and its subdomains (its components), with the XMPP server's names as SANs. */
function extensions(domain: string, ca: boolean): string {
  if (ca) return "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
  return [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth,clientAuth",
    `subjectAltName=DNS:${domain},DNS:*.${domain}`,
    "subjectKeyIdentifier=hash",
    "",
  ].join("\n");
}

function combine(dir: string, name: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const combined = join(dir, `${name}.pem`);
  writeFileSync(combined, readFileSync(cert, "utf8") + readFileSync(key, "utf8"));
  return { cert, key, combined };
}

export class TestCa {
  readonly cert: string;
  private readonly key: string;
  private serial = 1;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.cert = join(dir, "ca.crt");
    this.key = join(dir, "ca.key");
    writeFileSync(join(dir, "ca.ext"), extensions("", true));
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", this.key, "-out", this.cert, "-days", "2", "-subj", "/CN=Herald interop test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  }

  /** A certificate for domain (and *.domain) signed by this CA. */
  issue(domain: string): CertFiles {
    const name = domain;
    writeFileSync(join(this.dir, `${name}.ext`), extensions(domain, false));
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${domain}`], this.dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", this.cert, "-CAkey", this.key, "-set_serial", String(++this.serial), "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`], this.dir);
    return combine(this.dir, name);
  }
}

/** A self-signed certificate for domain (and *.domain): valid names, but no one trusts it. */
export function selfSigned(dir: string, domain: string): CertFiles {
  mkdirSync(dir, { recursive: true });
  const name = `${domain}.self`;
  writeFileSync(join(dir, `${name}.ext`), extensions(domain, false));
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${domain}`, "-extensions", "v3", "-config", writeReqConfig(dir, name, domain)], dir);
  return combine(dir, name);
}

function writeReqConfig(dir: string, name: string, domain: string): string {
  const path = join(dir, `${name}.cnf`);
  writeFileSync(path, `[req]\ndistinguished_name = dn\n[dn]\n[v3]\n${extensions(domain, false)}`);
  return path;
}
