// `herald shell`: Prosody's admin shell commands against a running Herald (a child process started
// with `herald start`), through its admin socket, one-shot and from piped standard input, with real
// clients on loopback seeing the effects (sessions closed, modules loaded, pubsub items).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { startHeraldProcess } from "./herald-process.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";

const HERALD = fileURLToPath(new URL("../../bin/herald", import.meta.url));
const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
let dir: string;
let ports: number[];
let server: ChildProcess;
let serverOutput: () => string;


/** Run `herald ARGS` to completion (asynchronously: clients in this process keep reading meanwhile). */
function herald(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD, ...args], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

const shell = (...words: string[]) => herald(["shell", "-c", "herald.cfg.lua", ...words]);

function config(extra: { modules?: string; global?: string } = {}): string {
  return `-- test configuration
data_path = "data"
c2s_ports = { ${ports[0]} }
c2s_direct_tls_ports = { ${ports[1]} }
http_ports = { ${ports[2]} }
https_ports = { ${ports[3]} }
interfaces = { "127.0.0.1" }
log = "info"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_timeout = 300
modules_enabled = { ${extra.modules ?? '"ping"'} }
${extra.global ?? ""}
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
`;
}

const login = (user: string, password: string, resource?: string) =>
  RawClient.login(ports[0], user, password, { noTls: true, mechanism: "PLAIN", resource });

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL("../../dist/bin/cli.js", import.meta.url)))) throw new Error("run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "herald-shell-"));
  ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, "herald.cfg.lua"), config());
  ({ child: server, output: serverOutput } = await startHeraldProcess(process.execPath, [HERALD, "start", "-c", "herald.cfg.lua"], { cwd: dir, timeoutMs: 20000 }));
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.on("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

// Every command here is a real `herald shell` process (about a second of Node start-up each, more on a
// loaded machine), so the tests get more time than the suite's default.
describe("herald shell", { timeout: 90000 }, () => {
  it("runs one command and exits: server, user and help commands", async () => {
    let r = await shell("server:version()");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^OK: Herald \d+\.\d+\.\d+/);

    r = await shell("server:uptime()");
    expect(r.stdout).toMatch(/^OK: This server has been running for 0 days, 0 hours and \d+ minutes? \(since /);

    r = await shell('user:create("romeo@localhost", "montague")');
    expect(r.stdout.trim(), r.stderr).toBe("OK: User created");
    r = await shell("user:create('romeo@localhost', 'again')");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*already exists/);
    await shell('user:create("tybalt@localhost", "capulet")');
    r = await shell('user:list("localhost")');
    expect(r.stdout.split("\n")).toEqual(["romeo@localhost", "tybalt@localhost", "OK: Showing all 2 users", ""]);
    r = await shell('user:list("localhost", "rom")');
    expect(r.stdout).toContain("OK: Showing 1 of 2 users");

    (await login("romeo", "montague")).close();
    r = await shell('user:password("romeo@localhost", "[[new]]")');
    expect(r.stdout.trim()).toBe("OK: User password changed");
    await expect(login("romeo", "montague")).rejects.toThrow(/authentication failed/);
    (await login("romeo", "[[new]]")).close();

    r = await shell('user:delete("tybalt@localhost")');
    expect(r.stdout.trim()).toBe("OK: User deleted");
    await expect(login("tybalt", "capulet")).rejects.toThrow(/authentication failed/);

    r = await shell("help");
    for (const section of ["c2s", "s2s", "module", "user", "pubsub", "server", "config"]) expect(r.stdout).toMatch(new RegExp(`^${section} +\\| `, "m"));
    r = await shell("help c2s");
    expect(r.stdout).toContain("c2s:close(jid, text, condition)");
  });

  it("takes prosodyctl's word form: herald shell user list localhost", async () => {
    const r = await shell("user", "list", "localhost");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("romeo@localhost");
    expect(r.stdout).toMatch(/OK: Showing all \d+ users/);
  });

  it("c2s:show lists sessions; c2s:close ends a JID's sessions with a stream error", async () => {
    const a = await login("romeo", "[[new]]", "balcony");
    const b = await login("romeo", "[[new]]", "orchard");
    await shell('user:create("mercutio@localhost", "queen-mab")');
    const m = await login("mercutio", "queen-mab", "street");
    try {
      let r = await shell("c2s:show()");
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^Session ID +\| JID +\| IPv +\| Status +\| Security$/);
      expect(lines.filter((l) => /\| romeo@localhost\/(balcony|orchard) +\| IPv4 +\| +\| insecure$/.test(l))).toHaveLength(2);
      // Every connection is listed, also those not logged in (earlier failed logins here).
      const rows = lines.slice(1, -1);
      expect(lines.at(-1)).toBe(`OK: ${rows.length} c2s sessions shown`);
      expect(rows.filter((l) => /\| mercutio@localhost\/street +\|/.test(l))).toHaveLength(1);
      for (const row of rows.filter((l) => !/@localhost\//.test(l))) expect(row).toMatch(/^c2s\S* +\| \[127\.0\.0\.1\]@localhost +\| IPv4 /);

      // The status column is the <show/> of an available session (asked of mod_presence).
      m.send("<presence><show>dnd</show></presence>");
      expect((await m.next()).attrs).toMatchObject({ from: m.jid });
      r = await shell('c2s:show("mercutio@localhost", "jid status")');
      expect(r.stdout.trim().split("\n")[1]).toMatch(/^mercutio@localhost\/street +\| dnd$/);

      r = await shell('c2s:show("romeo@localhost", "jid method")');
      expect(r.stdout.trim().split("\n")).toEqual([
        expect.stringMatching(/^JID +\| Method$/),
        expect.stringMatching(/^romeo@localhost\/balcony +\| TCP$/),
        expect.stringMatching(/^romeo@localhost\/orchard +\| TCP$/),
        expect.stringMatching(/^OK: 2 out of \d+ c2s sessions shown$/),
      ]);

      r = await shell('c2s:close("romeo@localhost")');
      expect(r.stdout.trim()).toBe("OK: Total: 2 sessions closed");
      for (const c of [a, b]) {
        const err = await c.next();
        expect(err.name).toBe("error");
        expect(err.getChild("policy-violation", NS_STREAMS)).toBeDefined();
        await c.waitClosed();
      }
      // The other user's session is untouched and still answered.
      const pong = await m.iq("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      expect(pong.attrs.type).toBe("result");

      r = await shell('c2s:close("mercutio@localhost/street", "Go to bed", "reset")');
      expect(r.stdout.trim()).toBe("OK: Total: 1 sessions closed");
      const err = await m.next();
      expect(err.getChild("reset", NS_STREAMS)).toBeDefined();
      expect(err.getChild("text", NS_STREAMS)?.getText()).toBe("Go to bed");
    } finally {
      for (const c of [a, b, m]) c.close();
    }
  });

  it("s2s:show says that there are no s2s sessions yet", async () => {
    const r = await shell("s2s:show()");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("No s2s sessions");
    expect(r.stdout).toContain("OK: 0 s2s connections shown");
  });

  it("module:list, unload, load and reload act on the running server", async () => {
    const c = await login("romeo", "[[new]]");
    const ping = () => c.iq(`<iq type='get' id='p${Math.random()}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    try {
      let r = await shell('module:list("localhost")');
      expect(r.stdout).toMatch(/^localhost:\n( {4}\w+\n)+$/);
      expect(r.stdout).toContain("    ping\n");
      expect((await ping()).attrs.type).toBe("result");

      r = await shell('module:unload("ping")');
      expect(r.stdout.trim().split("\n")).toEqual(["Unloaded from localhost", "OK: Module unloaded from 1 host"]);
      expect((await ping()).attrs.type).toBe("error");
      expect((await shell('module:list("localhost")')).stdout).not.toContain("    ping\n");

      r = await shell('module:load("ping", "localhost")');
      expect(r.stdout.trim().split("\n")).toEqual(["Loaded for localhost", "OK: Module loaded onto 1 host"]);
      expect((await ping()).attrs.type).toBe("result");

      r = await shell('module:reload("ping")');
      expect(r.stdout.trim().split("\n")).toEqual(["Reloaded on localhost", "OK: Module reloaded on 1 host"]);
      expect((await ping()).attrs.type).toBe("result");

      r = await shell('module:load("no_such_module")');
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("Error: Herald has no module named 'no_such_module'");
      r = await shell('module:load("c2s")');
      expect(r.stderr).toContain("built into Herald");
    } finally {
      c.close();
    }
  });

  it("pubsub commands (Prosody 13's names) manage nodes and items of the component", async () => {
    const S = '"pubsub.localhost"';
    let r = await shell(`pubsub:create_node(${S}, "princes")`);
    expect(r.stdout.trim(), r.stderr).toBe("OK: Created node princes");
    r = await shell(`pubsub:list_nodes(${S})`);
    expect(r.stdout.trim().split("\n")).toEqual(["princes", "OK: 1 nodes"]);

    // The service itself owns the node it made: open it to publishers from the shell, then a
    // client publishes.
    r = await shell(`pubsub:set_node_config_option(${S}, "princes", "pubsub#publish_model", "open")`);
    expect(r.stdout.trim(), r.stderr).toBe("OK: Applied config: open");
    r = await shell(`pubsub:get_node_config(${S}, "princes", "pubsub#publish_model")`);
    expect(r.stdout.trim().split("\n")).toEqual(["open", "OK: Showing 1 config options"]);
    r = await shell(`pubsub:get_node_config(${S}, "princes")`);
    expect(r.stdout).toMatch(/^pubsub#max_items\t\d+$/m);
    expect(r.stdout).toMatch(/OK: Showing \d+ config options/);
    r = await shell(`pubsub:set_node_config_option(${S}, "princes", "pubsub#access_model", "nonsense")`);
    expect(r.status).toBe(1);

    const c = await login("romeo", "[[new]]");
    try {
      for (const id of ["escalus", "hamlet"]) {
        const res = await c.iq(
          `<iq type='set' id='pub-${id}' to='pubsub.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='princes'><item id='${id}'><prince xmlns='urn:example:verona'>${id}</prince></item></publish></pubsub></iq>`,
        );
        expect(res.attrs.type, String(res)).toBe("result");
      }
    } finally {
      c.close();
    }
    r = await shell(`pubsub:list_items(${S}, "princes")`);
    expect(r.stdout.trim().split("\n")).toEqual(["escalus", "hamlet", "OK: 2 items"]);
    r = await shell(`pubsub:get_item(${S}, "princes", "hamlet")`);
    expect(r.stdout.trim()).toBe("<prince xmlns='urn:example:verona'>hamlet</prince>");
    r = await shell(`pubsub:delete_item(${S}, "princes", "hamlet")`);
    expect(r.stdout.trim()).toBe("OK: Deleted item hamlet from princes");
    r = await shell(`pubsub:get_item(${S}, "princes", "hamlet")`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe("Error: Item not found");
    r = await shell(`pubsub:delete_all_items(${S}, "princes")`);
    expect(r.stdout.trim()).toBe("OK: Deleted all items of princes");
    expect((await shell(`pubsub:list_items(${S}, "princes")`)).stdout.trim()).toBe("OK: 0 items");
    r = await shell(`pubsub:delete_node(${S}, "princes")`);
    expect(r.stdout.trim()).toBe("OK: Deleted node princes");
    r = await shell(`pubsub:list_items(${S}, "princes")`);
    expect(r.stderr).toMatch(/^Error: item-not-found/);
    r = await shell('pubsub:list_nodes("localhost")');
    expect(r.stderr).toContain("localhost is not a pubsub service");
  });

  it("reads commands from piped standard input; errors go to stderr and set the exit status", async () => {
    let r = await herald(["shell", "-c", "herald.cfg.lua"], 'server:version()\n\nhost:list()\nnosuch:thing()\nuser:list("localhost"\n');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^OK: Herald /);
    expect(r.stdout).toContain("localhost\tVirtualHost\npubsub.localhost\tComponent (pubsub)\nOK: 2 hosts\n");
    expect(r.stderr).toContain("Error: 'nosuch' is not a section of the shell");
    expect(r.stderr).toContain("Sorry, I couldn't understand that... ')' expected near the end of the line");

    r = await herald(["shell", "-c", "herald.cfg.lua"], "s2s:show()\nquit\nserver:version()\n");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("OK: 0 s2s connections shown");
    expect(r.stdout).not.toContain("OK: Herald");
  });

  it("is interactive on a terminal: a prompt, '|' before output and '!' before errors, until quit", async () => {
    // util-linux `script` gives the shell a pseudo-terminal; the lines typed come from its stdin.
    const r = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const child = spawn("script", ["-qec", `${JSON.stringify(process.execPath)} ${JSON.stringify(HERALD)} shell -c herald.cfg.lua`, "/dev/null"], {
        cwd: dir,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.on("error", reject);
      const timer = setTimeout(() => child.kill("SIGKILL"), 30000);
      child.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, out });
      });
      child.stdin.end("server:version()\nnosuch:x()\nquit\n");
    });
    expect(r.status).toBe(0);
    expect(r.out).toContain("Welcome to Herald");
    expect(r.out).toContain("herald> ");
    expect(r.out).toMatch(/^\| OK: Herald \d/m);
    expect(r.out).toMatch(/! Error: 'nosuch' is not a section of the shell/);
  });

  it("config:reload() applies module lists and log settings, and says what needs a restart", async () => {
    const c = await login("romeo", "[[new]]");
    const version = () => c.iq(`<iq type='get' id='v${Math.random()}' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
    try {
      expect((await version()).attrs.type).toBe("error");
      writeFileSync(
        join(dir, "herald.cfg.lua"),
        config({ modules: '"version"', global: 'admins = { "romeo@localhost" }' }).replace("c2s_timeout = 300", "c2s_timeout = 60").replace('log = "info"', 'log = "debug"'),
      );
      const r = await shell("config:reload()");
      expect(r.status, r.stderr).toBe(0);
      const out = r.stdout;
      expect(out).toContain("log: applied");
      expect(out).toContain("admins: applied");
      expect(out).toContain("localhost: unloaded ping");
      expect(out).toContain("localhost: loaded version");
      expect(out).toMatch(/takes effect after a restart.*: c2s_timeout$/m);
      expect(out).toMatch(/^OK: Config reloaded: 4 changes applied, 1 needs a restart$/m);

      expect((await version()).attrs.type).toBe("result");
      const ping = await c.iq("<iq type='get' id='p-after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      expect(ping.attrs.type).toBe("error");
      // The new log level is in force: debug lines appear.
      const before = serverOutput().length;
      await shell("server:version()");
      await new Promise((r2) => setTimeout(r2, 200));
      expect(serverOutput().slice(before)).toMatch(/ debug /);

      expect((await shell('config:get("c2s_timeout")')).stdout.trim()).toBe("OK: 60");
      const again = await shell("config:reload()");
      expect(again.stdout.trim()).toBe("OK: Config reloaded: nothing to apply");
    } finally {
      c.close();
    }
  });

  it("says so when the server is not running", async () => {
    writeFileSync(join(dir, "down.cfg.lua"), 'data_path = "elsewhere"\nVirtualHost "localhost"\n');
    const r = await herald(["shell", "-c", "down.cfg.lua", "server:version()"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the server is not running/);
  });
});
