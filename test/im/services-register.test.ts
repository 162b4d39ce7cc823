// XEP-0077 in-band registration, end to end: the stream feature, the form, creating accounts
// (legacy fields and data form), conflicts and bad input, throttling, block lists, password change
// and account removal.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition as condition } from "../helpers/errors.js";

const NS_REG = "jabber:iq:register";

const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "register" }

VirtualHost "localhost"
allow_registration = true

VirtualHost "closed.localhost"

VirtualHost "throttled.localhost"
allow_registration = true
registration_allowlist = { }
min_seconds_between_registrations = 3600

VirtualHost "blocked.localhost"
allow_registration = true
registration_blocklist = { "10.0.0.1", "127.0.0.0/8" }

VirtualHost "secure.localhost"
allow_registration = true
c2s_require_encryption = true
`;

let ts: TestServer;
const registered: string[] = [];
const deleted: string[] = [];

beforeAll(async () => {
  // In memory; STARTTLS (secure.localhost) over a real socket.
  ts = await startTestServer({ transport: "memory", ports: { c2s: [0] }, config: CONFIG });
  ts.server.globalBus.on("user-registered", (ev: { host: string; username: string }) => {
    registered.push(`${ev.username}@${ev.host}`);
    return undefined;
  });
  ts.server.globalBus.on("user-deleted", (ev: { host: string; username: string }) => {
    deleted.push(`${ev.username}@${ev.host}`);
    return undefined;
  });
});
afterAll(() => ts?.stop());

/** A client with an open stream that has not authenticated; returns it and the stream features. */
async function unauthed(domain = "localhost"): Promise<{ c: RawClient; features: Element }> {
  const c = await ts.connect({ domain });
  const features = await c.stream();
  return { c, features };
}

async function login(user: string, password: string, domain = "localhost"): Promise<RawClient> {
  const c = await ts.connect({ domain });
  await c.stream();
  const r = await c.auth("PLAIN", user, password);
  if (r.name !== "success") throw new Error(`authentication failed: ${r}`);
  await c.stream();
  await c.bind();
  return c;
}

async function canLogin(user: string, password: string, domain = "localhost"): Promise<boolean> {
  const c = await ts.connect({ domain });
  await c.stream();
  const r = await c.auth("PLAIN", user, password);
  c.close();
  return r.name === "success";
}

const legacySet = (id: string, user: string, password?: string) =>
  `<iq type='set' id='${id}'><query xmlns='${NS_REG}'><username>${user}</username>${password === undefined ? "" : `<password>${password}</password>`}</query></iq>`;

describe("registration before login", () => {
  it("offers the iq-register stream feature only where registration is allowed", async () => {
    const open = await unauthed();
    expect(open.features.getChild("register", "http://jabber.org/features/iq-register")).toBeDefined();
    open.c.close();
    const closed = await unauthed("closed.localhost");
    expect(closed.features.getChild("register", "http://jabber.org/features/iq-register")).toBeUndefined();
    closed.c.close();
  });

  it("sends the registration form: instructions, legacy fields and a XEP-0004 form", async () => {
    const { c } = await unauthed();
    const r = await c.iq(`<iq type='get' id='reg1' to='localhost'><query xmlns='${NS_REG}'/></iq>`);
    expect(r.attrs).toMatchObject({ type: "result", id: "reg1", from: "localhost" });
    expect(r.firstElement()!.toString()).toBe(
      `<query xmlns='${NS_REG}'><instructions>Choose a username and password for use with this service.</instructions><username/><password/>` +
        "<x xmlns='jabber:x:data' type='form'><title>Creating a new account</title>" +
        "<instructions>Choose a username and password for use with this service.</instructions>" +
        "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>" +
        "<field var='username' type='text-single' label='Username'><required/></field>" +
        "<field var='password' type='text-private' label='Password'><required/></field></x></query>",
    );
    c.close();
  });

  it("creates an account from the legacy fields, fires user-registered, and the client can log in", async () => {
    const { c } = await unauthed();
    const r = await c.iq(legacySet("reg2", "Benvolio", "montague"));
    expect(r.attrs).toMatchObject({ type: "result", id: "reg2" });
    expect(registered).toContain("benvolio@localhost");
    // XEP-0077 §3.1: the same stream then authenticates.
    expect((await c.auth("PLAIN", "benvolio", "montague")).name).toBe("success");
    c.close();
    expect(await ts.server.accounts("localhost").verify("benvolio", "montague")).toBe(true);
  });

  it("creates an account from a data form", async () => {
    const { c } = await unauthed();
    const r = await c.iq(
      `<iq type='set' id='reg3'><query xmlns='${NS_REG}'><x xmlns='jabber:x:data' type='submit'>` +
        "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>" +
        "<field var='username'><value>mercutio</value></field><field var='password'><value>queen mab</value></field>" +
        "</x></query></iq>",
    );
    expect(r.attrs.type).toBe("result");
    c.close();
    expect(await canLogin("mercutio", "queen mab")).toBe(true);
  });

  it("refuses a taken username with conflict, and the existing password stays", async () => {
    const { c } = await unauthed();
    const r = await c.iq(legacySet("reg4", "BENVOLIO", "stolen"));
    expect(r.attrs.type).toBe("error");
    expect(r.getChild("error")!.attrs.type).toBe("cancel");
    expect(condition(r)).toBe("conflict");
    c.close();
    expect(await ts.server.accounts("localhost").verify("benvolio", "montague")).toBe(true);
  });

  it("refuses bad input with not-acceptable: invalid username, missing password, a malformed form", async () => {
    const { c } = await unauthed();
    const cases = [
      legacySet("b1", "bad user", "pw"),
      legacySet("b2", "a&amp;b", "pw"),
      legacySet("b3", "nopassword"),
      legacySet("b4", "", "pw"),
      `<iq type='set' id='b5'><query xmlns='${NS_REG}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:wrong</value></field><field var='username'><value>x</value></field><field var='password'><value>y</value></field></x></query></iq>`,
      `<iq type='set' id='b6'><query xmlns='${NS_REG}'><x xmlns='jabber:x:data' type='submit'><field var='username'><value>x</value><value>y</value></field><field var='password'><value>y</value></field></x></query></iq>`,
      `<iq type='set' id='b7'><query xmlns='${NS_REG}'><x xmlns='jabber:x:data' type='submit'><field var='username'><value>onlyname</value></field></x></query></iq>`,
    ];
    for (const xml of cases) {
      const r = await c.iq(xml);
      expect(r.attrs.type, xml).toBe("error");
      expect(condition(r), xml).toBe("not-acceptable");
    }
    expect(await ts.server.accounts("localhost").exists("nopassword")).toBe(false);
    expect(await ts.server.accounts("localhost").exists("onlyname")).toBe(false);
    // The stream is still usable.
    expect((await c.iq(`<iq type='get' id='b8'><query xmlns='${NS_REG}'/></iq>`)).attrs.type).toBe("result");
    c.close();
  });

  it("answers <remove/> without an account with registration-required", async () => {
    const { c } = await unauthed();
    const r = await c.iq(`<iq type='set' id='rm0'><query xmlns='${NS_REG}'><remove/></query></iq>`);
    expect(r.getChild("error")!.attrs.type).toBe("auth");
    expect(condition(r)).toBe("registration-required");
    c.close();
  });

  it("answers service-unavailable where registration is off, and the stream stays open", async () => {
    const { c } = await unauthed("closed.localhost");
    const r = await c.iq(`<iq type='get' id='off1'><query xmlns='${NS_REG}'/></iq>`);
    expect(condition(r)).toBe("service-unavailable");
    const s = await c.iq(legacySet("off2", "sneaky", "pw"));
    expect(condition(s)).toBe("service-unavailable");
    expect(await ts.server.accounts("closed.localhost").exists("sneaky")).toBe(false);
    await ts.server.accounts("closed.localhost").create("tybalt", "pw");
    expect((await c.auth("PLAIN", "tybalt", "pw")).name).toBe("success");
    c.close();
  });

  it("throttles registrations per address (min_seconds_between_registrations)", async () => {
    const first = await unauthed("throttled.localhost");
    expect((await first.c.iq(legacySet("t1", "first", "pw"))).attrs.type).toBe("result");
    first.c.close();
    const second = await unauthed("throttled.localhost");
    const r = await second.c.iq(legacySet("t2", "second", "pw"));
    expect(r.getChild("error")!.attrs.type).toBe("wait");
    expect(condition(r)).toBe("policy-violation");
    second.c.close();
    expect(await ts.server.accounts("throttled.localhost").exists("second")).toBe(false);
  });

  it("refuses addresses on the blocklist (CIDR ranges too)", async () => {
    const { c } = await unauthed("blocked.localhost");
    const r = await c.iq(legacySet("bl1", "blocked", "pw"));
    expect(condition(r)).toBe("forbidden");
    c.close();
    expect(await ts.server.accounts("blocked.localhost").exists("blocked")).toBe(false);
  });

  it("requires TLS where encryption is required: no feature and policy-violation before STARTTLS, both fine after", async () => {
    const c = await RawClient.connect(ts.c2sPort, { domain: "secure.localhost" });
    const before = await c.stream();
    expect(before.getChild("register", "http://jabber.org/features/iq-register")).toBeUndefined();
    const r = await c.iq(legacySet("s1", "plain", "pw"));
    expect(condition(r)).toBe("policy-violation");
    await c.starttls();
    const after = await c.stream();
    expect(after.getChild("register", "http://jabber.org/features/iq-register")).toBeDefined();
    expect((await c.iq(legacySet("s2", "secured", "pw"))).attrs.type).toBe("result");
    c.close();
    expect(await ts.server.accounts("secure.localhost").exists("secured")).toBe(true);
  });
});

