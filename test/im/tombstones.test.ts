// Tombstones of deleted accounts (module "tombstones", as Prosody's): the name of a deleted account
// cannot be registered again (in-band or by the admin), and contacts' presence gets `gone`.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { Graveyard } from "../../modules/mod_tombstones/graveyard.js";
import { errorCondition as condition } from "../helpers/errors.js";

const NS_REG = "jabber:iq:register";

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "register"; "roster"; "tombstones" }
allow_registration = true

VirtualHost "localhost"

VirtualHost "brief.localhost"
user_tombstone_expiry = "1h"
`;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
  await ts.addUser("romeo", "pw");
});
afterEach(() => ts?.closeClients());
afterAll(() => ts?.stop());

async function register(user: string, domain = "localhost"): Promise<Element> {
  const c = await ts.connect({ domain });
  await c.stream();
  return c.iq(`<iq type='set' id='reg'><query xmlns='${NS_REG}'><username>${user}</username><password>pw</password></query></iq>`);
}

function login(user: string): Promise<RawClient> {
  return ts.login(user, "pw");
}

async function removeAccount(user: string): Promise<void> {
  const c = await login(user);
  const r = await c.iq(`<iq type='set' id='bye'><query xmlns='${NS_REG}'><remove/></query></iq>`);
  expect(r.attrs.type, String(r)).toBe("result");
  await c.waitClosed();
}

describe("tombstones", () => {
  it("an account removed in-band cannot be registered again", async () => {
    expect((await register("juliet")).attrs.type).toBe("result");
    await removeAccount("juliet");
    expect(await ts.server.accounts("localhost").exists("juliet")).toBe(false);
    const again = await register("juliet");
    expect(again.attrs.type).toBe("error");
    expect(condition(again)).toBe("conflict");
    expect(await ts.server.accounts("localhost").exists("juliet")).toBe(false);
    // Other names are free as before.
    expect((await register("benvolio")).attrs.type).toBe("result");
  });

  it("an account deleted by the admin cannot be created again, by the admin either", async () => {
    expect((await ts.server.adminCommand({ command: "adduser", host: "localhost", username: "tybalt", password: "pw" })).ok).toBe(true);
    expect((await ts.server.adminCommand({ command: "deluser", host: "localhost", username: "tybalt" })).ok).toBe(true);
    const readd = await ts.server.adminCommand({ command: "adduser", host: "localhost", username: "tybalt", password: "pw" });
    expect(readd).toEqual({ ok: false, error: "The requested username is not available." });
    expect(condition(await register("tybalt"))).toBe("conflict");
  });

  it("presence to a deleted account gets `gone`, and unsubscribed (probe) or unsubscribe", async () => {
    expect((await register("paris")).attrs.type).toBe("result");
    await removeAccount("paris");
    const romeo = await login("romeo");
    romeo.send("<presence type='probe' to='paris@localhost'/>");
    const err = await romeo.next();
    expect(err.attrs).toMatchObject({ type: "error", from: "paris@localhost" });
    expect(condition(err)).toBe("gone");
    const unsub = await romeo.next();
    expect(unsub.attrs).toMatchObject({ type: "unsubscribed", from: "paris@localhost" });

    romeo.send("<presence to='paris@localhost'/>");
    expect(condition(await romeo.next())).toBe("gone");
    expect((await romeo.next()).attrs).toMatchObject({ type: "unsubscribe", from: "paris@localhost" });
  });

  it("with user_tombstone_expiry, an old tombstone no longer holds the name", async () => {
    const graveyard = Graveyard.open(ts.server.storage, "brief.localhost");
    await graveyard.bury("rosaline", Math.floor(Date.now() / 1000) - 7200);
    await graveyard.bury("livia", Math.floor(Date.now() / 1000) - 60);
    expect((await register("rosaline", "brief.localhost")).attrs.type).toBe("result");
    expect(condition(await register("livia", "brief.localhost"))).toBe("conflict");
  });
});
