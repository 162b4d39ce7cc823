// The server's informational services, end to end: XEP-0092 version, XEP-0202 time, XEP-0012
// uptime, XEP-0157 contact addresses, XEP-0215 external services (the cases of Prosody's
// version.scs, uptime.scs, server_contact_info.scs and extdisco.scs, and more).

import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { VERSION } from "../../src/version.js";
import { errorCondition as condition } from "../helpers/errors.js";


const CONFIG = `
admins = { "admin@localhost" }
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "version"; "time"; "uptime"; "server_contact_info"; "external_services" }

external_service_host = "default.example"
external_service_port = 9876
external_service_secret = "<secret>"
external_services = {
	{type = "stun"; transport = "udp"};
	{type = "turn"; transport = "udp"; secret = true};
	{type = "turn"; transport = "udp"; secret = "foo"};
	{type = "ftp"; transport = "tcp"; port = 2121; username = "john"; password = "password"};
	{type = "ftp"; transport = "tcp"; host = "ftp.example.com"; port = 21; username = "john"; password = "password"};
	{transport = "tcp"; port = 1};
	{type = "turns"; transport = "tcp"; port = 5349; secret = true; username = "alice"; ttl = 600};
}

VirtualHost "localhost"
hide_os_type = true
contact_info = {
	abuse = { "mailto:abuse@localhost", "xmpp:abuse@localhost" };
	admin = { "mailto:admin@localhost", "xmpp:admin@localhost" };
	feedback = { "http://localhost/feedback.html", "mailto:feedback@localhost", "xmpp:feedback@localhost" };
	sales = { "xmpp:sales@localhost" };
	security = { "xmpp:security@localhost" };
	status = { "gopher://status.localhost" };
	support = { "https://localhost/support.html", "xmpp:support@localhost" };
}

VirtualHost "example.org"
external_service_access = { "someone@elsewhere.example" }
`;

let ts: TestServer;
let c: RawClient;

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
  await ts.addUser("romeo", "pw");
  c = await ts.login("romeo", "pw");
});
afterAll(() => ts?.stop());

describe("XEP-0092 software version", () => {
  it("answers name and version, without <os/> when hide_os_type is set (version.scs)", async () => {
    const r = await c.iq("<iq id='lx2' to='localhost' type='get'><query xmlns='jabber:iq:version'/></iq>");
    expect(r.attrs).toMatchObject({ type: "result", id: "lx2", from: "localhost" });
    expect(r.firstElement()!.toString()).toBe(`<query xmlns='jabber:iq:version'><name>Herald</name><version>${VERSION}</version></query>`);
  });

  it("includes the OS elsewhere, after name and version", async () => {
    const r = await c.iq("<iq id='v2' to='example.org' type='get'><query xmlns='jabber:iq:version'/></iq>");
    const q = r.firstElement()!;
    expect(q.childElements().map((e) => e.name)).toEqual(["name", "version", "os"]);
    expect(q.getChildText("os")).toMatch(/\S/);
  });
});

describe("XEP-0202 entity time", () => {
  it("answers the time in UTC with offset +00:00", async () => {
    const before = Date.now();
    const r = await c.iq("<iq id='t1' to='localhost' type='get'><time xmlns='urn:xmpp:time'/></iq>");
    const t = r.getChild("time", "urn:xmpp:time")!;
    expect(t.childElements().map((e) => e.name)).toEqual(["tzo", "utc"]);
    expect(t.getChildText("tzo")).toBe("+00:00");
    const utc = t.getChildText("utc")!;
    expect(utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(utc) - before)).toBeLessThan(5000);
  });
});

describe("XEP-0012 server uptime", () => {
  it("answers jabber:iq:last on the host with the seconds since the start (uptime.scs)", async () => {
    const r = await c.iq("<iq id='a' type='get' to='localhost'><query xmlns='jabber:iq:last'/></iq>");
    expect(r.attrs).toMatchObject({ type: "result", from: "localhost" });
    const q = r.getChild("query", "jabber:iq:last")!;
    const seconds = Number(q.attrs.seconds);
    expect(Number.isInteger(seconds)).toBe(true);
    const after = Math.floor((Date.now() - ts.server.started) / 1000);
    expect(seconds).toBeGreaterThanOrEqual(after - 1);
    expect(seconds).toBeLessThanOrEqual(after);
    expect(q.children).toEqual([]);
  });
});

