// Certificates from the config: `certificate`/`key`, Prosody's `certificates` directory, else generated.
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { generateSelfSigned } from "../../src/net/certs.js";
import { startTestServer } from "../helpers/harness.js";

const dir = mkdtempSync(join(tmpdir(), "herald-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function peerCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1", servername, rejectUnauthorized: false }, () => {
      resolve(new X509Certificate(s.getPeerCertificate(true).raw));
      s.end();
    });
    s.on("error", reject);
  });
}

describe("certificates", () => {
  it("uses certificate/key per host, the certificates directory, and generates one otherwise, chosen by SNI", async () => {
    const explicit = generateSelfSigned(["one.test"]);
    writeFileSync(join(dir, "one.pem"), explicit.cert);
    writeFileSync(join(dir, "one.key"), explicit.key);
    const certsDir = join(dir, "certs");
    mkdirSync(join(certsDir, "two.test"), { recursive: true });
    const fromDir = generateSelfSigned(["two.test"]);
    writeFileSync(join(certsDir, "two.test", "fullchain.pem"), fromDir.cert);
    writeFileSync(join(certsDir, "two.test", "privkey.pem"), fromDir.key);

    const ts = await startTestServer({
      config: `certificates = ${JSON.stringify(certsDir)}
VirtualHost "one.test"
  certificate = ${JSON.stringify(join(dir, "one.pem"))}
  key = ${JSON.stringify(join(dir, "one.key"))}
VirtualHost "two.test"
VirtualHost "three.test"
`,
    });
    try {
      expect((await peerCertificate(ts.tlsPort, "one.test")).subject).toContain("CN=one.test");
      expect((await peerCertificate(ts.tlsPort, "two.test")).subject).toContain("CN=two.test");
      const generated = await peerCertificate(ts.tlsPort, "three.test");
      expect(generated.subject).toContain("CN=three.test");
      expect(generated.checkHost("three.test")).toBe("three.test");
    } finally {
      await ts.stop();
    }
  });
});
