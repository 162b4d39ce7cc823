// Debian's biboumi (an XMPP–IRC gateway, a real external component written in C++) connected to
// Herald over XEP-0114: a client's disco#info to the gateway is answered by biboumi through Herald.
// No IRC server is needed for that. Skipped with a message when biboumi is not installed.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const installed = spawnSync("sh", ["-c", "command -v biboumi"]).status === 0;
if (!installed) console.warn("biboumi is not installed (apt-get install -y biboumi; .ci/run installs it): the biboumi test is skipped");

let ts: TestServer;
let dir: string;
let biboumi: ChildProcess | undefined;
let output = "";

beforeAll(async () => {
  if (!installed) return;
  ts = await startTestServer({
    config: `
modules_enabled = { "disco" }
VirtualHost "localhost"
  authentication = "insecure"
Component "irc.localhost"
  component_secret = "biboumi secret"
`,
  });
  dir = mkdtempSync(join(tmpdir(), "herald-biboumi-"));
  const cfg = join(dir, "biboumi.cfg");
  writeFileSync(
    cfg,
    [
      "hostname=irc.localhost",
      "password=biboumi secret",
      "xmpp_server_ip=127.0.0.1",
      `port=${ts.componentPort}`,
      "admin=admin@localhost",
      `db_name=${join(dir, "biboumi.sqlite")}`,
      "identd_port=0",
      "log_level=1",
      "",
    ].join("\n"),
  );
  biboumi = spawn("biboumi", [cfg], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  biboumi.stdout!.on("data", (d) => (output += d));
  biboumi.stderr!.on("data", (d) => (output += d));
});

afterAll(async () => {
  if (biboumi && biboumi.exitCode === null) {
    const exited = new Promise((r) => biboumi!.once("exit", r));
    biboumi.kill("SIGTERM");
    await exited;
  }
  await ts?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it.skipIf(!installed)("biboumi connects as irc.localhost and answers a client's disco#info through Herald", async () => {
  const host = ts.server.hosts.get("irc.localhost")!;
  for (let i = 0; !host.component && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
  expect(host.component, `biboumi connected; its output:\n${output}`).toBeDefined();

  const alice = await RawClient.login(ts.c2sPort, "alice", "pw", { mechanism: "PLAIN" });
  const info = await alice.iq("<iq type='get' to='irc.localhost' id='bib1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", 10000);
  expect(info.attrs.type, String(info)).toBe("result");
  expect(info.attrs.from).toBe("irc.localhost");
  const q = info.getChild("query", "http://jabber.org/protocol/disco#info")!;
  const identities = q.childElements().filter((e) => e.name === "identity").map((e) => `${e.attrs.category}/${e.attrs.type}`);
  expect(identities).toContain("conference/irc");
  const features = q.childElements().filter((e) => e.name === "feature").map((e) => e.attrs.var);
  expect(features).toContain("http://jabber.org/protocol/muc");

  // The server lists the gateway among its items.
  const items = await alice.iq("<iq type='get' to='localhost' id='bib2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
  expect(items.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements().map((i) => i.attrs.jid)).toContain("irc.localhost");
  alice.close();
}, 60000);
