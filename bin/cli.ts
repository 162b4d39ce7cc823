// `herald`: the one executable. start | adduser | passwd | deluser | check | scansion | --version

import { Command } from "commander";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Server } from "../src/server.js";
import { VERSION } from "../src/version.js";
import { adminRequest, type AdminRequest } from "../src/admin/socket.js";
import { createStorage } from "../src/storage/index.js";
import { createAccountStore } from "../src/auth/accounts.js";
import { Graveyard } from "../modules/mod_tombstones/graveyard.js";
import { jidSplit, nodePrep, namePrep } from "../src/util/jid.js";
import { registry } from "../modules/index.js";
import { loadHeraldConfig, logRouterFromConfig, type LoadedConfig } from "./load-config.js";
import { runCheck } from "./check.js";
import { scansionCommand, type ScansionCliOptions } from "./scansion.js";
import { formatDiagnostic } from "../src/config/options.js";

const program = new Command();
program.name("herald").description("Herald: an XMPP server with publish-subscribe built in").version(VERSION, "-v, --version");

program
  .command("start")
  .description("start the server (without -c: ./herald.cfg.lua if present, else the embedded default)")
  .option("-c, --config <file>", "configuration file in Prosody's syntax")
  .action(async (opts: { config?: string }) => {
    const loaded = loadOrExit(opts.config);
    const logRouter = logRouterFromConfig(loaded.config);
    const server = new Server({ config: loaded.config, registry, baseDir: loaded.baseDir, logRouter });
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
  });

for (const [name, description] of [
  ["adduser", "create an account (password from a prompt, or the first line of stdin)"],
  ["passwd", "change an account's password (password from a prompt, or stdin)"],
  ["deluser", "delete an account and all its data"],
] as const) {
  program
    .command(`${name} <jid>`)
    .description(description)
    .option("-c, --config <file>", "configuration file")
    .action(async (jid: string, opts: { config?: string }) => {
      const loaded = loadOrExit(opts.config);
      const parts = jidSplit(jid);
      const username = parts?.node === undefined ? undefined : nodePrep(parts.node);
      const host = parts === undefined ? undefined : namePrep(parts.domain);
      if (!parts || username === undefined || host === undefined || parts.resource !== undefined) {
        fail(`'${jid}' is not an account JID (user@host)`);
      }
      if (!loaded.config.hosts.some((h) => h.name === host && h.kind === "VirtualHost")) {
        fail(`${host} is not a VirtualHost in ${loaded.source}`);
      }
      const req: AdminRequest = { command: name, host, username };
      if (name !== "deluser") req.password = await readPassword(name === "adduser");
      const dataPath = resolve(loaded.baseDir, loaded.config.global.string("data_path", "./data"));
      const res = await adminRequest(join(dataPath, "herald.sock"), req);
      if (res) {
        if (!res.ok) fail(res.error);
      } else {
        // The server is not running: open the store directly.
        await offline(loaded, dataPath, req);
      }
      const done = { adduser: "Created", passwd: "Changed the password of", deluser: "Deleted" }[name];
      console.log(`${done} ${username}@${host}`);
    });
}

program
  .command("check")
  .description("check the configuration, certificates and ports, and report")
  .option("-c, --config <file>", "configuration file")
  .action(async (opts: { config?: string }) => {
    const loaded = loadOrExit(opts.config);
    process.exit(await runCheck(loaded, registry));
  });

program
  .command("scansion <paths...>")
  .description("run scansion scripts (Prosody's end-to-end tests) against a fresh Herald per script, or against --host/--port")
  .option("-c, --config <file>", "config to start Herald with (default: the prosody.cfg.lua beside the scripts)")
  .option("--host <host>", "run against an already running server")
  .option("--port <port>", "its client port (default 5222)")
  .option("--expected-failures <file>", "scripts expected to fail, with reasons")
  .option("--timeout <ms>", "how long to wait for each expected stanza")
  .option("--verbose", "print details of expected failures and server warnings")
  .action(async (paths: string[], opts: ScansionCliOptions) => {
    try {
      process.exit(await scansionCommand(paths, opts));
    } catch (err) {
      fail((err as Error).message);
    }
  });

async function offline(loaded: LoadedConfig, dataPath: string, req: AdminRequest): Promise<void> {
  const kind = loaded.config.global.string("storage", "internal");
  if (kind === "memory") fail("storage = \"memory\": accounts only exist while the server runs; start it first");
  const storage = createStorage("leveldb", { path: join(dataPath, "herald.db") });
  try {
    await storage.open();
  } catch (err) {
    fail(`Cannot open the database in ${dataPath}: ${(err as Error).message}`);
  }
  const hostOptions = loaded.config.host(req.host!);
  const tombstones =
    hostOptions.array("modules_enabled").includes("tombstones") && !hostOptions.array("modules_disabled").includes("tombstones")
      ? Graveyard.open(storage, req.host!, hostOptions.period("user_tombstone_expiry", Infinity))
      : undefined;
  const accounts = createAccountStore(storage, req.host!, { onDelete: async (username) => tombstones?.bury(username) });
  try {
    if (req.command === "adduser") {
      if (tombstones && (await tombstones.tombstone(nodePrep(req.username!) ?? req.username!)) !== undefined) {
        throw new Error("The requested username is not available.");
      }
      await accounts.create(req.username!, req.password!);
    } else if (req.command === "passwd") await accounts.setPassword(req.username!, req.password!);
    else if (req.command === "deluser") await accounts.delete(req.username!);
  } catch (err) {
    await storage.close();
    fail((err as Error).message);
  }
  await storage.close();
}

function loadOrExit(file: string | undefined): LoadedConfig {
  try {
    return loadHeraldConfig(file);
  } catch (err) {
    fail((err as Error).message);
  }
}

function fail(msg: string): never {
  console.error(`herald: ${msg}`);
  process.exit(1);
}

/** A password from the terminal (not echoed, asked twice for new passwords) or the first line of stdin. */
async function readPassword(confirm: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    fail("No password on standard input");
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolvePw) => {
      process.stdout.write(prompt);
      const stdin = process.stdin;
      stdin.setRawMode(true);
      stdin.resume();
      let pw = "";
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.off("data", onData);
            process.stdout.write("\n");
            resolvePw(pw);
            return;
          }
          if (ch === "\u0003") process.exit(130);
          if (ch === "\u007f" || ch === "\b") pw = pw.slice(0, -1);
          else pw += ch;
        }
      };
      stdin.on("data", onData);
    });
  const pw = await ask("Password: ");
  if (confirm && (await ask("Again: ")) !== pw) fail("The passwords do not match");
  return pw;
}

export function main(argv = process.argv): Promise<unknown> {
  return program.parseAsync(argv);
}

