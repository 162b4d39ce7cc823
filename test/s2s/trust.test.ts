// Which remote servers are trusted, and how they must prove who they are:
//  - `ssl = { capath = DIR }`: a directory of CA certificates as `openssl rehash` (c_rehash) leaves
//    it, hash-named links to the PEM files, is trusted for SASL EXTERNAL (XEP-0178) as ssl.cafile is;
//  - `s2s_secure_domains` alone (s2s_secure_auth off): the domains listed must present a valid
//    certificate, dialback is refused for them both ways, while every other domain still uses dialback.

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { A, B, login, makePki, startFederation, startPair, type Pair } from "./helpers.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { TestServer } from "../helpers/harness.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition } from "../helpers/errors.js";

let n = 0;
const id = () => `t${++n}`;

/** The next stanza matching `pred` (others are skipped). */
const waitFor = (c: RawClient, pred: (el: Element) => boolean, timeoutMs = 15000): Promise<Element> => c.nextWhere(pred, timeoutMs);

const s2sOf = (ts: TestServer, direction: "in" | "out", remote: string) => ts.server.s2s!.list().find((s) => s.direction === direction && s.remote === remote);

describe("ssl = { capath = DIR }, a hashed CA directory", () => {
  const dirs: string[] = [];
  let pair: Pair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /**
   * A directory laid out as /etc/ssl/certs: links to CA files kept elsewhere, and the hash-named
   * links to those that `openssl rehash` makes (what OpenSSL looks a CA up by).
   */
  function hashedDir(caFiles: string[]): string {
    const files = mkdtempSync(join(tmpdir(), "herald-s2s-cafiles-"));
    const dir = mkdtempSync(join(tmpdir(), "herald-s2s-capath-"));
    dirs.push(files, dir);
    for (const [i, f] of caFiles.entries()) {
      const copy = join(files, `ca${i}.pem`);
      copyFileSync(f, copy);
      symlinkSync(copy, join(dir, `ca${i}.pem`));
    }
    const r = spawnSync("openssl", ["rehash", dir], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const hashed = readdirSync(dir).filter((name) => /^[0-9a-f]{8}\.\d+$/.test(name));
    expect(hashed.length).toBe(caFiles.length);
    return dir;
  }

  it("trusts the CAs of the directory: the peers authenticate each other by SASL EXTERNAL", async () => {
    const pki = makePki([A.domain, B.domain]);
    // A second CA in the directory, as in a real one (another name: OpenSSL finds an issuer by its name).
    const other = makePki(["unrelated.test"], "Another test CA");
    const capath = hashedDir([other.caFile, pki.caFile]);
    pair = await startPair({ pki, ssl: `ssl = { capath = ${JSON.stringify(capath)} }` });
    const alice = await login(pair.a, "alice", A.domain);
    const ping = await alice.iq(`<iq type='get' to='${B.domain}' id='${id()}'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
    expect(ping.attrs.type).toBe("result");
    expect(s2sOf(pair.a, "out", B.domain)).toMatchObject({ ready: true, secure: true, auth: "external" });
    expect(s2sOf(pair.b, "in", A.domain)?.auth).toBe("external");
    alice.close();
  });

  it("without the test CA in the directory the same certificates only allow dialback", async () => {
    const pki = makePki([A.domain, B.domain]);
    const other = makePki(["unrelated.test"], "Another test CA");
    const capath = hashedDir([other.caFile]);
    pair = await startPair({ pki, ssl: `ssl = { capath = ${JSON.stringify(capath)} }` });
    const alice = await login(pair.a, "alice", A.domain);
    const ping = await alice.iq(`<iq type='get' to='${B.domain}' id='${id()}'><ping xmlns='urn:xmpp:ping'/></iq>`, 20000);
    expect(ping.attrs.type).toBe("result");
    expect(s2sOf(pair.a, "out", B.domain)).toMatchObject({ ready: true, auth: "dialback" });
    alice.close();
  });
});

describe("s2s_secure_domains alone (s2s_secure_auth = false)", () => {
  const C = { domain: "c.test", ip: "127.0.0.5" };
  let fed: Awaited<ReturnType<typeof startFederation>>;
  let a: TestServer, b: TestServer, c: TestServer;
  beforeAll(async () => {
    // Every certificate is self-signed: only dialback can authenticate anyone.
    fed = await startFederation([
      { ...A, users: ["alice"], extra: `s2s_secure_auth = false\ns2s_secure_domains = { "${B.domain}" }` },
      { ...B, users: ["bob"] },
      { ...C, users: ["carl"] },
    ]);
    [a, b, c] = fed.servers;
  });
  afterAll(async () => {
    await fed?.stop();
  });

  it("refuses dialback for the listed domain both ways, and bounces what goes there", async () => {
    const alice = await login(a, "alice", A.domain);
    const bob = await login(b, "bob", B.domain);
    alice.send("<presence/>");
    bob.send("<presence/>");
    // a.test → b.test: b.test's certificate is not valid, so a.test does not connect by dialback.
    alice.send(`<message type='chat' to='bob@${B.domain}' id='m1'><body>to b</body></message>`);
    const bounced = await waitFor(alice, (e) => e.name === "message" && e.attrs.id === "m1");
    expect(bounced.attrs.type).toBe("error");
    expect(errorCondition(bounced)).toBe("remote-server-not-found");
    expect(s2sOf(a, "out", B.domain)).toBeUndefined();
    // b.test → a.test: b.test (which has no such policy) offers dialback, and a.test refuses it.
    bob.send(`<message type='chat' to='alice@${A.domain}' id='m2'><body>to a</body></message>`);
    const refused = await waitFor(bob, (e) => e.name === "message" && e.attrs.id === "m2");
    expect(refused.attrs.type).toBe("error");
    expect(errorCondition(refused)).toBe("remote-server-not-found");
    expect(s2sOf(a, "in", B.domain)).toBeUndefined();
    // Nothing of bob's reached alice.
    alice.send(`<iq type='get' to='${A.domain}' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const upTo = await waitFor(alice, (e) => e.attrs.id === "sync" || (e.name === "message" && e.getChildText("body") === "to a"));
    expect(upTo.attrs.id).toBe("sync");
    alice.close();
    bob.close();
  });

  it("still uses dialback with every other domain, both ways", async () => {
    const alice = await login(a, "alice", A.domain, "other");
    const carl = await login(c, "carl", C.domain);
    alice.send("<presence/>");
    carl.send("<presence/>");
    alice.send(`<message type='chat' to='carl@${C.domain}' id='m3'><body>to c</body></message>`);
    const m3 = await waitFor(carl, (e) => e.name === "message" && e.getChildText("body") === "to c");
    expect(m3.attrs.from).toBe(alice.jid);
    carl.send(`<message type='chat' to='${alice.jid}' id='m4'><body>to a from c</body></message>`);
    const m4 = await waitFor(alice, (e) => e.name === "message" && e.getChildText("body") === "to a from c");
    expect(m4.attrs.from).toBe(carl.jid);
    expect(s2sOf(a, "out", C.domain)).toMatchObject({ ready: true, secure: true, auth: "dialback" });
    expect(s2sOf(a, "in", C.domain)?.auth).toBe("dialback");
    alice.close();
    carl.close();
  });
});
