// Messages a stream management session never acknowledged, and the message archive: when a
// resumable session (mod_smacks) is not resumed within smacks_hibernation_time, what it had not
// acknowledged goes on to the account (another resource, else offline storage). Those messages are
// in the account's archive already (mod_mam archived them on their way to the session): they must
// go on with that archive's <stanza-id/>, not be archived a second time. Real sockets, a real
// client that enables XEP-0198, receives, does not acknowledge and drops its TCP connection.
// The first two failed before: each message was in the archive twice, under two ids. The third
// failed before: the archive query's result messages were stored offline and handed out again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { waitUntil } from "../helpers/wait.js";
import type { Element } from "../../src/xml/stanza.js";
import { mamQuery, queryIq, stanzaIds } from "./helpers.js";

const SM = "urn:xmpp:sm:3";
const NS_CARBONS = "urn:xmpp:carbons:2";

const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "smacks"; "mam"; "carbons"; "ping" }
smacks_hibernation_time = 1
VirtualHost "localhost"
`;

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ config: CONFIG, users: ["alice", "bob", "carol", "dave"] });
});
afterAll(() => ts?.stop());

const login = (user: string, resource: string) => ts.login(user, "pw", { resource });

/** The next element that is not a stream management ack request (which this client never answers). */
async function nextNotR(c: RawClient, timeoutMs = 5000): Promise<Element> {
  for (;;) {
    const el = await c.next(timeoutMs);
    if (!(el.name === "r" && el.attrs.xmlns === SM)) return el;
  }
}

/** The account's archive as stored: each item's id and body. */
async function archived(user: string): Promise<Array<{ id: string; body: string }>> {
  const items = await ts.server.storage.archive("localhost", "archive").find(user);
  return items.map((i) => ({ id: i.id, body: /"body".*?"([^"]*)"\]/.exec(JSON.stringify(i.value))?.[1] ?? "" }));
}

/** A phone with resumable stream management that receives `count` messages, acknowledges none and loses its connection. */
async function phoneThatDrops(user: string, deliver: () => void, count: number): Promise<Element[]> {
  const phone = await login(user, "phone");
  phone.send(`<enable xmlns='${SM}' resume='true'/>`);
  expect((await nextNotR(phone)).name).toBe("enabled");
  phone.send("<presence/>"); // available: messages to the bare JID come to it too
  deliver();
  const got: Element[] = [];
  while (got.length < count) {
    const el = await nextNotR(phone);
    if (el.name === "message") got.push(el);
  }
  phone.socket.destroy();
  const host = ts.server.hosts.get("localhost")!;
  // Hibernating for smacks_hibernation_time (1 s), then ended unresumed.
  await waitUntil(() => host.session(user, "phone") === undefined, 15000, "the phone's session to end unresumed");
  return got;
}

describe("unacknowledged messages of a session that is not resumed", () => {
  it("go to offline storage with their stanza-id, archived once", async () => {
    const bob = await login("bob", "desk");
    const got = await phoneThatDrops("alice", () => {
      bob.send("<message to='alice@localhost/phone' type='chat' id='a1'><body>first</body></message>");
      bob.send("<message to='alice@localhost' type='chat' id='a2'><body>second</body></message>");
    }, 2);
    const sentIds = got.map((m) => stanzaIds(m, "alice@localhost")[0]);
    expect(sentIds.every((id) => id !== undefined)).toBe(true);

    const offline = ts.server.storage.archive("localhost", "offline");
    await waitUntil(async () => (await offline.count("alice")) === 2, 10000, "two offline messages");
    // The archive holds each message once, under the id the phone was given.
    const items = await archived("alice");
    expect(items.map((i) => i.body)).toEqual(["first", "second"]);
    expect(items.map((i) => i.id)).toEqual(sentIds);

    // Alice comes back: offline storage hands her the messages with those same ids, and her
    // archive has each of them once.
    const again = await login("alice", "laptop");
    again.send("<presence/>");
    const back: Element[] = [];
    while (back.length < 2) {
      const el = await nextNotR(again);
      if (el.name === "message") back.push(el);
    }
    expect(back.map((m) => m.getChildText("body"))).toEqual(["first", "second"]);
    expect(back.map((m) => stanzaIds(m, "alice@localhost"))).toEqual(sentIds.map((id) => [id]));
    const q = await mamQuery(again, queryIq({}));
    expect(q.bodies).toEqual(["first", "second"]);
    expect(q.ids).toEqual(sentIds);
    again.close();
    bob.close();
  });

  it("go to the account's other resource with their stanza-id, archived once; carbons still copy", async () => {
    const desktop = await login("carol", "desktop");
    desktop.send("<presence/>");
    expect((await desktop.iq(`<iq type='set' id='cb'><enable xmlns='${NS_CARBONS}'/></iq>`)).attrs.type).toBe("result");
    const bob = await login("bob", "desk2");
    const got = await phoneThatDrops("carol", () => {
      bob.send("<message to='carol@localhost/phone' type='chat' id='c1'><body>to the phone</body></message>");
    }, 1);
    const id = stanzaIds(got[0], "carol@localhost")[0];
    expect(id).toBeDefined();

    // While the phone had it, the desktop got a carbon copy with the same id...
    const carbon = await desktop.nextWhere((el) => el.name === "message" && el.getChild("received", NS_CARBONS) !== undefined);
    const copied = carbon.getChild("received", NS_CARBONS)!.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message", "jabber:client")!;
    expect(stanzaIds(copied, "carol@localhost")).toEqual([id]);
    // ...and once the phone's session has ended, the message itself, still with that id.
    const handed = await desktop.nextWhere((el) => el.name === "message" && el.getChildText("body") === "to the phone", 10000);
    expect(handed.getChild("delay", "urn:xmpp:delay")).toBeDefined();
    expect(stanzaIds(handed, "carol@localhost")).toEqual([id]);
    expect(await archived("carol")).toEqual([{ id, body: "to the phone" }]);
    const q = await mamQuery(desktop, queryIq({}));
    expect(q.ids).toEqual([id]);
    desktop.close();
    bob.close();
  });

  it("archive query results the session never acknowledged are not handed on (they are in the archive)", async () => {
    const bob = await login("bob", "desk3");
    const offline = ts.server.storage.archive("localhost", "offline");
    // Two messages for Dave while he is away, archived (and stored offline).
    bob.send("<message to='dave@localhost' type='chat' id='d1'><body>one</body></message>");
    bob.send("<message to='dave@localhost' type='chat' id='d2'><body>two</body></message>");
    await waitUntil(async () => (await offline.count("dave")) === 2, 10000, "two offline messages");
    const phone = await login("dave", "phone");
    phone.send(`<enable xmlns='${SM}' resume='true'/>`);
    expect((await nextNotR(phone)).name).toBe("enabled");
    // Without presence offline storage keeps its two; the phone reads the archive instead.
    const q = await mamQuery(phone, queryIq({}));
    expect(q.bodies).toEqual(["one", "two"]);
    // One more message reaches the phone, and it acknowledges nothing before its connection is lost.
    bob.send("<message to='dave@localhost/phone' type='chat' id='d3'><body>three</body></message>");
    for (;;) {
      const el = await nextNotR(phone);
      if (el.name === "message" && el.attrs.id === "d3") break;
    }
    phone.socket.destroy();
    await waitUntil(() => ts.server.hosts.get("localhost")!.session("dave", "phone") === undefined, 15000, "the phone's session to end");
    // The message goes on (offline storage: Dave has no other session); the query results do not.
    await waitUntil(async () => (await offline.count("dave")) >= 3, 10000, "the unacknowledged message in offline storage");
    const stored = (await offline.find("dave")).map((i) => JSON.stringify(i.value));
    expect(stored.filter((v) => v.includes("urn:xmpp:mam:2"))).toEqual([]);
    expect(stored).toHaveLength(3);
    bob.close();
  });
});
