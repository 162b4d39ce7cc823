// Runs the hostile-stream corpus (./hostile.ts) against a real Herald over several concurrent raw
// TCP connections while an honest, logged-in session pings the server without pause.
// Used by test/c2s/fuzz.test.ts (which asserts) and test/bench/parser-fuzz.ts (which prints).

import { RawClient, type StreamEvent } from "./xmpp-client.js";
import { hostileCase, type HostileCase, type HostileLimits } from "./hostile.js";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

/** A server configuration that lets hostile sessions log in cheaply (PLAIN without TLS, any password). */
export function fuzzConfig(limits: HostileLimits): string {
  return `
modules_enabled = { "ping" }
authentication = "insecure"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_stanza_size_limit = ${limits.maxStanzaSize}
c2s_max_stanza_depth = ${limits.maxDepth}
c2s_max_element_attributes = ${limits.maxAttributes}
c2s_max_stanza_elements = ${limits.maxElements}
VirtualHost "localhost"
`;
}

export interface FuzzResult {
  cases: number;
  byKind: Record<string, number>;
  /** Outcomes seen: "ok", "error:<condition>", "closed". */
  outcomes: Record<string, number>;
  failures: string[];
  pingRtts: number[];
  logins: number;
  elapsedMs: number;
  /** Share of the run the event loop was busy (server and clients: one process). */
  loopUtilization: number;
}

export interface FuzzOptions {
  port: number;
  seed: number;
  cases: number;
  workers: number;
  limits: HostileLimits;
  /** Per wait for the server (a case that gets no answer within it has hung). */
  timeoutMs?: number;
  /** Each worker pauses this long between cases (milliseconds), leaving the process some idle time. */
  pauseMs?: number;
}

function streamErrorOf(ev: StreamEvent): string | undefined {
  const el = ev.el;
  if (ev.kind !== "stanza" || !el || el.name !== "error" || el.attrs.xmlns !== "http://etherx.jabber.org/streams") return undefined;
  return el.childElements().find((c) => c.attrs.xmlns === NS_STREAMS && c.name !== "text")?.name ?? "(no condition)";
}

