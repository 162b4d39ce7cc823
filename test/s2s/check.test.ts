// `herald check certs` on federation: whether each host's certificate leads to a CA other servers
// trust (then they can use SASL EXTERNAL), with the system store and ssl.cafile.

import { describe, expect, it } from "vitest";
import { Config } from "../../src/config/options.js";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { checkCerts, type Reporter } from "../../bin/check-sections.js";
import { generateSelfSigned } from "../../src/net/certs.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePki } from "./helpers.js";

function collect(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, ok: (m) => lines.push(`ok ${m}`), warn: (m) => lines.push(`warn ${m}`), bad: (m) => lines.push(`FAIL ${m}`) };
}

describe("herald check certs, for s2s", () => {
  it("says which certificates other servers can verify (SASL EXTERNAL) and which only allow dialback", () => {
    const pki = makePki(["a.test"]);
    const self = generateSelfSigned(["b.test"]);
    writeFileSync(join(pki.dir, "b.crt"), self.cert);
    writeFileSync(join(pki.dir, "b.key"), self.key);
    const text = `ssl = { cafile = "ca.pem" }
VirtualHost "a.test"
certificate = "a.test.crt"
key = "a.test.key"
VirtualHost "b.test"
certificate = "b.crt"
key = "b.key"
`;
    const config = new Config(parseConfig(text, "c.cfg.lua", { env: {}, baseDir: pki.dir }));
    const r = collect();
    checkCerts(config, pki.dir, pki.dir, r);
    expect(r.lines.some((l) => l.startsWith("ok certificate") && l.includes("a.test.crt") && l.includes("leads to a trusted CA"))).toBe(true);
    expect(r.lines.some((l) => l.startsWith("warn certificate") && l.includes("b.crt") && l.includes("only authenticate b.test by dialback"))).toBe(true);

    // Without ssl.cafile the test CA is nobody's: a.test falls back to dialback too.
    const r2 = collect();
    checkCerts(new Config(parseConfig(text.replace(/^ssl = .*$/m, ""), "c.cfg.lua", { env: {}, baseDir: pki.dir })), pki.dir, pki.dir, r2);
    expect(r2.lines.some((l) => l.startsWith("warn certificate") && l.includes("a.test.crt") && l.includes("dialback"))).toBe(true);
  });
});
