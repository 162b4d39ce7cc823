// A real third-party external component, slixmpp's ComponentXMPP, connected to Herald over XEP-0114:
// clients reach it (messages, disco#info answered by its XEP-0030 plugin) and it reaches them.
import { afterAll, beforeAll, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { runPython } from "../helpers/python.js";
import { RawClient } from "../helpers/xmpp-client.js";

const SCRIPT = fileURLToPath(new URL("./slixmpp_component.py", import.meta.url));
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    config: `
modules_enabled = { "disco" }
VirtualHost "localhost"
  authentication = "insecure"
Component "echo.localhost"
  component_secret = "slixmpp secret"
`,
  });
});
afterAll(() => ts?.stop());

it("slixmpp's ComponentXMPP authenticates, answers disco#info and echoes messages through Herald", async () => {
  const run = runPython(SCRIPT, [String(ts.componentPort), "echo.localhost", "slixmpp secret"], 40000);
  const host = ts.server.hosts.get("echo.localhost")!;
  for (let i = 0; !host.component && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
  expect(host.component, "the component connected").toBeDefined();

  const alice = await RawClient.login(ts.c2sPort, "alice", "pw", { mechanism: "PLAIN" });
  const info = await alice.iq("<iq type='get' to='echo.localhost' id='info1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", 10000);
  expect(info.attrs.type).toBe("result");
  const identity = info.getChild("query", "http://jabber.org/protocol/disco#info")!.getChild("identity")!;
  expect(identity.attrs).toMatchObject({ category: "gateway", type: "echo", name: "Slixmpp echo gateway" });

  alice.send("<message to='bot@echo.localhost' type='chat' id='e1'><body>ping through Herald</body></message>");
  const got: Record<string, string> = {};
  for (let i = 0; i < 2; i++) {
    const m = await alice.next(10000);
    got[m.attrs.from!] = m.getChildText("body") ?? "";
  }
  expect(got).toEqual({ "bot@echo.localhost": "echo: ping through Herald", "relay@sub.echo.localhost": "via subdomain" });

  alice.send("<message to='bot@echo.localhost' type='chat' id='e2'><body>bye</body></message>");
  const result = await run;
  const events = result.events.map((e) => e.event);
  expect(events, result.stderr).toEqual(["session", "message", "message", "done"]);
  expect(result.events[1]).toMatchObject({ frm: alice.jid, to: "bot@echo.localhost", body: "ping through Herald" });
  for (let i = 0; host.component && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
  expect(host.component, "the component's stream ended").toBeUndefined();
  alice.close();
}, 60000);
