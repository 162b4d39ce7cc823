// The single-file herald (`npm run package`): built from this tree, copied ALONE into an empty
// directory and run with no Node.js on PATH and no node_modules anywhere it could look. Where the
// machine allows a private mount namespace (root, as in CI), the Node binary and every node_modules
// directory are also hidden from the executable entirely. Every subcommand is run; a client logs in
// (SCRAM and, through argon2, PLAIN) and pings; the LevelDB it wrote is read back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { loopbackListeners, startHeraldProcess } from "./herald-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Level } from "level";
import { RawClient } from "../helpers/xmpp-client.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;

let work: string;
let dir: string;
let env: Record<string, string>;
let ports: number[];
let hidden: string[] = [];
let isolated = false;


/** A shell script that hides every Node binary and node_modules directory in a private mount namespace. */
function hideScript(): string {
  return hidden
    .map((p) => (statSync(p).isDirectory() ? `/bin/mount -t tmpfs -o size=64k,mode=0755 none '${p}'` : `/bin/mount --bind /dev/null '${p}'`))
    .concat(['exec "$@"'])
    .join(" && ");
}

/** How to run `argv` in the test's environment: in the mount namespace when the machine allows it. */
function command(argv: string[]): [string, string[]] {
  if (!isolated) return [argv[0], argv.slice(1)];
  return ["/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", hideScript(), "sh", ...argv]];
}

function run(argv: string[], input?: string): SpawnSyncReturns<string> {
  const [cmd, args] = command(argv);
  return spawnSync(cmd, args, { cwd: dir, env, input, encoding: "utf8", timeout: 30000 });
}

function herald(args: string[], input?: string): SpawnSyncReturns<string> {
  return run(["./herald", ...args], input);
}