function describeCase(c: HostileCase): string {
  const first = c.reads[0]?.subarray(0, 80).toString("latin1").replace(/[^\x20-\x7e]/g, "?") ?? "";
  return `case ${c.index} (${c.kind}, ${c.auth ? "logged in" : "before login"}, expect ${c.expect}${c.conditions ? " " + c.conditions.join("|") : ""}; ${c.reads.length} reads, ${c.reads.reduce((n, r) => n + r.length, 0)} bytes, starting "${first}")`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const timeoutMs = opts.timeoutMs ?? 10000;
  const result: FuzzResult = { cases: 0, byKind: {}, outcomes: {}, failures: [], pingRtts: [], logins: 0, elapsedMs: 0, loopUtilization: 0 };
  const started = performance.now();
  const elu = performance.eventLoopUtilization();
  const count = (o: string) => (result.outcomes[o] = (result.outcomes[o] ?? 0) + 1);

  const honest = await RawClient.login(opts.port, "honest", "x", { mechanism: "PLAIN", resource: "pinger" });
  let running = true;
  let pings = 0;
  const pinger = (async () => {
    while (running) {
      const t = performance.now();
      const r = await honest.iq(`<iq type='get' id='hp${++pings}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, timeoutMs);
      if (r.attrs.type !== "result") result.failures.push(`honest ping ${pings} answered ${r}`);
      result.pingRtts.push(performance.now() - t);
      await sleep(5);
    }
  })().catch((err: Error) => {
    result.failures.push(`the honest session failed: ${err.message}`);
  });

  let next = 0;
  const worker = async (w: number) => {
    let session: RawClient | undefined; // a logged-in session that survived its last case
    let sessions = 0;
    for (;;) {
      const index = next++;
      if (index >= opts.cases) break;
      if (opts.pauseMs) await sleep(opts.pauseMs);
      const c = hostileCase(opts.seed, index, opts.limits);
      result.cases++;
      result.byKind[c.kind] = (result.byKind[c.kind] ?? 0) + 1;
      try {
        let conn: RawClient;
        if (c.auth) {
          if (!session || session.closed) {
            session = await RawClient.login(opts.port, `w${w}s${++sessions}`, "x", { mechanism: "PLAIN", noTls: true });
            result.logins++;
          }
          conn = session;
        } else {
          session?.close();
          session = undefined;
          conn = await RawClient.connect(opts.port);
          conn.write(HEADER);
        }
        conn.socket.setNoDelay(true);
        for (let i = 0; i < c.reads.length; i++) {
          conn.write(c.reads[i]);
          // Separate reads on the server, most of the time.
          if (i < c.reads.length - 1) await (index % 3 === 0 ? sleep(1) : new Promise((r) => setImmediate(r)));
        }
        if (c.expect === "either") {
          // Whatever state the mutation left the parser in (CDATA, an attribute value, a tag, text),
          // this ends it, so the server has to answer or end the stream: waiting is never right.
          conn.write(`]]>'"<iq type='get' id='sentinel${index}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`);
        }
        const outcome = await awaitOutcome(conn, c, timeoutMs);
        count(outcome.what);
        if (outcome.failure) result.failures.push(`${describeCase(c)}: ${outcome.failure}`);
        if (c.expect !== "ok" || outcome.failure) {
          if (!conn.closed) {
            // An error or an end must also close the connection.
            const closedInTime = await conn.waitClosed(timeoutMs).then(
              () => true,
              () => false,
            );
            if (!closedInTime) result.failures.push(`${describeCase(c)}: the server did not close the connection`);
            conn.socket.destroy();
          }
          if (conn === session) session = undefined;
        }
      } catch (err) {
        result.failures.push(`${describeCase(c)}: ${(err as Error).message}`);
        session?.socket.destroy();
        session = undefined;
      }
    }
    session?.close();
  };
  await Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  running = false;
  await pinger;
  honest.close();
  result.elapsedMs = performance.now() - started;
  result.loopUtilization = performance.eventLoopUtilization(elu).utilization;
  return result;
}

async function awaitOutcome(conn: RawClient, c: HostileCase, timeoutMs: number): Promise<{ what: string; failure?: string }> {
  const waiting = new Set(c.pings ?? []);
  for (;;) {
    if (c.expect === "ok" && waiting.size === 0) return { what: "ok" };
    let ev: StreamEvent;
    try {
      ev = await conn.nextEvent(timeoutMs);
    } catch (err) {
      const msg = (err as Error).message;
      if (/closed/.test(msg)) {
        if (c.expect === "either") return { what: "closed" };
        return { what: "closed", failure: "closed without a stream error" };
      }
      return { what: "hung", failure: `no outcome: ${msg}` };
    }
    const condition = streamErrorOf(ev);
    if (condition !== undefined) {
      if (c.expect === "error" && !c.conditions!.includes(condition)) return { what: `error:${condition}`, failure: `got <${condition}/>` };
      if (c.expect === "ok") return { what: `error:${condition}`, failure: `valid input got <${condition}/>` };
      return { what: `error:${condition}` };
    }
    if (ev.kind === "end") {
      if (c.expect === "either") return { what: "closed" };
      return { what: "end", failure: "the server ended the stream without an error" };
    }
    if (ev.kind === "error") return { what: "client-parse-error", failure: `the server sent something unparseable: ${ev.text}` };
    if (ev.kind === "stanza" && ev.el!.name === "iq" && waiting.has(ev.el!.attrs.id ?? "")) {
      if (ev.el!.attrs.type !== "result") return { what: "iq-error", failure: `ping ${ev.el!.attrs.id} answered ${ev.el}` };
      waiting.delete(ev.el!.attrs.id!);
    }
  }
}

export { percentile } from "./stats.js";
