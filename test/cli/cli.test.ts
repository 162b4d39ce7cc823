// The `herald` executable as an admin uses it: check, account commands with the server up and down,
// start, and a clean shutdown on SIGTERM that closes every stream with <system-shutdown/>.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { loopbackListeners, startHeraldProcess } from "./herald-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";
import { createStorage } from "../../src/storage/index.js";
import { createAccountStore } from "../../src/auth/accounts.js";

const HERALD = fileURLToPath(new URL("../../bin/herald", import.meta.url));
let dir: string;
let ports: number[];


function herald(args: string[], input?: string) {
  return spawnSync(process.execPath, [HERALD, ...args], { cwd: dir, input, encoding: "utf8", timeout: 20000 });
}

function startHerald(): Promise<{ child: ChildProcess; output: () => string }> {
  return startHeraldProcess(process.execPath, [HERALD, "start", "-c", "herald.cfg.lua"], { cwd: dir, timeoutMs: 15000 });
}

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL("../../dist/bin/cli.js", import.meta.url)))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "herald-cli-"));
  ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `-- test configuration
data_path = "data"
${loopbackListeners(ports)}log = "info"
modules_enabled = { "ping" }
VirtualHost "localhost"
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("herald CLI", () => {
  it("prints its version", () => {
    const r = herald(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("checks the configuration, certificates and ports", () => {
    const r = herald(["check", "-c", "herald.cfg.lua"]);
    expect(r.stdout).toContain('VirtualHost "localhost"');
    expect(r.stdout).toContain(`c2s_ports: port ${ports[0]} is free`);
    expect(r.stdout).toContain("All checks passed");
    expect(r.status).toBe(0);
  });

  it("reports a config syntax error with file and line", () => {
    writeFileSync(join(dir, "broken.cfg.lua"), 'VirtualHost "localhost"\nmodules_enabled = { "ping"\n');
    const r = herald(["check", "-c", "broken.cfg.lua"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/broken\.cfg\.lua:\d+:\d+: /);
  });

  it("manages accounts offline, then online through the admin socket, and shuts down cleanly on SIGTERM", async () => {
    // Server down: the store is opened directly.
    let r = herald(["adduser", "alice@localhost", "-c", "herald.cfg.lua"], "first-pw\n");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("Created alice@localhost");
    expect(herald(["adduser", "alice@localhost", "-c", "herald.cfg.lua"], "x\n").status).toBe(1);
    expect(herald(["adduser", "not a jid", "-c", "herald.cfg.lua"], "x\n").status).toBe(1);

    const { child, output } = await startHerald();
    try {
      // Server up: the same commands go through its admin socket.
      r = herald(["adduser", "bob@localhost", "-c", "herald.cfg.lua"], "bob-pw\n");
      expect(r.stdout.trim(), r.stderr).toBe("Created bob@localhost");
      r = herald(["passwd", "alice@localhost", "-c", "herald.cfg.lua"], "second-pw\n");
      expect(r.stdout.trim(), r.stderr).toBe("Changed the password of alice@localhost");

      const alice = await RawClient.login(ports[0], "alice", "second-pw");
      const bob = await RawClient.login(ports[1], "bob", "bob-pw", { directTls: true });
      await expect(RawClient.login(ports[0], "alice", "first-pw")).rejects.toThrow(/authentication failed/);

      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      for (const c of [alice, bob]) {
        const err = await c.next();
        expect(err.name).toBe("error");
        expect(err.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams")).toBeDefined();
      }
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    expect(output()).not.toMatch(/error/i);

    // Down again: delete an account directly in the store; the data persisted across the restart.
    r = herald(["deluser", "bob@localhost", "-c", "herald.cfg.lua"]);
    expect(r.stdout.trim(), r.stderr).toBe("Deleted bob@localhost");
    const again = await startHerald();
    try {
      const alice = await RawClient.login(ports[0], "alice", "second-pw");
      await expect(RawClient.login(ports[0], "bob", "bob-pw")).rejects.toThrow(/authentication failed/);
      alice.close();
    } finally {
      again.child.kill("SIGTERM");
    }
  });

  it("keeps the data directory private whatever the umask, and check warns about wider modes", async () => {
    const home = mkdtempSync(join(tmpdir(), "herald-modes-"));
    const p = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(home, "herald.cfg.lua"),
      `data_path = "data"\ninterfaces = { "127.0.0.1" }\ns2s_ports = { }\nc2s_ports = { ${p[0]} }\nc2s_direct_tls_ports = { ${p[1]} }\n` +
        `http_ports = { ${p[2]} }\nhttps_ports = { ${p[3]} }\nVirtualHost "localhost"\n`,
    );
    // A umask that would make everything readable by every local user.
    const run = (args: string[], input?: string) =>
      spawnSync("/bin/sh", ["-c", 'umask 022 && exec "$0" "$@"', process.execPath, HERALD, ...args], { cwd: home, input, encoding: "utf8", timeout: 20000 });
    const modes = () => {
      const out: string[] = [];
      const walk = (path: string) => {
        const st = statSync(path);
        out.push(`${path.slice(home.length + 1)} ${(st.mode & 0o777).toString(8)}`);
        if (st.isDirectory()) for (const n of readdirSync(path)) walk(join(path, n));
      };
      walk(join(home, "data"));
      return out;
    };
    try {
      // Offline: the store is created by the account command.
      expect(run(["adduser", "alice@localhost", "-c", "herald.cfg.lua"], "pw\n").stdout.trim()).toBe("Created alice@localhost");
      // Then the server: certificates, admin socket, more LevelDB files.
      const child = spawn("/bin/sh", ["-c", 'umask 022 && exec "$0" "$@"', process.execPath, HERALD, "start", "-c", "herald.cfg.lua"], { cwd: home, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      const deadline = Date.now() + 15000;
      while (!/Herald .* started/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(/Herald .* started/);
      expect(run(["adduser", "bob@localhost", "-c", "herald.cfg.lua"], "pw\n").stdout.trim()).toBe("Created bob@localhost");
      const exited = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      await exited;

      const all = modes();
      expect(all.some((m) => m.startsWith("data/herald.db/"))).toBe(true);
      expect(all.some((m) => m.startsWith("data/certs/localhost.key"))).toBe(true);
      for (const m of all) {
        const [path, mode] = m.split(" ");
        const isDir = statSync(join(home, path)).isDirectory();
        expect(`${path} ${mode}`).toBe(`${path} ${isDir ? "700" : "600"}`);
      }
      const r = run(["check", "-c", "herald.cfg.lua"]);
      expect(r.stdout).toContain("only readable by its owner");
      expect(r.stdout).not.toMatch(/warn .*mode/);

      // Modes an older installation (or a hand-made directory) may have: reported with path and mode.
      chmodSync(join(home, "data", "herald.db"), 0o755);
      const current = readdirSync(join(home, "data", "herald.db")).find((n) => n === "CURRENT")!;
      chmodSync(join(home, "data", "herald.db", current), 0o644);
      const warned = run(["check", "-c", "herald.cfg.lua"]).stdout;
      expect(warned).toMatch(/warn\s+\S*data\/herald\.db: mode 0755/);
      expect(warned).toMatch(/warn\s+\S*data\/herald\.db\/CURRENT: mode 0644/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 60000);

  it("asks for the password on a terminal without echo, with line editing, twice", async () => {
    writeFileSync(join(dir, "prompt.cfg.lua"), `data_path = "data-prompt"\nVirtualHost "localhost"\n`);
    // util-linux `script` gives adduser a pseudo-terminal; each answer is typed once its prompt shows.
    const child = spawn("script", ["-qec", `${JSON.stringify(process.execPath)} ${JSON.stringify(HERALD)} adduser dave@localhost -c prompt.cfg.lua`, "/dev/null"], {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    const answers: Array<[string, string]> = [
      ["Password:", "wrnog\u0015right\r"], // Ctrl-U: the line so far is dropped
      ["Again:", "rigth\u007f\u007fht\r"], // backspaces
    ];
    child.stdout.on("data", (d) => {
      out += d;
      const next = answers[0];
      if (next && out.includes(next[0])) {
        answers.shift();
        child.stdin.write(next[1]);
        if (answers.length === 0) child.stdin.end();
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(timer);
    expect(out).toContain("Created dave@localhost");
    expect(status).toBe(0);
    expect(out).not.toMatch(/wrnog|right|rigth/);
    const storage = createStorage("leveldb", { path: join(dir, "data-prompt", "herald.db") });
    await storage.open();
    try {
      const accounts = createAccountStore(storage, "localhost");
      expect(await accounts.verify("dave", "right")).toBe(true);
    } finally {
      await storage.close();
    }
  });

  it("with tombstones enabled, a name deleted offline cannot be created again offline", () => {
    writeFileSync(join(dir, "tombstones.cfg.lua"), `data_path = "data-tombstones"\nmodules_enabled = { "tombstones" }\nVirtualHost "localhost"\n`);
    let r = herald(["adduser", "carol@localhost", "-c", "tombstones.cfg.lua"], "pw\n");
    expect(r.stdout.trim(), r.stderr).toBe("Created carol@localhost");
    r = herald(["deluser", "carol@localhost", "-c", "tombstones.cfg.lua"]);
    expect(r.stdout.trim(), r.stderr).toBe("Deleted carol@localhost");
    r = herald(["adduser", "carol@localhost", "-c", "tombstones.cfg.lua"], "pw\n");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not available/);
  });
});
