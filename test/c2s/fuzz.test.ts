// The parser fuzz corpus (test/helpers/hostile.ts) against a real server: thousands of generated
// hostile streams over several concurrent raw TCP connections, while an honest session pings.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { fuzzConfig, percentile, runFuzz } from "../helpers/fuzz-runner.js";
import type { HostileLimits } from "../helpers/hostile.js";

const LIMITS: HostileLimits = { maxStanzaSize: 16384, maxDepth: 64, maxAttributes: 100, maxElements: 1000 };
const SEED = 0x6120;
const CASES = 2400;
// Three hostile connections at a time, each pausing 2 ms between cases: they keep the one process
// (server and every client) about half busy, which leaves a loaded 2-core machine some room.
const WORKERS = 3;
const PAUSE_MS = 2;

let ts: TestServer;
const errorLogs: string[] = [];

beforeAll(async () => {
  ts = await startTestServer({ config: fuzzConfig(LIMITS), logSinks: [{ level: "error", write: (line) => errorLogs.push(line) }] });
});
afterAll(() => ts?.stop());

describe("parser fuzz corpus", () => {
  it(`${CASES} hostile streams: no crash, no hang, the right errors, honest pings stay fast`, { timeout: 60000 }, async () => {
    const r = await runFuzz({ port: ts.c2sPort, seed: SEED, cases: CASES, workers: WORKERS, pauseMs: PAUSE_MS, limits: LIMITS });
    const p99 = percentile(r.pingRtts, 99);
    console.log(
      `fuzz: ${r.cases} cases in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.logins} logins, event loop busy ${(r.loopUtilization * 100).toFixed(0)}%; outcomes ${JSON.stringify(r.outcomes)}; ` +
        `honest pings ${r.pingRtts.length}, p50 ${percentile(r.pingRtts, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...r.pingRtts).toFixed(1)} ms`,
    );
    expect(r.failures.slice(0, 20)).toEqual([]);
    expect(r.cases).toBe(CASES);
    expect(Object.keys(r.byKind).length).toBeGreaterThanOrEqual(16);
    // the bound for a concurrent honest session
    expect(r.pingRtts.length).toBeGreaterThan(50);
    expect(p99).toBeLessThan(50);
    // The server is still there, every hostile connection is gone, nothing failed inside it.
    const c = await RawClient.login(ts.c2sPort, "after", "x", { mechanism: "PLAIN" });
    const pong = await c.iq("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(pong.attrs.type).toBe("result");
    c.close();
    for (let i = 0; i < 100 && ts.server.connections.size > 0; i++) await new Promise((res) => setTimeout(res, 50));
    expect(ts.server.connections.size).toBe(0);
    expect(errorLogs).toEqual([]);
  });
});
