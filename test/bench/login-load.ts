// Logins with hashed accounts and memory per idle session, against any server on loopback
// (Herald, Prosody, ejabberd). Accounts bench0..bench<N-1> (password "pw") are created by in-band
// registration (XEP-0077) unless --register 0; then N PLAIN logins, N SCRAM-SHA-1 logins, and
// --idle sessions held open to measure RSS per session (SCRAM-SHA-1 logins, the accounts in turn,
// each session with its own resource). Prints one JSON line; never fails on figures.
//
//   node dist/test/bench/login-load.js --port 5222 --pid <server pid> [--sessions 500]
//          [--concurrency 50] [--idle 0] [--register 1] [--label herald]

import { RawClient } from "../helpers/xmpp-client.js";
import { loadLogin, pool, register as registerAccount, rssKiB as rss } from "./lib.js";

interface Args {
  port: number;
  pid: number;
  sessions: number;
  concurrency: number;
  idle: number;
  register: number;
  label: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { port: 5222, pid: 0, sessions: 500, concurrency: 50, idle: 0, register: 1, label: "server" };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ""), argv[i + 1]];
    if (k === "label") a.label = v;
    else if (k in a) (a as unknown as Record<string, number>)[k] = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  return a;
}

// ejabberd's pid file names the Erlang VM; Prosody's and Herald's the server itself.
const rssKiB = (pid: number) => rss(pid) ?? 0;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const idleRss = rssKiB(args.pid);
  const total = args.sessions;
  const phase = (s: string) => console.error(`[${args.label}] ${s}`);
  if (args.register) phase(`registered ${total} accounts: ${(await pool(total, args.concurrency, (i) => registerAccount(args.port, `bench${i}`))).toFixed(0)}/s`);
  const login = (mechanism: "PLAIN" | "SCRAM-SHA-1") => (i: number) =>
    loadLogin(args.port, `bench${i % total}`, "pw", { mechanism, resource: `load${i}` });

  const plain = await pool(args.sessions, args.concurrency, async (i) => login("PLAIN")(i).then((c) => c.close()));
  phase(`PLAIN ${plain.toFixed(0)}/s`);
  // SCRAM: the client's PBKDF2 (10,000 iterations for Herald and Prosody, 4,096 for ejabberd) would
  // be what is measured; like real clients, the load client keeps each account's SaltedPassword,
  // from an untimed first pass, so the timed pass measures the servers.
  RawClient.saltedPasswords = new Map();
  await pool(args.sessions, args.concurrency, async (i) => login("SCRAM-SHA-1")(i).then((c) => c.close()));
  const scram = await pool(args.sessions, args.concurrency, async (i) => login("SCRAM-SHA-1")(i + args.sessions).then((c) => c.close()));

  let perSession = 0;
  if (args.idle > 0) {
    await new Promise((r) => setTimeout(r, 2000));
    const before = rssKiB(args.pid);
    const held: RawClient[] = [];
    await pool(args.idle, args.concurrency, async (i) => {
      held[i] = await login("SCRAM-SHA-1")(i);
    });
    await new Promise((r) => setTimeout(r, 3000));
    perSession = (rssKiB(args.pid) - before) / args.idle;
    for (const c of held) c.close();
  }
  console.log(JSON.stringify({ label: args.label, plain, scram, idleRssMiB: idleRss / 1024, perSessionKiB: perSession, idle: args.idle }));
  await new Promise((r) => setTimeout(r, 500));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
