// A publish storm to a node with 10,000 subscribers must not stall the server for everyone else:
// other sessions' pings keep a p99 round trip under 50 ms (the bound issue 9 sets) while the fan-out
// runs. The subscribers are raw TCP sessions in a child process (test/helpers/raw-subscribers.mjs)
// that only count what they read; the server, the publisher and the pinging sessions share this
// process, so a ping's round trip is the wait the server's event loop imposes on a session.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { NS, PUBSUB } from "./helpers.js";

const SUBSCRIBERS = 10_000;
const ITEMS = 24;
const IN_FLIGHT = 8;
const PINGERS = 3;
const BOUND_MS = 50;
const MARKER = "storm-item-";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ts: TestServer;
let child: ChildProcess;
let received = 0;
let onReceived: (() => void) | undefined;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
admins = { "admin@localhost" }
authentication = "insecure"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_max_unauthenticated_per_ip = 100000
limit_auth_max = 100000
limit_auth_period = 1
storage = "memory"
modules_enabled = { "ping" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
`,
  });
  const admin = await RawClient.login(ts.c2sPort, "admin", "pw", { noTls: true, mechanism: "PLAIN" });
  const created = await admin.iq(`<iq type='set' to='${PUBSUB}' id='c'><pubsub xmlns='${NS}'><create node='storm'/></pubsub></iq>`);
  expect(created.attrs.type).toBe("result");
  admin.close();
  child = spawn(process.execPath, [join(import.meta.dirname, "../helpers/raw-subscribers.mjs"), String(ts.c2sPort), String(SUBSCRIBERS), PUBSUB, "storm", MARKER, "200"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as { ready?: number; received?: number; error?: string };
      if (msg.error !== undefined) reject(new Error(msg.error));
      if (msg.ready !== undefined) resolve();
      if (msg.received !== undefined) {
        received = msg.received;
        onReceived?.();
      }
    });
    child.once("exit", (code) => reject(new Error(`subscribers exited with ${code}`)));
  });
  const t0 = performance.now();
  await ready;
  console.log(`subscribers ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}, 120_000);

afterAll(async () => {
  child?.stdin?.end();
  await ts?.stop();
});

describe("publish storm", () => {
  // The machine is shared: another process can take the CPU for longer than the bound at any time.
  // A storm is tried up to ATTEMPTS times and one must keep the bound; a fan-out that holds the event
  // loop fails them all (before chunked fan-out: p99 1.6 s).
  const ATTEMPTS = 3;

  it(`other sessions' pings stay under ${BOUND_MS} ms (p99) while ${ITEMS} items fan out to ${SUBSCRIBERS} subscribers`, async () => {
    const publisher = await RawClient.login(ts.c2sPort, "admin", "pw", { noTls: true, mechanism: "PLAIN", resource: "pub" });
    const pingers = await Promise.all(Array.from({ length: PINGERS }, (_, i) => RawClient.login(ts.c2sPort, `pinger${i}`, "pw", { noTls: true, mechanism: "PLAIN" })));
    const seen: string[] = [];
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { p99, pings, line } = await storm(publisher, pingers, attempt);
      seen.push(line);
      console.log(line);
      // Enough pings for a p99 to mean something.
      if (p99 < BOUND_MS && pings >= 100) return;
    }
    expect.fail(`ping p99 over ${BOUND_MS} ms (or fewer than 100 pings) in every storm:\n${seen.join("\n")}`);
  }, 170_000);
});

async function storm(publisher: RawClient, pingers: RawClient[], attempt: number): Promise<{ p99: number; pings: number; line: string }> {
  const rtts: number[] = [];
  let storming = true;
  let n = 0;
  const pinging = pingers.map(async (c, i) => {
    await sleep(i * 3);
    while (storming) {
      const t = performance.now();
      const r = await c.iq(`<iq type='get' to='localhost' id='ping${attempt}-${++n}'><ping xmlns='urn:xmpp:ping'/></iq>`, 30_000);
      if (storming) rtts.push(performance.now() - t);
      expect(r.attrs.type).toBe("result");
      await sleep(10);
    }
  });

  const expected = received + SUBSCRIBERS * ITEMS;
  const allIn = new Promise<void>((resolve) => {
    onReceived = () => received >= expected && resolve();
  });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < ITEMS) {
        const k = next++;
        const r = await publisher.iq(
          `<iq type='set' to='${PUBSUB}' id='p${attempt}-${k}'><pubsub xmlns='${NS}'><publish node='storm'><item id='${MARKER}${attempt}-${k}'><x xmlns='urn:herald:test'>${"y".repeat(64)}</x></item></publish></pubsub></iq>`,
          60_000,
        );
        expect(r.attrs.type).toBe("result");
      }
    }),
  );
  await Promise.race([allIn, sleep(40_000)]);
  const seconds = (performance.now() - started) / 1000;
  storming = false;
  await Promise.all(pinging);

  expect(received).toBe(expected);
  rtts.sort((a, b) => a - b);
  const p99 = rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * 0.99))];
  const p50 = rtts[Math.floor(rtts.length / 2)];
  const line =
    `storm ${attempt + 1}: ${SUBSCRIBERS * ITEMS} notifications in ${seconds.toFixed(1)} s; ${rtts.length} pings during it, ` +
    `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, slowest ${rtts.slice(-6).map((x) => x.toFixed(0)).join(" ")} ms`;
  return { p99, pings: rtts.length, line };
}
