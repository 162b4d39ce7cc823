// `herald`: the one executable. start | adduser | passwd | deluser | check | import | scansion | --version

import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { VERSION } from "../src/version.js";
import { adminRequest, type AdminRequest } from "../src/admin/socket.js";
import { jidSplit, nodePrep, namePrep } from "../src/util/jid.js";
import type { LoadedConfig } from "./load-config.js";
import { fail, loadOrExit, loadServer, startCommand } from "./start.js";
import { CHECK_SECTIONS } from "./check-names.js";
import type { ScansionCliOptions } from "./scansion.js";
import type { ShellOutput } from "../src/admin/shell.js";

// What only the other commands use (readline, `read`, the offline account store, the shell's
// parser) is imported by those commands, so that a running server does not keep it. commander is
// CommonJS: require() loads it as it is (an ESM import would have Node scan its source for named
// exports first). A plain require() where there is one: the single-executable bundle bundles it.
const { Command } = (typeof require === "function" ? require("commander") : createRequire(import.meta.url)("commander")) as typeof import("commander");

const program = new Command();
program.name("herald").description("Herald: an XMPP server with publish-subscribe built in").version(VERSION, "-v, --version");

program
  .command("start")
  .description("start the server (without -c: ./herald.cfg.lua if present, else the embedded default)")
  .option("-c, --config <file>", "configuration file in Prosody's syntax")
  .action(async (opts: { config?: string }) => startCommand(opts.config));

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
  .command("shell [command...]")
  .description("the admin console of the running server (Prosody's shell commands; 'help' lists them). " +
    "With a command, run it and exit: herald shell 'c2s:show()' (or: herald shell module reload ping localhost)")
  .option("-c, --config <file>", "configuration file")
  .action(async (words: string[], opts: { config?: string }) => {
    const loaded = loadOrExit(opts.config);
    const dataPath = resolve(loaded.baseDir, loaded.config.global.string("data_path", "./data"));
    const socket = join(dataPath, "herald.sock");
    const run = async (line: string): Promise<ShellOutput> => {
      const res = await adminRequest(socket, { command: "shell", line }, 120000);
      if (!res) fail(`the server is not running (nothing answers on ${socket})`);
      if (!res.ok) fail(res.error);
      return res.result as ShellOutput;
    };
    if (words.length > 0) {
      const { wordsToShellLine } = await import("../src/admin/shell-parse.js");
      process.exit(printPlain(await run(wordsToShellLine(words))) ? 1 : 0);
    }
    const { createInterface } = await import("node:readline");
    if (!process.stdin.isTTY) {
      // Commands on standard input, one per line, answered as the one-shot form does.
      let errors = 0;
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        if (/^\s*(quit|exit|bye)\s*$/.test(line)) break;
        if (line.trim() === "") continue;
        if (printPlain(await run(line))) errors++;
      }
      process.exit(errors > 0 ? 1 : 0);
    }
    const status = await adminRequest(socket, { command: "status" }, 5000);
    if (!status) fail(`the server is not running (nothing answers on ${socket})`);
    const prompt = loaded.config.global.string("admin_shell_prompt", "herald> ") ?? "herald> ";
    console.log(`Welcome to Herald ${VERSION}'s administration console. For a list of commands, type: help`);
    console.log("Leave with quit, exit, bye or Ctrl-D.\n");
    const rl = createInterface({ input: process.stdin, output: process.stdout, prompt, historySize: 500 });
    rl.prompt();
    for await (const line of rl) {
      if (/^\s*(quit|exit|bye)\s*$/.test(line)) break;
      if (line.trim() !== "") {
        const out = await run(line);
        for (const l of out.lines) console.log(`| ${l}`);
        if (out.result) console.log(`${out.error ? "!" : "|"} ${out.result}`);
      }
      rl.prompt();
    }
    rl.close();
    process.exit(0);
  });

/** One-shot and piped output: printed lines on stdout, an error result on stderr. True on error. */
function printPlain(out: ShellOutput): boolean {
  for (const l of out.lines) console.log(l);
  if (out.result) (out.error ? console.error : console.log)(out.result);
  return out.error;
}

program
  .command("check [what]")
  .description(`check the configuration and report, like prosodyctl check; what: ${CHECK_SECTIONS.join(", ")} (default: all)`)
  .option("-c, --config <file>", "configuration file")
  .action(async (what: string | undefined, opts: { config?: string }) => {
    const loaded = loadOrExit(opts.config);
    const { runCheck } = await import("./check.js");
    process.exit(await runCheck(loaded, (await loadServer()).shippedModules, what));
  });

program
  .command("import")
  .description("import accounts and data from another server")
  .command("prosody <data_path>")
  .description("import Prosody's internal file store (accounts with their SCRAM keys, rosters, vCards, private XML, offline messages, PEP and pubsub nodes); safe to re-run")
  .option("-c, --config <file>", "Herald's configuration (the hosts to import, and where Herald keeps its data)")
  .action(async (dataPath: string, opts: { config?: string }) => {
    const loaded = loadOrExit(opts.config);
    try {
      const { importProsodyCommand } = await import("./import.js");
      process.exit(await importProsodyCommand(loaded, dataPath));
    } catch (err) {
      fail((err as Error).message);
    }
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
      const { scansionCommand } = await import("./scansion.js");
      process.exit(await scansionCommand(paths, opts));
    } catch (err) {
      fail((err as Error).message);
    }
  });

async function offline(loaded: LoadedConfig, dataPath: string, req: AdminRequest): Promise<void> {
  const kind = loaded.config.global.string("storage", "internal");
  if (kind === "memory") fail("storage = \"memory\": accounts only exist while the server runs; start it first");
  const [{ createStorage }, { createAccountStore }, { Graveyard }] = await Promise.all([
    import("../src/storage/index.js"),
    import("../src/auth/accounts.js"),
    import("../modules/mod_tombstones/graveyard.js"),
  ]);
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

/** A password from the terminal (not echoed, asked twice for new passwords) or the first line of stdin. */
async function readPassword(confirm: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const { createInterface } = await import("node:readline");
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    fail("No password on standard input");
  }
  // npm's `read` (readline underneath): nothing echoed, line editing (backspace over any
  // character, Ctrl-U, arrows) as in any terminal prompt, Ctrl-C cancels.
  const { read } = await import("read");
  const ask = async (prompt: string) => {
    try {
      return await read({ prompt, silent: true });
    } catch {
      process.stdout.write("\n");
      process.exit(130);
    }
  };
  const pw = await ask("Password:");
  if (confirm && (await ask("Again:")) !== pw) fail("The passwords do not match");
  return pw;
}

export function main(argv = process.argv): Promise<unknown> {
  return program.parseAsync(argv);
}

