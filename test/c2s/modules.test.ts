// Unloading a module removes every hook, feature, identity, disco item and timer it registered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ config: `modules_enabled = { "ping"; "tls"; "no_such_thing"; "bosh" }\nc2s_require_encryption = false\nallow_unencrypted_plain_auth = true\nVirtualHost "localhost"\n` });
  await ts.server.accounts("localhost").create("dave", "pw");
});
afterAll(() => ts?.stop());

describe("module manager", () => {
  it("unloads ping: the handler, the feature and every hook are gone; loading again restores them", async () => {
    const host = ts.server.hosts.get("localhost")!;
    const before = host.bus.count();
    const c = await RawClient.login(ts.c2sPort, "dave", "pw", { noTls: true, mechanism: "PLAIN" });
    const ping = "<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>";
    expect((await c.iq(ping)).attrs.type).toBe("result");
    expect(host.disco.listFeatures()).toContain("urn:xmpp:ping");

    await ts.server.modules.unload(host, "ping");
    expect(host.disco.listFeatures()).not.toContain("urn:xmpp:ping");
    expect(host.bus.count()).toBe(before - 2);
    const err = await c.iq(ping.replace("id='p'", "id='p2'"));
    expect(err.attrs.type).toBe("error");
    expect(err.getChild("error")!.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();

    await ts.server.modules.load(host, "ping");
    expect(host.bus.count()).toBe(before);
    expect((await c.iq(ping.replace("id='p'", "id='p3'"))).attrs.type).toBe("result");
    c.close();
  });

  it("unloading removes timers, disco items and global hooks too", async () => {
    const host = ts.server.hosts.get("localhost")!;
    let ticks = 0;
    const registry = { probe: async () => ({ default: { load(m: import("../../src/modules/api.js").ModuleApi) {
      m.addTimer(10, () => { ticks++; return 10; });
      m.addDiscoItem("probe.localhost", "Probe");
      m.addIdentity("automation", "probe");
      m.hookGlobal("server-stopping", () => undefined);
      m.hook("custom-event", () => "probe");
    } } }) };
    Object.assign((ts.server.modules as unknown as { registry: Record<string, unknown> }).registry, registry);
    const globalBefore = ts.server.globalBus.count();
    await ts.server.modules.load(host, "probe");
    await new Promise((r) => setTimeout(r, 60));
    expect(ticks).toBeGreaterThan(0);
    expect(await host.bus.fire("custom-event", {})).toBe("probe");
    expect(host.discoItems.has("probe.localhost")).toBe(true);
    expect(ts.server.globalBus.count()).toBe(globalBefore + 1);
    await ts.server.modules.unload(host, "probe");
    const frozen = ticks;
    await new Promise((r) => setTimeout(r, 60));
    expect(ticks).toBe(frozen);
    expect(await host.bus.fire("custom-event", {})).toBeUndefined();
    expect(host.discoItems.has("probe.localhost")).toBe(false);
    expect(host.disco.listIdentities().some((i) => i.type === "probe")).toBe(false);
    expect(ts.server.globalBus.count()).toBe(globalBefore);
  });

  it("names built-in and unknown modules in one warning each instead of refusing to start", () => {
    const host = ts.server.hosts.get("localhost")!;
    const plan = ts.server.moduleListFor(host);
    expect(plan.load).toContain("ping");
    expect(plan.warnings).toEqual([
      "'tls' is built into Herald; it does not need to be in modules_enabled",
      "Module 'no_such_thing' is not available in Herald; it is ignored",
    ]);
    // "bosh" switches on BOSH at /http-bind (src/net/bosh.ts): no module to load, no warning.
    expect(plan.load).not.toContain("bosh");
  });
});

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** Fired only by this test's probe module. */
    "custom-event": import("../../src/events/bus.js").EventSpec<Record<string, never>, string>;
  }
}