describe("XEP-0157 contact addresses", () => {
  const info = async (to: string, id: string) => (await c.iq(`<iq type='get' id='${id}' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)).firstElement()!;

  it("puts contact_info into the host's disco#info as a form, in Prosody's field order (server_contact_info.scs)", async () => {
    const q = await info("localhost", "lx2");
    const forms = q.childElements("x", "jabber:x:data");
    expect(forms).toHaveLength(1);
    const list = (v: string, ...values: string[]) => `<field var='${v}-addresses' type='list-multi'>${values.map((x) => `<value>${x}</value>`).join("")}</field>`;
    expect(forms[0].toString()).toBe(
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field>" +
        list("abuse", "mailto:abuse@localhost", "xmpp:abuse@localhost") +
        list("admin", "mailto:admin@localhost", "xmpp:admin@localhost") +
        list("feedback", "http://localhost/feedback.html", "mailto:feedback@localhost", "xmpp:feedback@localhost") +
        list("sales", "xmpp:sales@localhost") +
        list("security", "xmpp:security@localhost") +
        list("status", "gopher://status.localhost") +
        list("support", "https://localhost/support.html", "xmpp:support@localhost") +
        "</x>",
    );
    const features = q.childElements("feature").map((f) => f.attrs.var);
    for (const f of ["jabber:iq:version", "urn:xmpp:time", "jabber:iq:last", "urn:xmpp:extdisco:2"]) expect(features).toContain(f);
  });

  it("falls back to the admins as xmpp: addresses without contact_info, every field present", async () => {
    const form = (await info("example.org", "ci2")).getChild("x", "jabber:x:data")!;
    const fields = form.childElements("field");
    expect(fields.map((f) => f.attrs.var)).toEqual([
      "FORM_TYPE", "abuse-addresses", "admin-addresses", "feedback-addresses", "sales-addresses", "security-addresses", "status-addresses", "support-addresses",
    ]);
    expect(fields[2].toString()).toBe("<field var='admin-addresses' type='list-multi'><value>xmpp:admin@localhost</value></field>");
    expect(fields[1].toString()).toBe("<field var='abuse-addresses' type='list-multi'/>");
  });
});

describe("XEP-0215 external services", () => {
  const services = async (xml: string) => c.iq(xml);

  it("lists every usable service with generated TURN credentials (extdisco.scs)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await services("<iq type='get' xml:lang='sv' id='lx2' to='localhost'><services xmlns='urn:xmpp:extdisco:2'/></iq>");
    expect(r.attrs).toMatchObject({ type: "result", id: "lx2", from: "localhost" });
    const list = r.getChild("services", "urn:xmpp:extdisco:2")!;
    expect(list.attrs).toEqual({ xmlns: "urn:xmpp:extdisco:2" });
    const items = list.childElements("service");
    // The entry without a type is left out.
    expect(items.map((s) => s.attrs.type)).toEqual(["stun", "turn", "turn", "ftp", "ftp", "turns"]);
    expect(items[0].attrs).toEqual({ type: "stun", transport: "udp", host: "default.example", port: "9876" });
    for (const [i, secret] of [[1, "<secret>"], [2, "foo"]] as const) {
      const a = items[i].attrs;
      expect(Object.keys(a).sort()).toEqual(["host", "password", "port", "restricted", "transport", "type", "username"]);
      expect(a).toMatchObject({ host: "default.example", port: "9876", transport: "udp", restricted: "1" });
      // TURN REST: the username is the expiry time (now + 1 day), the password its HMAC-SHA1.
      expect(Math.abs(Number(a.username) - (now + 86400))).toBeLessThanOrEqual(2);
      expect(a.password).toBe(createHmac("sha1", secret).update(a.username).digest("base64"));
    }
    expect(items[3].attrs).toEqual({ type: "ftp", transport: "tcp", host: "default.example", port: "2121", username: "john", password: "password", restricted: "1" });
    expect(items[4].attrs).toEqual({ type: "ftp", transport: "tcp", host: "ftp.example.com", port: "21", username: "john", password: "password", restricted: "1" });
    // A ttl makes an expiry, and a configured username is kept after the timestamp.
    const turns = items[5].attrs;
    expect(turns.username).toMatch(/^\d+:alice$/);
    expect(Math.abs(Number(turns.username.split(":")[0]) - (now + 600))).toBeLessThanOrEqual(2);
    expect(Math.abs(Date.parse(turns.expires) / 1000 - (now + 600))).toBeLessThanOrEqual(2);
    expect(turns.password).toBe(createHmac("sha1", "<secret>").update(turns.username).digest("base64"));
  });

  it("filters by type", async () => {
    const r = await services("<iq type='get' id='lx3' to='localhost'><services xmlns='urn:xmpp:extdisco:2' type='ftp'/></iq>");
    const items = r.getChild("services", "urn:xmpp:extdisco:2")!.childElements("service");
    expect(items.map((s) => s.attrs.host)).toEqual(["default.example", "ftp.example.com"]);
    const none = await services("<iq type='get' id='lx3b' to='localhost'><services xmlns='urn:xmpp:extdisco:2' type='nothing'/></iq>");
    expect(none.getChild("services", "urn:xmpp:extdisco:2")!.childElements()).toEqual([]);
  });

  it("hands out credentials by type and host, and refuses a request without a type (bad-request)", async () => {
    const r = await services("<iq type='get' id='lx4' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='default.example' type='turn'/></credentials></iq>");
    const creds = r.getChild("credentials", "urn:xmpp:extdisco:2")!.childElements("service");
    expect(creds.map((s) => [s.attrs.type, s.attrs.restricted, s.attrs.port])).toEqual([["turn", "1", "9876"], ["turn", "1", "9876"]]);
    const byPort = await services("<iq type='get' id='lx4b' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='ftp.example.com' type='ftp' port='21'/></credentials></iq>");
    expect(byPort.getChild("credentials", "urn:xmpp:extdisco:2")!.childElements("service").map((s) => s.attrs.port)).toEqual(["21"]);
    const wrongPort = await services("<iq type='get' id='lx4c' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='ftp.example.com' type='ftp' port='22'/></credentials></iq>");
    expect(wrongPort.getChild("credentials", "urn:xmpp:extdisco:2")!.childElements()).toEqual([]);
    // Unrestricted services have no credentials to give.
    const stun = await services("<iq type='get' id='lx4d' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='default.example' type='stun'/></credentials></iq>");
    expect(stun.getChild("credentials", "urn:xmpp:extdisco:2")!.childElements()).toEqual([]);

    const bad = await services("<iq type='get' id='lx5' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'><service host='default.example'/></credentials></iq>");
    expect(bad.attrs).toMatchObject({ type: "error", id: "lx5", from: "localhost" });
    expect(bad.getChild("error")!.attrs.type).toBe("modify");
    expect(condition(bad)).toBe("bad-request");
    const empty = await services("<iq type='get' id='lx6' to='localhost'><credentials xmlns='urn:xmpp:extdisco:2'/></iq>");
    expect(condition(empty)).toBe("bad-request");
  });

  it("answers the old urn:xmpp:extdisco:1 namespace in kind", async () => {
    const r = await services("<iq type='get' id='old' to='localhost'><services xmlns='urn:xmpp:extdisco:1' type='stun'/></iq>");
    expect(r.getChild("services", "urn:xmpp:extdisco:1")!.childElements()).toHaveLength(1);
  });

  it("follows external_service_access: others are forbidden", async () => {
    const r = await services("<iq type='get' id='acl' to='example.org'><services xmlns='urn:xmpp:extdisco:2'/></iq>");
    expect(r.attrs.type).toBe("error");
    expect(condition(r)).toBe("forbidden");
  });
});

describe("XEP-0030 for accounts", () => {
  const INFO = "http://jabber.org/protocol/disco#info";
  const ITEMS = "http://jabber.org/protocol/disco#items";

  it("an account answers disco#info with its identity and disco#items; one that does not exist answers service-unavailable", async () => {
    await ts.addUser("juliet", "pw");
    const info = await c.iq(`<iq type='get' id='ai1' to='juliet@localhost'><query xmlns='${INFO}'/></iq>`);
    expect(info.attrs.type).toBe("result");
    expect(info.getChild("query", INFO)!.getChild("identity")!.attrs).toEqual({ category: "account", type: "registered" });
    const items = await c.iq(`<iq type='get' id='ai2' to='juliet@localhost'><query xmlns='${ITEMS}'/></iq>`);
    expect(items.attrs.type).toBe("result");
    for (const [id, ns] of [["ai3", INFO], ["ai4", ITEMS]]) {
      const r = await c.iq(`<iq type='get' id='${id}' to='nobody@localhost'><query xmlns='${ns}'/></iq>`);
      expect(r.attrs.type).toBe("error");
      expect(condition(r)).toBe("service-unavailable");
    }
  });
});
