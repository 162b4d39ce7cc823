// kill -9 right after a message arrives: a real Herald process (bin/herald start, LevelDB in a
// temporary data_path) relays a stream of chat messages from romeo to juliet (50 in flight) and is
// killed with SIGKILL the moment juliet has received a given number of them. Restarted on the same
// data, juliet's archive holds every message she received, under the stanza id she saw: a message
// is archived before it is delivered. Twice, at different points of the stream.
//
// Needs `npm run build` (the child runs dist/).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { startHeraldProcess } from "../cli/herald-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";
import { NS_MAM, queryIq, stanzaIds } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERALD = join(ROOT, "bin/herald");
const IN_FLIGHT = 50;

let dir: string;
let port: number;


type Running = Awaited<ReturnType<typeof startHeraldProcess>>;

const startHerald = (): Promise<Running> => startHeraldProcess(process.execPath, [HERALD, "start", "-c", "herald.cfg.lua"], { cwd: dir, timeoutMs: 60_000 });

const login = (user: string, resource: string) => RawClient.login(port, user, "pw", { noTls: true, mechanism: "PLAIN", resource });

/** Juliet's whole archive: the stanza ids (archive ids) it holds. */
async function archivedIds(c: RawClient): Promise<Set<string>> {
  const xml = queryIq({ id: "all", rsm: { max: 10_000 } });
  c.send(xml);
  const ids = new Set<string>();
  for (;;) {
    const el = await c.next(30_000);
    if (el.name === "iq" && el.attrs.id === "all") {
      expect(el.attrs.type, String(el)).toBe("result");
      return ids;
    }
    const r = el.name === "message" ? el.getChild("result", NS_MAM) : undefined;
    if (r) ids.add(r.attrs.id);
  }
}

/**
 * Romeo sends numbered messages with IN_FLIGHT undelivered at most; once juliet has received
 * `killAt` of them, the server is killed at once (in the same turn as the receipt). Returns the
 * stanza ids juliet received.
 */
async function streamAndKill(server: Running, round: number, killAt: number): Promise<string[]> {
  const romeo = await login("romeo", `r${round}`);
  const juliet = await login("juliet", `j${round}`);
  juliet.send("<presence/>");
  await juliet.next(10_000); // her own presence
  const received: string[] = [];
  let sent = 0;
  const pump = () => {
    while (sent - received.length < IN_FLIGHT && !romeo.closed) {
      romeo.send(`<message to='juliet@localhost' type='chat' id='k${round}-${sent}'><body>round ${round} message ${sent}</body></message>`);
      sent++;
    }
  };
  pump();
  for (;;) {
    let el;
    try {
      el = await juliet.next(30_000);
    } catch {
      break; // the connection is gone
    }
    if (el.name !== "message" || el.getChildText("body") === undefined) continue;
    const [id] = stanzaIds(el, "juliet@localhost");
    expect(id, `no stanza id on ${el}`).toBeDefined();
    received.push(id);
    if (received.length === killAt) {
      server.child.kill("SIGKILL");
      break;
    }
    pump();
  }
  await server.exited;
  expect(server.child.signalCode).toBe("SIGKILL");
  romeo.close();
  juliet.close();
  return received;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/bin/cli.js"))) throw new Error("run `npm run build` first");
  const built = statSync(join(ROOT, "dist/bin/cli.js")).mtimeMs;
  for (const f of ["modules/mod_mam/index.ts", "modules/mod_mam/writer.ts"]) {
    if (statSync(join(ROOT, f)).mtimeMs > built) throw new Error(`dist/ is older than ${f}: run \`npm run build\` first`);
  }
  dir = mkdtempSync(join(tmpdir(), "herald-mam-crash-"));
  port = await freePort();
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `-- kill -9 test of the message archive
data_path = "data"
storage = "internal"
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
s2s_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
max_archive_query_results = 10000
log = "info"
modules_enabled = { "roster"; "presence"; "message"; "mam" }
VirtualHost "localhost"
`,
  );
  for (const user of ["romeo", "juliet"]) {
    const r = spawnSync(process.execPath, [HERALD, "adduser", `${user}@localhost`, "-c", "herald.cfg.lua"], { cwd: dir, input: "pw\n", encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`adduser ${user}: ${r.stdout}${r.stderr}`);
  }
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("kill -9 right after delivery (LevelDB)", () => {
  it("every message a client received is in its archive after SIGKILL", async () => {
    let server = await startHerald();
    const received: string[] = [];
    try {
      for (const [round, killAt] of [
        [1, 120],
        [2, 333],
      ]) {
        const got = await streamAndKill(server, round, killAt);
        expect(got).toHaveLength(killAt);
        received.push(...got);
        server = await startHerald();
        const juliet = await login("juliet", `check${round}`);
        const archived = await archivedIds(juliet);
        juliet.close();
        const missing = received.filter((id) => !archived.has(id));
        expect(missing, `after kill ${round}: ${missing.length} of ${received.length} received messages are not in the archive`).toEqual([]);
      }
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGTERM");
        await server.exited;
      }
    }
  }, 180_000);
});