function startHerald(): Promise<{ child: ChildProcess; output: () => string }> {
  const [cmd, args] = command(["./herald", "start", "-c", "herald.cfg.lua"]);
  return startHeraldProcess(cmd, args, { cwd: dir, env, timeoutMs: 20000 });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "herald-sea-"));
  const built = join(work, "build", "herald");
  const r = spawnSync(process.execPath, [join(REPO, "bin", "package.mjs"), "--out", built], { encoding: "utf8", timeout: 240000 });
  if (r.status !== 0) throw new Error(`npm run package failed:\n${r.stdout}${r.stderr}`);

  // The file alone in an empty directory; PATH has nothing in it; a fresh home and cache.
  dir = join(work, "run");
  mkdirSync(dir);
  copyFileSync(built, join(dir, "herald"));
  chmodSync(join(dir, "herald"), 0o755);
  rmSync(join(work, "build"), { recursive: true, force: true });
  expect(readdirSync(dir)).toEqual(["herald"]);
  for (const d of ["empty-path", "home", "cache"]) mkdirSync(join(work, d));
  env = { PATH: join(work, "empty-path"), HOME: join(work, "home"), XDG_CACHE_HOME: join(work, "cache"), LANG: "C" };

  // Everything that could be a Node.js or a package for it, where it exists.
  const candidates = [process.execPath, "/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs", "/usr/lib/node_modules", "/usr/local/lib/node_modules", "/usr/share/nodejs", join(REPO, "node_modules")];
  hidden = [...new Set(candidates.filter((p) => existsSync(p)).map((p) => realpathSync(p)))];
  // A private mount namespace (needs root): probe it once.
  const probe = spawnSync("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", `/bin/mount -t tmpfs none '${join(work, "empty-path")}'`], { encoding: "utf8" });
  isolated = probe.status === 0;
  if (!isolated) console.warn("sea.test: no private mount namespace here (not root?): Node stays installed, the executable runs with an empty PATH only");

  ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `data_path = "data"
${loopbackListeners(ports)}log = "info"
modules_enabled = { "ping" }
-- Keys under 10,000 iterations come with an argon2id hash, checked on PLAIN: the embedded argon2 addon runs.
scram_iteration_count = 4096
VirtualHost "localhost"
`,
  );
}, 300000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the single-file herald", () => {
  it("runs where there is no Node.js: --version and --help", () => {
    expect(run(["/bin/sh", "-c", "command -v node"]).status).not.toBe(0);
    if (isolated) {
      expect(run(["/bin/sh", "-c", `exec '${realpathSync(process.execPath)}' --version`]).status).not.toBe(0);
      expect(run(["/bin/ls", "-A", join(REPO, "node_modules")]).stdout).toBe("");
    }
    const v = herald(["--version"]);
    expect(v.stderr).toBe("");
    expect(v.stdout.trim()).toBe(VERSION);
    expect(v.status).toBe(0);
    const help = herald(["--help"]);
    for (const cmd of ["start", "adduser", "passwd", "deluser", "check", "scansion"]) expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, "m"));

    // The native addons were unpacked into a private, content-named cache directory.
    const cache = join(work, "cache", "herald");
    const [hash] = readdirSync(cache);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(join(cache, hash)).mode & 0o077).toBe(0);
    expect(readdirSync(join(cache, hash, "native")).sort()).toEqual(["argon2.node", "classic-level.node"]);
  });

  it("checks its configuration", () => {
    const r = herald(["check", "-c", "herald.cfg.lua"]);
    expect(r.stdout).toContain(`c2s_ports: port ${ports[0]} is free`);
    expect(r.stdout).toContain("All checks passed");
    expect(r.status).toBe(0);
  });

  it("creates accounts in LevelDB, serves clients (SCRAM and argon2-checked PLAIN), and stops cleanly on SIGTERM", async () => {
    let r = herald(["adduser", "alice@localhost", "-c", "herald.cfg.lua"], "alice-pw\n");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("Created alice@localhost");
    expect(existsSync(join(dir, "data", "herald.db", "CURRENT"))).toBe(true);

    const { child, output } = await startHerald();
    try {
      // Through the running server's admin socket.
      r = herald(["adduser", "bob@localhost", "-c", "herald.cfg.lua"], "bob-pw\n");
      expect(r.stdout.trim(), r.stderr).toBe("Created bob@localhost");
      r = herald(["passwd", "alice@localhost", "-c", "herald.cfg.lua"], "alice-pw2\n");
      expect(r.stdout.trim(), r.stderr).toBe("Changed the password of alice@localhost");

      const alice = await RawClient.login(ports[0], "alice", "alice-pw2");
      const pong = await alice.iq("<iq type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      expect(pong.attrs.type).toBe("result");
      const bob = await RawClient.login(ports[1], "bob", "bob-pw", { directTls: true, mechanism: "PLAIN" });
      await expect(RawClient.login(ports[0], "alice", "alice-pw", { mechanism: "PLAIN" })).rejects.toThrow(/authentication failed/);

      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      for (const c of [alice, bob]) {
        const err = await c.next();
        expect(err.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
      }
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    expect(output()).not.toMatch(/error/i);

    r = herald(["deluser", "bob@localhost", "-c", "herald.cfg.lua"]);
    expect(r.stdout.trim(), r.stderr).toBe("Deleted bob@localhost");

    // The database the executable wrote is an ordinary LevelDB holding argon2id hashes.
    const db = new Level<string, string>(join(dir, "data", "herald.db"));
    const values: string[] = [];
    for await (const v of db.values()) values.push(v);
    await db.close();
    expect(values.join("\n")).toMatch(/\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("runs scansion scripts, with its built-in list of expected failures", () => {
    const scripts = join(work, "scansion");
    mkdirSync(scripts);
    writeFileSync(
      join(scripts, "prosody.cfg.lua"),
      `modules_enabled = { "ping" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "insecure"
insecure_open_authentication = "Yes please, I know what I'm doing!"
storage = "memory"
VirtualHost "localhost"
`,
    );
    writeFileSync(
      join(scripts, "ping.scs"),
      "# Ping\n\n[Client] Romeo\n\tjid: romeo@localhost\n\tpassword: pw\n\n-----\n\nRomeo connects\n\nRomeo sends:\n\t<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>\n\nRomeo receives:\n\t<iq type='result' id='p1' from='localhost'/>\n\nRomeo disconnects\n",
    );
    const r = herald(["scansion", scripts]);
    expect(r.stdout).toMatch(/^PASS\s+ping\.scs/m);
    expect(r.stdout).toMatch(new RegExp(`expected failures: \\d+ \\(listed in ${join(work, "cache", "herald")}/[0-9a-f]{16}/prosody-compat/scansion/expected-failures\\.txt\\)`));
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1 passed, 0 failed");
    expect(r.status).toBe(0);
  });
});
