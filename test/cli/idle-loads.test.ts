// What an idle `herald start` has loaded: only what serving its listeners needs. The command line's
// package (commander), the XML parser's and SASLprep's packages, the log file writer, Node's HTTP
// server, BOSH, the admin console's commands and LevelDB's driver are loaded when first used; a
// server keeps in memory what it loaded once (see README, "Idle server"). The loads are recorded by
// a module hook and a require() hook preloaded into the real server process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";
import { plainStartArgs } from "../../bin/start.js";

const HERALD = fileURLToPath(new URL("../../bin/herald", import.meta.url));
let dir: string;
let loads: string;
let port: number;
let child: ChildProcess | undefined;


/** Everything the server process has loaded so far: module URLs (import) and require() requests. */
const loaded = () => readFileSync(loads, "utf8").split("\n").filter(Boolean);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "herald-idle-loads-"));
  loads = join(dir, "loads.txt");
  writeFileSync(loads, "");
  port = await freePort();
  // Imports pass the module hook (which runs beside the server's thread); require() calls, which
  // Node 20's module hooks do not see, pass Module._load.
  writeFileSync(
    join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(loads)}, url + "\\n");
  return next(url, context);
}
`,
  );
  writeFileSync(
    join(dir, "record.mjs"),
    `import { register, Module } from "node:module";
import { appendFileSync } from "node:fs";
register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});
const load = Module._load;
Module._load = function (request, ...rest) {
  appendFileSync(${JSON.stringify(loads)}, "require:" + request + "\\n");
  return load.call(this, request, ...rest);
};
`,
  );
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `data_path = "data"
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
log = "info"
VirtualHost "localhost"
`,
  );
});

afterAll(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("herald start", () => {
  it("takes its plain forms without the command line's package, and hands every other form to it", () => {
    expect(plainStartArgs(["start"])).toBeUndefined();
    expect(plainStartArgs(["start", "-c", "a.cfg.lua"])).toBe("a.cfg.lua");
    expect(plainStartArgs(["start", "--config", "a.cfg.lua"])).toBe("a.cfg.lua");
    expect(plainStartArgs(["start", "--config=a.cfg.lua"])).toBe("a.cfg.lua");
    for (const other of [[], ["check"], ["start", "--help"], ["start", "-c"], ["start", "-c", "--help"], ["start", "-c", "a", "b"], ["start", "--config="], ["start", "x"]]) {
      expect(plainStartArgs(other), other.join(" ")).toBeNull();
    }
    const help = spawnSync(process.execPath, [HERALD, "start", "--help"], { cwd: dir, encoding: "utf8", timeout: 20000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: herald start \[options\]/);
    expect(help.stdout).toMatch(/-c, --config <file>/);
  });

  it("loads, until a client comes, only what its listeners need; the parser and SASLprep come with the first client", async () => {
    child = spawn(process.execPath, ["--import", pathToFileURL(join(dir, "record.mjs")).href, HERALD, "start", "-c", "herald.cfg.lua"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`herald did not start:\n${out}`)), 20000);
      const check = () => {
        if (/Herald .* started/.test(out)) {
          clearTimeout(t);
          resolve();
        } else if (child!.exitCode !== null) {
          clearTimeout(t);
          reject(new Error(`herald exited:\n${out}`));
        } else setTimeout(check, 50);
      };
      check();
    });

    const idle = loaded();
    // The recording works: the server's own modules and the packages it needs are there.
    expect(idle.some((u) => u.endsWith("/dist/src/server.js"))).toBe(true);
    expect(idle.some((u) => u.endsWith("/dist/src/net/c2s.js"))).toBe(true);
    const notYet = [
      /[/:]commander\b/,
      /[/:]saxes\b/,
      /[/:]@mongodb-js\/saslprep\b/,
      /[/:]sonic-boom\b/,
      /[/:]read\b|\/read\/dist\//,
      /^(require:)?(node:)?(http|https|readline|child_process|dns)$/,
      /\/dist\/bin\/cli\.js$/,
      /\/dist\/src\/storage\/(leveldb|index)\.js$/,
      /\/dist\/src\/net\/bosh\.js$/,
      /\/dist\/src\/admin\/shell\.js$/,
    ];
    for (const re of notYet) expect(idle.filter((u) => re.test(u)), String(re)).toEqual([]);

    // A client: its stream needs the XML parser, its PLAIN authentication SASLprep.
    const c = await RawClient.connect(port);
    try {
      await c.stream();
      const r = await c.auth("PLAIN", "nobody", "secret");
      expect(r.name).toBe("failure");
    } finally {
      c.close();
    }
    const after = loaded();
    expect(after.filter((u) => /[/:]saxes\b/.test(u)).length).toBeGreaterThan(0);
    expect(after.filter((u) => /[/:]@mongodb-js\/saslprep\b/.test(u)).length).toBeGreaterThan(0);
  }, 60000);
});
