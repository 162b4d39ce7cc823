// Parser fuzz benchmark: the hostile-stream corpus of test/helpers/hostile.ts against a real Herald
// on loopback, over several concurrent raw TCP connections, while an honest session pings. Prints
// the outcomes, any case that went wrong, and the honest session's ping round trips. It measures;
// test/c2s/fuzz.test.ts is the test that asserts.
//
//   npm run build && node dist/test/bench/parser-fuzz.js [--cases 2000] [--workers 6] [--pause 0] [--seed 24864] [--size 16384]

import { startTestServer } from "../helpers/harness.js";
import { fuzzConfig, percentile, runFuzz } from "../helpers/fuzz-runner.js";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const limits = { maxStanzaSize: arg("size", 16384), maxDepth: arg("depth", 64), maxAttributes: arg("attributes", 100), maxElements: arg("elements", 1000) };
const errors: string[] = [];
const ts = await startTestServer({ config: fuzzConfig(limits), logSinks: [{ level: "error", write: (l) => errors.push(l) }] });
try {
  const r = await runFuzz({ port: ts.c2sPort, seed: arg("seed", 0x6120), cases: arg("cases", 2000), workers: arg("workers", 6), pauseMs: arg("pause", 0), limits });
  const f = (x: number) => x.toFixed(1);
  console.log(`cases ${r.cases} in ${f(r.elapsedMs / 1000)} s (${f(r.cases / (r.elapsedMs / 1000))}/s), ${r.logins} logins, event loop busy ${f(r.loopUtilization * 100)}%`);
  console.log(`kinds    ${JSON.stringify(r.byKind)}`);
  console.log(`outcomes ${JSON.stringify(r.outcomes)}`);
  const rtt = r.pingRtts;
  console.log(`honest pings ${rtt.length}: p50 ${f(percentile(rtt, 50))} ms, p90 ${f(percentile(rtt, 90))} ms, p99 ${f(percentile(rtt, 99))} ms, max ${f(Math.max(...rtt))} ms`);
  console.log(`failures ${r.failures.length}`);
  for (const x of r.failures.slice(0, 30)) console.log(`  ${x}`);
  console.log(`server error log lines ${errors.length}`);
  for (const x of errors.slice(0, 10)) console.log(`  ${x}`);
} finally {
  await ts.stop();
}
