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

/** Does a TCP connection to this port on 127.0.0.1 succeed? */
export function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Wait until something accepts connections on the port; throws once `child` (what should listen) has exited or after the time. */
export async function waitForPort(port: number, opts: { child?: ChildProcess; what?: string; timeoutMs?: number } = {}): Promise<void> {
  const what = opts.what ?? "the server";
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (opts.child && opts.child.exitCode !== null) throw new Error(`${what} exited with ${opts.child.exitCode}`);
    if (await connects(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port}`);
}
