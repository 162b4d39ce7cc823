// XEP-0160 offline messages with XEP-0203 delay; persistence across a restart (LevelDB).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { errorCondition, goOnline, nextNonPresence, noMessage } from "./message-helpers.js";

const CONFIG = (extra = "") => `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
${extra}
VirtualHost "localhost"
`;

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

function login(ts: TestServer, user: string, resource: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

/** The number of offline messages held for `user`, once it settles to `want` (deletion follows delivery). */
async function offlineCount(ts: TestServer, user: string, want: number): Promise<number> {
  const store = ts.server.storage.archive("localhost", "offline");
  const deadline = Date.now() + 2000;
  let n = await store.count(user);
  while (n !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    n = await store.count(user);
  }
  return n;
}

function delayOf(m: Element): Element | undefined {
  return m.getChild("delay", "urn:xmpp:delay");
}

describe("offline messages (memory storage)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG("offline_max_messages = 3") });
    for (const u of ["romeo", "juliet", "nurse", "friar", "full", "twice"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("advertises msgoffline (XEP-0160 §4)", async () => {
    const c = await login(ts, "romeo", "r");
    const info = await c.iq("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain("msgoffline");
    c.close();
  });

  it("stores chat and normal messages and delivers them, oldest first with a delay, at the next available presence", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    const before = Date.now();
    romeo.send("<message to='juliet@localhost' type='chat' id='o1'><body>Hello Juliet, are you there?</body></message>");
    romeo.send("<message to='juliet@localhost/balcony' type='chat' id='o2'><body>to a resource</body><thread>t1</thread></message>");
    romeo.send("<message to='juliet@localhost' id='o3'><subject>s</subject><body>normal</body></message>");
    await noMessage(romeo); // no errors: stored
    expect(await ts.server.storage.archive("localhost", "offline").count("juliet")).toBe(3);

    const juliet = await login(ts, "juliet", "phone");
    await noMessage(juliet); // nothing before available presence
    await goOnline(juliet);
    const got = [await nextNonPresence(juliet), await nextNonPresence(juliet), await nextNonPresence(juliet)];
    expect(got.map((m) => m.attrs.id)).toEqual(["o1", "o2", "o3"]);
    expect(got[0].attrs).toMatchObject({ from: "romeo@localhost/orchard", to: "juliet@localhost", type: "chat" });
    expect(got[1].attrs.to).toBe("juliet@localhost/balcony");
    expect(got[1].getChildText("thread")).toBe("t1");
    expect(got[2].getChildText("subject")).toBe("s");
    for (const m of got) {
      const d = delayOf(m)!;
      expect(d.attrs.from).toBe("localhost");
      expect(d.attrs.stamp).toMatch(STAMP);
      const t = Date.parse(d.attrs.stamp);
      expect(t).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(t).toBeLessThanOrEqual(Date.now());
      expect(d.children).toEqual([]);
    }
    expect(await offlineCount(ts, "juliet", 0)).toBe(0);
    juliet.close();

    // Delivered once: a later login gets nothing.
    const again = await login(ts, "juliet", "laptop");
    await goOnline(again);
    await noMessage(again);
    again.close();
    romeo.close();
  });

  it("waits for a non-negative priority; a later presence with priority 0 gets them", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    romeo.send("<message to='nurse@localhost' type='chat'><body>later</body></message>");
    await noMessage(romeo);
    const nurse = await login(ts, "nurse", "n");
    await goOnline(nurse, -1);
    await noMessage(nurse);
    romeo.send("<message to='nurse@localhost' type='chat'><body>still later</body></message>");
    await noMessage(nurse);
    await goOnline(nurse, 0);
    expect((await nextNonPresence(nurse)).getChildText("body")).toBe("later");
    expect((await nextNonPresence(nurse)).getChildText("body")).toBe("still later");
    // Now available: a new message comes straight, without delay.
    romeo.send("<message to='nurse@localhost' type='chat'><body>now</body></message>");
    const direct = await nextNonPresence(nurse);
    expect(direct.getChildText("body")).toBe("now");
    expect(delayOf(direct)).toBeUndefined();
    nurse.close();
    romeo.close();
  });

  it("does not store headline, groupchat, error, chat-state-only or no-store messages (XEP-0160 §3)", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    romeo.send("<message to='friar@localhost' type='headline'><body>h</body></message>");
    romeo.send("<message to='friar@localhost' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    romeo.send("<message to='friar@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    await noMessage(romeo); // dropped silently
    romeo.send("<message to='friar@localhost' type='groupchat' id='gc'><body>g</body></message>");
    expect(errorCondition(await nextNonPresence(romeo))).toBe("service-unavailable");
    romeo.send("<message to='friar@localhost' type='chat' id='ns'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>");
    const err = await nextNonPresence(romeo);
    expect(err.attrs.id).toBe("ns");
    expect(errorCondition(err)).toBe("service-unavailable");
    expect(await ts.server.storage.archive("localhost", "offline").count("friar")).toBe(0);
    // A body with a chat state is a real message: stored.
    romeo.send("<message to='friar@localhost' type='chat'><body>b</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    await noMessage(romeo);
    expect(await ts.server.storage.archive("localhost", "offline").count("friar")).toBe(1);
    romeo.close();
  });

  it("answers service-unavailable once the account holds offline_max_messages", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    for (let i = 0; i < 3; i++) romeo.send(`<message to='full@localhost' type='chat' id='f${i}'><body>${i}</body></message>`);
    await noMessage(romeo);
    romeo.send("<message to='full@localhost' type='chat' id='f3'><body>3</body></message>");
    const err = await nextNonPresence(romeo);
    expect(err.attrs).toMatchObject({ type: "error", id: "f3", from: "full@localhost" });
    expect(errorCondition(err)).toBe("service-unavailable");
    expect(await ts.server.storage.archive("localhost", "offline").count("full")).toBe(3);
    romeo.close();
  });

  it("two resources coming online at once: each message is delivered exactly once", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    for (let i = 0; i < 3; i++) romeo.send(`<message to='twice@localhost' type='chat' id='w${i}'><body>${i}</body></message>`);
    await noMessage(romeo);
    const a = await login(ts, "twice", "a");
    const b = await login(ts, "twice", "b");
    a.send("<presence/>");
    b.send("<presence/>");
    const bodies: string[] = [];
    for (const c of [a, b]) {
      for (;;) {
        let el: Element;
        try {
          el = await c.next(600);
        } catch {
          break;
        }
        if (el.name === "message") bodies.push(el.getChildText("body")!);
      }
    }
    expect(bodies.sort()).toEqual(["0", "1", "2"]);
    a.close();
    b.close();
    romeo.close();
  });
});

describe("offline messages survive a restart (LevelDB)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG().replace('storage = "memory"', "") });
    await ts.addUser("romeo", "pw");
    await ts.addUser("juliet", "pw");
  });
  afterAll(() => ts?.stop());

  it("stores, restarts, delivers with the original stamp", async () => {
    const romeo = await login(ts, "romeo", "orchard");
    romeo.send("<message to='juliet@localhost' type='chat' id='p1'><body>before the restart</body></message>");
    await noMessage(romeo);
    romeo.close();
    const stored = await ts.server.storage.archive("localhost", "offline").find("juliet");
    expect(stored).toHaveLength(1);

    ts = await ts.restart();
    const juliet = await login(ts, "juliet", "balcony");
    await goOnline(juliet);
    const m = await nextNonPresence(juliet);
    expect(m.attrs).toMatchObject({ id: "p1", from: "romeo@localhost/orchard", type: "chat" });
    expect(m.getChildText("body")).toBe("before the restart");
    expect(Date.parse(delayOf(m)!.attrs.stamp)).toBe(Math.floor(stored[0].when / 1000) * 1000);
    expect(await offlineCount(ts, "juliet", 0)).toBe(0);
    juliet.close();
  });
});
