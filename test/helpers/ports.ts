// Loopback ports for tests and benchmarks that start servers of their own (child processes, Prosody,
// a second Herald): a free one, and waiting until something listens on one.

import type { ChildProcess } from "node:child_process";
import { connect, createServer } from "node:net";

/** A free port on `host` (closed again at once: the server to start binds it right after). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Does a TCP connection to this port (on 127.0.0.1 unless told) succeed? */
export function connects(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Wait until something accepts connections on the port (on 127.0.0.1 unless told); throws once
 * `child` (what should listen) has exited, or after the time.
 */
export async function waitForPort(port: number, opts: { host?: string; child?: ChildProcess; what?: string; timeoutMs?: number } = {}): Promise<void> {
  const what = opts.what ?? "the server";
  const host = opts.host ?? "127.0.0.1";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (opts.child && opts.child.exitCode !== null) throw new Error(`${what} exited with code ${opts.child.exitCode}`);
    if (await connects(port, host)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${host}:${port} within ${timeoutMs} ms`);
}
