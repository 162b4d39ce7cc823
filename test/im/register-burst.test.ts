// A burst of in-band registrations must not starve everyone else's storage: password hashing
// (Argon2id, PBKDF2) and LevelDB share libuv's thread pool, and hashing may only use part of it.
// Real LevelDB, real sockets; the figures are printed, the assertion is deliberately generous.

import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_max_unauthenticated_per_ip = 100
modules_enabled = { "register"; "private" }
VirtualHost "localhost"
allow_registration = true
`;

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ config: CONFIG });
  await ts.server.accounts("localhost").create("honest", "pw");
});
afterAll(() => ts?.stop());

it("honest storage writes keep being acknowledged during 32 parallel registrations", async () => {
  const honest = await RawClient.login(ts.c2sPort, "honest", "pw", { noTls: true, mechanism: "PLAIN" });
  const registrants = await Promise.all(
    Array.from({ length: 32 }, async () => {
      const c = await RawClient.connect(ts.c2sPort);
      await c.stream();
      return c;
    }),
  );

  // The honest user stores private XML one write after another, as fast as they are acknowledged.
  const acks: Array<{ at: number; latency: number }> = [];
  let writing = true;
  const writer = (async () => {
    for (let n = 0; writing; n++) {
      const sent = Date.now();
      const r = await honest.iq(`<iq type='set' id='w${n}'><query xmlns='jabber:iq:private'><note xmlns='urn:example:notes'>${n}</note></query></iq>`, 20000);
      expect(r.attrs.type).toBe("result");
      acks.push({ at: Date.now(), latency: Date.now() - sent });
    }
  })();
  await new Promise((r) => setTimeout(r, 200));

  const burstStart = Date.now();
  const results = await Promise.all(
    registrants.map((c, i) =>
      c.iq(`<iq type='set' id='reg${i}'><query xmlns='jabber:iq:register'><username>burst${i}</username><password>secret${i}</password></query></iq>`, 60000),
    ),
  );
  const burstEnd = Date.now();
  writing = false;
  await writer;

  expect(results.every((r) => r.attrs.type === "result")).toBe(true);
  const during = acks.filter((a) => a.at > burstStart && a.at <= burstEnd);
  const latencies = during.map((a) => a.latency).sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)] ?? NaN;
  console.log(
    `registration burst: 32 accounts in ${burstEnd - burstStart} ms; honest writes acknowledged meanwhile: ${during.length} ` +
      `(${((during.length * 1000) / (burstEnd - burstStart)).toFixed(0)}/s), latency median ${p50} ms, max ${latencies.at(-1) ?? NaN} ms`,
  );
  // Without a bound on hashing a write waits behind every queued hash, nearly the whole burst;
  // with it, writes keep going through in the first half of the burst already (both measures
  // relative to the burst's own length, so a slower machine moves both sides alike).
  const half = burstStart + (burstEnd - burstStart) / 2;
  expect(during.filter((a) => a.at <= half).length).toBeGreaterThanOrEqual(3);
  expect(latencies.at(-1)!).toBeLessThan((burstEnd - burstStart) / 2);
  for (const c of [...registrants, honest]) c.close();
}, 120000);
