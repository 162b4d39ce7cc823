// Runs a real third-party client written in Python (Debian's python3-slixmpp) and collects the
// JSON lines it prints.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export const SYSTEM_PYTHON = "/usr/bin/python3";

export interface PythonRun {
  events: Array<Record<string, unknown>>;
  stderr: string;
  code: number | null;
}

export function runPython(script: string, args: string[], timeoutMs = 30000): Promise<PythonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(SYSTEM_PYTHON, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const events = stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ events, stderr, code });
    });
  });
}

/** Is slixmpp installed for the system Python (python3-slixmpp)? */
export function hasSlixmpp(): Promise<boolean> {
  if (!existsSync(SYSTEM_PYTHON)) return Promise.resolve(false);
  const r = spawn(SYSTEM_PYTHON, ["-c", "import slixmpp"], { stdio: "ignore" });
  return new Promise<boolean>((resolve) => r.on("close", (code) => resolve(code === 0)));
}