describe("after login", () => {
  it("says the account is registered", async () => {
    await ts.server.accounts("localhost").create("romeo", "pw");
    const c = await login("romeo", "pw");
    const r = await c.iq(`<iq type='get' id='g1'><query xmlns='${NS_REG}'/></iq>`);
    expect(r.firstElement()!.toString()).toBe(`<query xmlns='${NS_REG}'><registered/><username>romeo</username><password/></query>`);
    c.close();
  });

  it("changes the password (to the account, or to the server as many clients do)", async () => {
    await ts.server.accounts("localhost").create("juliet", "old");
    const c = await login("juliet", "old");
    expect((await c.iq(legacySet("p1", "juliet", "new1"))).attrs.type).toBe("result");
    expect(await canLogin("juliet", "new1")).toBe(true);
    expect(await canLogin("juliet", "old")).toBe(false);
    const toServer = await c.iq(`<iq type='set' id='p2' to='localhost'><query xmlns='${NS_REG}'><username>juliet</username><password>new2</password></query></iq>`);
    expect(toServer.attrs).toMatchObject({ type: "result", from: "localhost" });
    expect(await canLogin("juliet", "new2")).toBe(true);
    // XEP-0077 §3.3 by form.
    const byForm = await c.iq(
      `<iq type='set' id='p3'><query xmlns='${NS_REG}'><x xmlns='jabber:x:data' type='submit'>` +
        "<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register:changepassword</value></field>" +
        "<field var='username'><value>juliet</value></field><field var='password'><value>new3</value></field></x></query></iq>",
    );
    expect(byForm.attrs.type).toBe("result");
    expect(await canLogin("juliet", "new3")).toBe(true);
    c.close();
  });

  it("refuses to change another account's password, or to an empty one", async () => {
    const c = await login("juliet", "new3");
    const other = await c.iq(legacySet("x1", "romeo", "hijacked"));
    expect(condition(other)).toBe("bad-request");
    expect(await canLogin("romeo", "pw")).toBe(true);
    const empty = await c.iq(legacySet("x2", "juliet", ""));
    expect(empty.attrs.type).toBe("error");
    const missing = await c.iq(`<iq type='set' id='x3'><query xmlns='${NS_REG}'/></iq>`);
    expect(condition(missing)).toBe("bad-request");
    // Another account's registration is not ours to manage.
    const theirs = await c.iq(`<iq type='set' id='x4' to='romeo@localhost'><query xmlns='${NS_REG}'><remove/></query></iq>`);
    expect(theirs.attrs.type).toBe("error");
    expect(await ts.server.accounts("localhost").exists("romeo")).toBe(true);
    expect(await canLogin("juliet", "new3")).toBe(true);
    c.close();
  });

  it("changes passwords where registration is off", async () => {
    const c = await login("tybalt", "pw", "closed.localhost");
    expect((await c.iq(legacySet("c1", "tybalt", "prince of cats"))).attrs.type).toBe("result");
    c.close();
    expect(await canLogin("tybalt", "prince of cats", "closed.localhost")).toBe(true);
  });

  it("removes the account: the result first, then every session is closed and the account is gone", async () => {
    await ts.server.accounts("localhost").create("paris", "pw");
    const c = await login("paris", "pw");
    const other = await login("paris", "pw");
    const r = await c.iq(`<iq type='set' id='rm1'><query xmlns='${NS_REG}'><remove/></query></iq>`);
    expect(r.attrs).toMatchObject({ type: "result", id: "rm1" });
    await c.waitClosed();
    await other.waitClosed();
    expect(other.raw).toContain("not-authorized");
    expect(await ts.server.accounts("localhost").exists("paris")).toBe(false);
    expect(deleted).toContain("paris@localhost");
    expect(await canLogin("paris", "pw")).toBe(false);
  });
});
