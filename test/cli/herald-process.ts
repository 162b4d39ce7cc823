// A `herald start` child process for the CLI tests: started, and waited for until it says so.

import { spawn, type ChildProcess } from "node:child_process";

/**
 * Spawn `command args` (a `herald start`) and resolve once its output says "Herald … started";
 * rejects, with what it printed, when it exits first or after `timeoutMs`. `output()` is all it has
 * printed so far (standard output and error), then and later.
 */
export function startHeraldProcess(
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`herald did not start:\n${out}`)), opts.timeoutMs ?? 20000);
    const check = () => {
      if (/Herald .* started/.test(out)) {
        clearTimeout(t);
        resolve({ child, output: () => out });
      } else if (child.exitCode === null) setTimeout(check, 50);
    };
    check();
    child.on("exit", () => {
      clearTimeout(t);
      reject(new Error(`herald exited early:\n${out}`));
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
