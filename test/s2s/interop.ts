// Herald federating with a real foreign server (Debian's Prosody or ejabberd), started once per test
// file: two domains on each side, one pair with certificates of a test CA both servers trust (SASL
// EXTERNAL, XEP-0178, must be what authenticates them: each lists the other in s2s_secure_domains)
// and one pair with self-signed certificates (dialback, XEP-0220). The cases (./cases.ts) run both ways.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { Contact, federationCases, PASSWORD, USERS, type Side } from "./cases.js";
import { connectComponent } from "../component/helpers.js";
import { generateSelfSigned } from "../../src/net/certs.js";
import { makePki } from "./helpers.js";
import { addHostsEntries, loopbackPair, peerMissing, startPeer, writeCertFiles, type PeerKind, type PeerServer } from "./peers.js";

const MODULES = ["roster", "presence", "message", "disco", "ping", "pep", "offline"];

export function interopSuite(kind: PeerKind, peerName: string): void {
  const missing = peerMissing(kind);
  if (missing) console.warn(missing);

  describe.skipIf(missing !== undefined)(`Herald ↔ ${peerName}`, () => {
    const tag = randomBytes(3).toString("hex");
    const [heraldIp, peerIp] = loopbackPair();
    const d = {
      heraldCa: `herald-ca-${tag}.test`,
      heraldSelf: `herald-self-${tag}.test`,
      peerCa: `${kind}-ca-${tag}.test`,
      peerSelf: `${kind}-self-${tag}.test`,
    };
    let dir = "";
    let pkiDir = "";
    let herald: TestServer | undefined;
    let peer: PeerServer | undefined;
    let removeHosts = () => {};
    const heraldLog: string[] = [];
    /** Herald's "s2s stream ... authenticated by ..." lines (kept apart: the debug log is trimmed). */
    const authLines: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `herald-interop-${kind}-`));
      // The test CA (and its certificates for one domain of each side), and a self-signed certificate.
      const pki = makePki([d.heraldCa, d.peerCa]);
      pkiDir = pki.dir;
      const resolveHerald = {
        [d.heraldCa]: heraldIp,
        [`pubsub.${d.heraldCa}`]: heraldIp,
        [`gateway.${d.heraldCa}`]: heraldIp,
        [d.heraldSelf]: heraldIp,
        [`pubsub.${d.heraldSelf}`]: heraldIp,
      };
      const resolvePeer = { [d.peerCa]: peerIp, [`pubsub.${d.peerCa}`]: peerIp, [d.peerSelf]: peerIp, [`pubsub.${d.peerSelf}`]: peerIp };
      // Herald finds the foreign domains in /etc/hosts (as it does in production).
      removeHosts = addHostsEntries(resolvePeer);
      const heraldCert = pki.files[d.heraldCa];
      peer = await startPeer(kind, {
        dir: join(dir, kind),
        address: peerIp,
        caFile: pki.caFile,
        domains: [
          { name: d.peerCa, cert: writeCertFiles(join(dir, "certs"), d.peerCa, pki.pem[d.peerCa]) },
          { name: d.peerSelf, cert: writeCertFiles(join(dir, "certs"), d.peerSelf, generateSelfSigned([d.peerSelf, `*.${d.peerSelf}`], 2)) },
        ],
        resolve: resolveHerald,
        secureDomains: [d.heraldCa],
        users: Object.fromEntries(USERS.map((u) => [u, PASSWORD])),
      });
      herald = await startTestServer({
        config: `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
modules_enabled = { ${MODULES.map((m) => `"${m}"`).join("; ")} }
s2s_interfaces = { "${heraldIp}" }
ssl = { cafile = ${JSON.stringify(pki.caFile)} }
s2s_secure_domains = { "${d.peerCa}" }
pubsub_create_node = "local"
VirtualHost "${d.heraldCa}"
  certificate = ${JSON.stringify(heraldCert.cert)}
  key = ${JSON.stringify(heraldCert.key)}
Component "pubsub.${d.heraldCa}" "pubsub"
Component "gateway.${d.heraldCa}"
  component_secret = "interop gateway"
VirtualHost "${d.heraldSelf}"
Component "pubsub.${d.heraldSelf}" "pubsub"
`,
        ports: { s2s: [5269], s2s_direct_tls: [] },
        // The last lines of Herald's debug log, for failure messages.
        logSinks: [
          {
            level: "debug",
            write: (line: string) => {
              if (/s2s stream .* authenticated by/.test(line)) authLines.push(line);
              if (heraldLog.push(line) > 3000) heraldLog.splice(0, 1000);
            },
          },
        ],
      });
      for (const domain of [d.heraldCa, d.heraldSelf]) {
        const accounts = herald.server.accounts(domain);
        await Promise.all(USERS.map((u) => accounts.create(u, PASSWORD)));
      }
    }, 180_000);

    afterAll(async () => {
      await herald?.stop();
      await peer?.stop();
      removeHosts();
      for (const d of [dir, pkiDir]) if (d) rmSync(d, { recursive: true, force: true });
    }, 60_000);

    const heraldSide = (domain: string): Side => ({
      name: "Herald",
      domain,
      pubsub: `pubsub.${domain}`,
      get c2sPort() {
        return herald!.c2sPort;
      },
      log: () => heraldLog.join("\n"),
    });
    const peerSide = (domain: string): Side => ({
      name: peerName,
      domain,
      pubsub: `pubsub.${domain}`,
      get c2sPort() {
        return peer!.c2sPort;
      },
      log: () => peer!.log(),
    });

    federationCases("test CA (SASL EXTERNAL)", () => ({ local: heraldSide(d.heraldCa), remote: peerSide(d.peerCa) }));
    federationCases("self-signed (dialback)", () => ({ local: heraldSide(d.heraldSelf), remote: peerSide(d.peerSelf) }));

    it(`an external component on Herald and a user of ${peerName} exchange messages over s2s`, async () => {
      const gateway = `gateway.${d.heraldCa}`;
      const { c: gw, answer } = await connectComponent(herald!.componentPort, gateway, "interop gateway");
      expect(answer.name).toBe("handshake");
      const user = await Contact.online(peerSide(d.peerCa), USERS[USERS.length - 1]);
      user.c.send(`<message type='chat' to='bot@${gateway}' id='to-gw'><body>hello gateway</body></message>`);
      const m = await gw.next(20000);
      expect(m.attrs).toMatchObject({ from: user.jid, to: `bot@${gateway}` });
      expect(m.getChildText("body")).toBe("hello gateway");
      gw.send(`<message type='chat' from='bot@${gateway}/r' to='${user.jid}' id='from-gw'><body>hello ${peerName}</body></message>`);
      const back = await user.waitFor((el) => el.name === "message" && el.attrs.from === `bot@${gateway}/r`, "the component's answer");
      expect(back.getChildText("body")).toBe(`hello ${peerName}`);
      user.close();
      gw.close();
    }, 60_000);

    it("authenticated the test CA's domains with SASL EXTERNAL and the self-signed ones with dialback, both ways", () => {
      const how = (peerDomain: string, direction: "Incoming" | "Outgoing") =>
        authLines.filter((l) => l.includes(`${direction} s2s stream ${direction === "Incoming" ? "from" : "to"} ${peerDomain} `)).map((l) => /authenticated by (\w+)/.exec(l)![1]);
      const lines = `\n${authLines.join("\n")}`;
      // The peer's streams to Herald (what Herald verified) and Herald's streams to the peer.
      expect(new Set(how(d.peerCa, "Incoming")), lines).toEqual(new Set(["external"]));
      expect(new Set(how(d.peerCa, "Outgoing")), lines).toEqual(new Set(["external"]));
      expect(new Set(how(d.peerSelf, "Incoming")), lines).toEqual(new Set(["dialback"]));
      expect(new Set(how(d.peerSelf, "Outgoing")), lines).toEqual(new Set(["dialback"]));
    });
  });
}
