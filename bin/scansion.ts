// `herald scansion [--config FILE] PATH...`: run Prosody's scansion scripts against a Herald started
// the way Prosody runs them (any password accepted, admin@localhost an admin, memory storage), with
// a fresh server for every script. With --host/--port, against a server that is already running.

import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createServer } from "node:net";
import { loadConfigFile } from "../prosody-compat/config/index.js";
import {
  loadExpectedFailures,
  runScansion,
  type ScansionOptions,
  type ServerHandle,
} from "../prosody-compat/scansion/cli.js";
import { heraldSubstitutions } from "../prosody-compat/scansion/substitutions.js";
import { Config } from "../src/config/options.js";
import { Server } from "../src/server.js";
import { LogRouter, consoleSink } from "../src/util/logger.js";
import { shippedModules } from "../modules/index.js";
import { fileURLToPath } from "node:url";

/** The repository's list of scripts expected to fail (found from the source or the build tree). */
function defaultExpectedFailures(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, "prosody-compat", "scansion", "expected-failures.txt");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return undefined;
}

export interface ScansionCliOptions {
  config?: string;
  host?: string;
  port?: string;
  expectedFailures?: string;
  timeout?: string;
  verbose?: boolean;
}

/** The config Prosody runs the scripts with sits beside them: look upwards from the first path. */
function findProsodyTestConfig(paths: string[]): string | undefined {
  let dir = resolve(paths[0]);
  if (existsSync(dir) && !statSync(dir).isDirectory()) dir = dirname(dir);
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "prosody.cfg.lua");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

export async function scansionCommand(paths: string[], opts: ScansionCliOptions): Promise<number> {
  const external = opts.host !== undefined || opts.port !== undefined;
  const failuresFile = opts.expectedFailures ?? (external ? undefined : defaultExpectedFailures());
  const run: ScansionOptions = {
    paths,
    verbose: opts.verbose,
    timeoutMs: opts.timeout ? Number(opts.timeout) : undefined,
    expectedFailures: failuresFile ? await loadExpectedFailures(failuresFile) : undefined,
    expectedFailuresFile: failuresFile,
  };
  if (external) {
    run.host = opts.host ?? "127.0.0.1";
    run.port = Number(opts.port ?? 5222);
    return runScansion(run);
  }

  const configFile = opts.config ?? findProsodyTestConfig(paths);
  if (!configFile) throw new Error("No --config given and no prosody.cfg.lua found beside the scripts");
  const parsed = loadConfigFile(resolve(configFile));
  const dataDir = mkdtempSync(join(tmpdir(), "herald-scansion-"));
  const port = await freePort();
  const logRouter = new LogRouter(opts.verbose ? [consoleSink("warn")] : []);
  let server: Server | undefined;
  const start = async () => {
    const config = new Config(parsed);
    server = new Server({
      config,
      ...shippedModules,
      baseDir: dirname(resolve(configFile)),
      logRouter,
      // The client port and HTTP (uploads) on free loopback ports; no admin socket.
      portOverride: { c2s: [port], c2s_direct_tls: [], http: [0], https: [] },
      interfaceOverride: ["127.0.0.1"],
      dataPathOverride: dataDir,
      adminSocket: false,
    });
    await server.start();
  };
  run.substitutions = heraldSubstitutions;
  run.startServer = async (): Promise<ServerHandle> => {
    await start();
    return {
      host: "127.0.0.1",
      port,
      // A fresh server (and so an empty memory store) for every script.
      reset: async () => {
        await server?.stop("scansion reset");
        await start();
      },
      stop: async () => {
        await server?.stop("scansion finished");
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };
  return runScansion(run);
}
