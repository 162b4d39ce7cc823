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
modules_enabled = { "roster"; "mam" }
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
