// Starts a real Herald on loopback for tests: any free ports, a temporary data directory, quiet logs.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { Config } from "../../src/config/options.js";
import { Server } from "../../src/server.js";
import { LogRouter, consoleSink, type LogSink } from "../../src/util/logger.js";
import { shippedModules } from "../../modules/index.js";
import type { StorageDriver } from "../../src/storage/types.js";

export interface TestServer {
  server: Server;
  dataDir: string;
  c2sPort: number;
  tlsPort: number;
  httpPort: number;
  httpsPort: number;
  stop(): Promise<void>;
  /** Stop and start again on the same data directory (and the same ports where possible). */
  restart(): Promise<TestServer>;
}

export const DEFAULT_TEST_CONFIG = `
admins = { "admin@localhost" }
modules_enabled = { "ping" }
c2s_require_encryption = true
VirtualHost "localhost"
`;

export async function startTestServer(
  opts: {
    config?: string;
    dataDir?: string;
    storage?: StorageDriver;
    keepData?: boolean;
    logSinks?: LogSink[];
    /** Listeners to have instead of all four on free ports (e.g. `{ https: [] }` for none). */
    ports?: Partial<Record<"c2s" | "c2s_direct_tls" | "http" | "https", number[]>>;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "herald-test-"));
  const text = `data_path = ${JSON.stringify(dataDir)}\n${opts.config ?? DEFAULT_TEST_CONFIG}`;
  const config = new Config(parseConfig(text, "test.cfg.lua", { env: {}, baseDir: dataDir }));
  const server = new Server({
    config,
    ...shippedModules,
    baseDir: dataDir,
    storage: opts.storage,
    logRouter: new LogRouter([...(opts.logSinks ?? []), ...(process.env.HERALD_TEST_LOG ? [consoleSink(process.env.HERALD_TEST_LOG as "debug")] : [])]),
    portOverride: { c2s: [0], c2s_direct_tls: [0], http: [0], https: [0], ...opts.ports },
    interfaceOverride: ["127.0.0.1"],
  });
  await server.start();
  const ts: TestServer = {
    server,
    dataDir,
    c2sPort: server.port("c2s"),
    tlsPort: server.port("c2s_direct_tls"),
    httpPort: server.listeners.find((l) => l.kind === "http")?.port ?? 0,
    httpsPort: server.listeners.find((l) => l.kind === "https")?.port ?? 0,
    async stop() {
      await server.stop("test finished");
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop("restart");
      return startTestServer({ ...opts, dataDir, keepData: true });
    },
  };
  return ts;
}
