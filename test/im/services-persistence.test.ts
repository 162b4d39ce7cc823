// Accounts made by in-band registration, vCards, private XML and last activity survive a restart
// of the server on its LevelDB store.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
modules_enabled = { "register"; "vcard"; "private"; "lastactivity" }
VirtualHost "localhost"
`;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ transport: "memory", config: CONFIG });
});
afterAll(() => ts?.stop());

const login = (user: string, password: string) => ts.login(user, password);

const VCARD = "<vCard xmlns='vcard-temp'><FN>Friar Laurence</FN><NOTE>herbs &amp; potions</NOTE></vCard>";
const BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='chapel@conference.localhost' autojoin='true'><nick>friar</nick></conference></storage>";

describe("persistence across a restart (LevelDB)", () => {
  it("keeps registered accounts, vCards, private XML and the last logout", async () => {
    const reg = await ts.connect();
    await reg.stream();
    const r = await reg.iq("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>laurence</username><password>cell</password></query></iq>");
    expect(r.attrs.type).toBe("result");
    reg.close();

    const c = await login("laurence", "cell");
    expect((await c.iq(`<iq type='set' id='v1'>${VCARD}</iq>`)).attrs.type).toBe("result");
    expect((await c.iq(`<iq type='set' id='p1'><query xmlns='jabber:iq:private'>${BOOKMARKS}</query></iq>`)).attrs.type).toBe("result");
    c.send("<presence/>");
    c.send("<presence type='unavailable'><status>Off to Mantua</status></presence>");
    // The iq after the presence is handled after it (one stanza at a time per session).
    const before = await c.iq("<iq type='get' id='l0'><query xmlns='jabber:iq:last'/></iq>");
    expect(before.getChild("query", "jabber:iq:last")!.getText()).toBe("Off to Mantua");
    c.close();
    await c.waitClosed();

    ts = await ts.restart();

    expect(await ts.server.accounts("localhost").exists("laurence")).toBe(true);
    const again = await login("laurence", "cell");
    const vcard = await again.iq("<iq type='get' id='v2'><vCard xmlns='vcard-temp'/></iq>");
    expect(vcard.firstElement()!.toString()).toBe(VCARD);
    const priv = await again.iq("<iq type='get' id='p2'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
    expect(priv.firstElement()!.toString()).toBe(`<query xmlns='jabber:iq:private'>${BOOKMARKS}</query>`);
    const last = (await again.iq("<iq type='get' id='l1'><query xmlns='jabber:iq:last'/></iq>")).getChild("query", "jabber:iq:last")!;
    expect(last.getText()).toBe("Off to Mantua");
    expect(Number(last.attrs.seconds)).toBeGreaterThanOrEqual(0);
    again.close();
  });
});
