// `herald start`: the server. bin/herald runs it without the rest of the command line when that is
// all it is asked (`herald start`, `-c FILE`, `--config FILE`, `--config=FILE`), so that a running
// server does not keep commander and the other commands' code; any other form goes through
// bin/cli.ts, whose `start` is this same function.

import { formatDiagnostic } from "../src/config/options.js";
import { loadHeraldConfig, logRouterFromConfig, type LoadedConfig } from "./load-config.js";

/**
 * The configuration file of `herald start` in one of its plain forms (undefined: none given), or
 * null when the arguments (after the executable and script) are anything else, for the full
 * command line to handle (help, errors, other commands).
 */
export function plainStartArgs(args: readonly string[]): string | undefined | null {
  if (args[0] !== "start") return null;
  if (args.length === 1) return undefined;
  if (args.length === 2) return /^--config=(.+)$/.exec(args[1])?.[1] ?? null;
  if (args.length === 3 && (args[1] === "-c" || args[1] === "--config") && !args[2].startsWith("-")) return args[2];
  return null;
}

/** The server and its modules, loaded by the commands that run them (not by `shell`, `adduser`, ...). */
export async function loadServer() {
  const [{ Server }, { shippedModules }] = await Promise.all([import("../src/server.js"), import("../modules/index.js")]);
  return { Server, shippedModules };
}

/** Start the server; it runs until SIGTERM or SIGINT. */
export async function startCommand(file: string | undefined): Promise<void> {
  const loaded = loadOrExit(file);
  const logRouter = logRouterFromConfig(loaded.config);
  const configLoader = () => {
    // config:reload() in the shell reads the same file again.
    const again = loadHeraldConfig(file);
    return { config: again.config, logSinks: logRouterFromConfig(again.config).sinks };
  };
  const { Server, shippedModules } = await loadServer();
  const server = new Server({ config: loaded.config, ...shippedModules, baseDir: loaded.baseDir, logRouter, configLoader });
  for (const w of loaded.config.warnings) server.log.warn(formatDiagnostic(w));
  server.log.info(`Configuration: ${loaded.source}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    try {
      await server.stop(`Received ${signal}`);
      process.exit(0);
    } catch (err) {
      server.log.error(`Error while stopping: ${(err as Error).stack}`);
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  try {
    await server.start();
  } catch (err) {
    server.log.error(`Could not start: ${(err as Error).message}`);
    await server.stop("start failed").catch(() => {});
    process.exit(1);
  }
}

export function loadOrExit(file: string | undefined): LoadedConfig {
  try {
    return loadHeraldConfig(file);
  } catch (err) {
    fail((err as Error).message);
  }
}

export function fail(msg: string): never {
  console.error(`herald: ${msg}`);
  process.exit(1);
}
