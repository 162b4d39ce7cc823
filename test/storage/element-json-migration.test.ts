// A LevelDB database as Herald wrote it before the stores had one element form (fixture: every key
// and value of it, written by that version) is upgraded once, on start: every module that keeps
// elements reads what the old code wrote, and the database holds one form afterwards.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
archive_expires_after = "never"
modules_enabled = { "roster"; "vcard"; "private"; "mam"; "offline"; "pep" }
VirtualHost "localhost"
`;

const fixture = JSON.parse(readFileSync(new URL("./fixtures/leveldb-b143390.json", import.meta.url), "utf8")) as { entries: Array<[string, string]> };

async function rawEntries(path: string): Promise<Map<string, string>> {
  const db = new Level<string, string>(path, { keyEncoding: "utf8", valueEncoding: "utf8" });
  await db.open();
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(k, v);
  await db.close();
  return out;
}

const dataDir = mkdtempSync(join(tmpdir(), "herald-migration-"));
const dbPath = join(dataDir, "herald.db");
let ts: TestServer;

beforeAll(async () => {
  const db = new Level<string, string>(dbPath, { keyEncoding: "utf8", valueEncoding: "utf8" });
  await db.open();
  await db.batch(fixture.entries.map(([key, value]) => ({ type: "put" as const, key, value })));
  await db.close();
  ts = await startTestServer({ config: CONFIG, dataDir });
});

afterAll(async () => {
  await ts?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const login = (user: string, resource: string) => RawClient.login(ts.c2sPort, user, "pw", { resource, noTls: true, mechanism: "PLAIN" });

describe("stores written before one element form", () => {
  it("are read after the upgrade on start: vCard, private XML, roster requests, offline messages, the archive, PEP", async () => {
    const j = await login("juliet", "balcony");
    const vcard = await j.iq("<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>");
    expect(vcard.firstElement()?.toString()).toBe("<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NOTE>roses &amp; names</NOTE></vCard>");
    const priv = await j.iq("<iq type='get' id='p'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>");
    expect(priv.firstElement()?.toString()).toBe(
      "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='chapel@conference.localhost' autojoin='true'><nick>juliet</nick></conference></storage></query>",
    );
    const mam = await j.iq("<iq type='set' id='m'><query xmlns='urn:xmpp:mam:2' queryid='q'/></iq>");
    expect(mam.attrs.type).toBe("result");
    const tune = await j.iq("<iq type='get' id='t'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/tune'/></pubsub></iq>");
    expect(tune.toString()).toContain("<artist>Thomas Arne</artist>");

    j.send("<presence/>");
    const got: string[] = [];
    const isOffline = (s: string) => s.startsWith("<message") && !s.includes("urn:xmpp:mam:2");
    const isSubscribe = (s: string) => s.startsWith("<presence") && s.includes("type='subscribe'");
    while (got.length < 10 && !(got.some(isOffline) && got.some(isSubscribe))) got.push((await j.next()).toString());
    const archived = got.find((s) => s.includes("<result xmlns='urn:xmpp:mam:2' queryid='q'"));
    expect(archived).toContain("<body>But soft, what light through yonder window breaks?</body>");
    const offline = got.find(isOffline);
    expect(offline).toContain("<body>But soft, what light through yonder window breaks?</body>");
    expect(offline).toContain("<delay xmlns='urn:xmpp:delay' from='localhost' stamp='2026-");
    const subscribe = got.find(isSubscribe);
    expect(subscribe).toContain("from='romeo@localhost'");
    expect(subscribe).toContain("<status>It is my lady, O, it is my love!</status>");
    j.close();
    await j.waitClosed();
  });

  it("leaves the database in one form, with each upgraded store's version recorded, and starts again on it", async () => {
    await ts.stop();
    const raw = await rawEntries(dbPath);
    const values = [...raw].filter(([k]) => /^[KMA]localhost\0(vcard|private|roster|archive)\0/.test(k)).map(([, v]) => v);
    expect(values.length).toBeGreaterThan(3);
    for (const v of values) expect(v).not.toMatch(/"n":/);
    expect(raw.get("Vformat")).toBe("2");
    const versions = [...raw].filter(([k]) => k.startsWith("Vstore-format\0")).map(([k, v]) => `${k.split("\0").slice(2).join(":")}=${v}`);
    expect(versions.sort()).toEqual(["Aarchive:=1", "Kvcard:=1", "Mprivate:=1", "Mroster:=1"]);

    ts = await startTestServer({ config: CONFIG, dataDir });
    const j = await login("juliet", "again");
    const vcard = await j.iq("<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>");
    expect(vcard.firstElement()?.toString()).toBe("<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NOTE>roses &amp; names</NOTE></vCard>");
    j.close();
  });
});
