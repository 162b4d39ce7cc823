// The archive and preferences on LevelDB survive a restart (same ids, same stanza ids), and
// archive_expires_after deletes old messages on its timer.
import { afterAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { goOnline, nextNonPresence } from "../im/message-helpers.js";
import { mamQuery, NS_MAM, queryIq, stanzaIds } from "./helpers.js";

const BASE = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "mam"; "carbons" }
`;

function login(ts: TestServer, user: string, resource = "r"): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

describe("archive on LevelDB", () => {
  let ts: TestServer | undefined;
  afterAll(() => ts?.stop());

  it("keeps messages, their ids and the preferences across a restart", async () => {
    ts = await startTestServer({ transport: "memory", config: `${BASE}\nVirtualHost "localhost"\n` });
    for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
    const romeo = await login(ts, "romeo");
    const juliet = await login(ts, "juliet");
    await goOnline(juliet);
    const delivered: string[] = [];
    for (let i = 0; i < 3; i++) {
      romeo.send(`<message to='juliet@localhost' type='chat'><body>before restart ${i}</body></message>`);
      delivered.push(...stanzaIds(await nextNonPresence(juliet), "juliet@localhost"));
    }
    const prefs = await romeo.iq(
      `<iq type='set' id='p'><prefs xmlns='${NS_MAM}' default='always'><always/><never><jid>nurse@localhost</jid></never></prefs></iq>`,
    );
    expect(prefs.attrs.type).toBe("result");
    romeo.close();
    juliet.close();

    ts = await ts.restart();
    const juliet2 = await login(ts, "juliet");
    const q = await mamQuery(juliet2, queryIq({}));
    expect(q.bodies).toEqual(["before restart 0", "before restart 1", "before restart 2"]);
    expect(q.ids).toEqual(delivered);
    const romeo2 = await login(ts, "romeo");
    expect((await mamQuery(romeo2, queryIq({}))).bodies).toHaveLength(3);
    const got = await romeo2.iq(`<iq type='get' id='pg'><prefs xmlns='${NS_MAM}'/></iq>`);
    expect(got.getChild("prefs", NS_MAM)!.getChild("never")!.getChildText("jid")).toBe("nurse@localhost");
    juliet2.close();
    romeo2.close();
  });
});

describe("archive_expires_after", () => {
  let ts: TestServer | undefined;
  afterAll(() => ts?.stop());

  it("deletes messages older than the limit on the cleanup timer", async () => {
    ts = await startTestServer({
      transport: "memory",
      config: `${BASE}\nstorage = "memory"\narchive_expires_after = 1\narchive_cleanup_interval = 0.2\nVirtualHost "localhost"\n`,
    });
    for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
    const romeo = await login(ts, "romeo");
    romeo.send("<message to='juliet@localhost' type='chat'><body>soon gone</body></message>");
    const store = ts.server.storage.archive("localhost", "archive");
    // Archived first...
    const until = async (want: number, ms: number) => {
      const deadline = Date.now() + ms;
      let n = await store.count("juliet");
      while (n !== want && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        n = await store.count("juliet");
      }
      return n;
    };
    expect(await until(1, 5000)).toBe(1);
    // ...then deleted once it is more than a second old (whole-second times: within ~2 s).
    expect(await until(0, 10000)).toBe(0);
    expect(await store.count("romeo")).toBe(0);
    romeo.close();
  });
});

describe("archived before delivered", () => {
  let ts: TestServer | undefined;
  afterAll(() => ts?.stop());

  it("a message is in both archives (the store, and a MAM query) the moment its recipient has it", async () => {
    ts = await startTestServer({ transport: "memory", config: `${BASE}\nVirtualHost "localhost"\n` });
    for (const u of ["romeo", "juliet"]) await ts.addUser(u, "pw");
    const romeo = await login(ts, "romeo");
    const juliet = await login(ts, "juliet");
    await goOnline(juliet);
    const store = ts.server.storage.archive("localhost", "archive");
    const N = 20;
    // Sent back to back: the later ones are still on their way while the first ones arrive.
    for (let i = 0; i < N; i++) romeo.send(`<message to='juliet@localhost' type='chat' id='a${i}'><body>now ${i}</body></message>`);
    for (let i = 0; i < N; i++) {
      const m = await nextNonPresence(juliet);
      expect(m.getChildText("body")).toBe(`now ${i}`);
      const [id] = stanzaIds(m, "juliet@localhost");
      // Read at once, before anything else runs: the store has it, and so has romeo's archive.
      const [mine, theirs] = await Promise.all([store.get("juliet", id), store.count("romeo")]);
      expect(mine?.value, `message ${i} missing from juliet's archive when it arrived`).toBeDefined();
      expect(theirs).toBeGreaterThanOrEqual(i + 1);
    }
    // A sent carbon (XEP-0280) is a delivery too: the sender's archive has the message by then.
    const tablet = await login(ts, "romeo", "tablet");
    expect((await tablet.iq("<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>")).attrs.type).toBe("result");
    for (let i = 0; i < 5; i++) romeo.send(`<message to='juliet@localhost' type='chat' id='c${i}'><body>copied ${i}</body></message>`);
    for (let i = 0; i < 5; i++) {
      const carbon = await nextNonPresence(tablet);
      const sent = carbon.getChild("sent", "urn:xmpp:carbons:2")!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message", "jabber:client")!;
      expect(sent.getChildText("body")).toBe(`copied ${i}`);
      const [id] = stanzaIds(sent, "romeo@localhost");
      expect((await store.get("romeo", id))?.value, `sent message ${i} missing from romeo's archive when its carbon arrived`).toBeDefined();
      await nextNonPresence(juliet);
    }
    tablet.close();
    // A query right after receipt has the last message.
    romeo.send("<message to='juliet@localhost' type='chat' id='last'><body>the last</body></message>");
    const last = await nextNonPresence(juliet);
    const q = await mamQuery(juliet, queryIq({ rsm: { max: 1, before: "" } }));
    expect(q.bodies).toEqual(["the last"]);
    expect(q.ids).toEqual(stanzaIds(last, "juliet@localhost"));
    romeo.close();
    juliet.close();
  });
});
