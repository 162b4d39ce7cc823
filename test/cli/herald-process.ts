// A `herald start` child process for the CLI tests: started, and waited for until it says so.

import { spawn, type ChildProcess } from "node:child_process";

/**
 * Spawn `command args` (a `herald start`) and resolve once its output says "Herald … started";
 * rejects, with what it printed, when it exits first or after `timeoutMs` (and then kills it).
 * `output()` is what it has printed so far (standard output and error), then and later: its head
 * (the start-up) and its last part once that grows long. `exited` resolves when the process ends.
 */
export function startHeraldProcess(
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ child: ChildProcess; exited: Promise<void>; output: () => string }> {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString("utf8");
    if (out.length > 200_000) out = out.slice(0, 20_000) + "\n[…]\n" + out.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 20000;
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`herald did not start within ${timeoutMs / 1000} s:\n${out}`));
    }, timeoutMs);
    const check = () => {
      if (/Herald .* started/.test(out)) {
        clearTimeout(t);
        resolve({ child, exited, output: () => out });
      } else if (child.exitCode === null && child.signalCode === null) setTimeout(check, 25);
    };
    check();
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      reject(new Error(`herald exited early (${code ?? signal}):\n${out}`));
    });
  });
}

/** The listener lines of a test configuration: c2s, direct TLS, HTTP and HTTPS on these four loopback ports, no s2s. */
export function loopbackListeners(ports: number[]): string {
  return `c2s_ports = { ${ports[0]} }
c2s_direct_tls_ports = { ${ports[1]} }
http_ports = { ${ports[2]} }
https_ports = { ${ports[3]} }
s2s_ports = { }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
https_interfaces = { "127.0.0.1" }
`;
}
