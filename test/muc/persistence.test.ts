// Rooms, their configuration, affiliations, subject and archive survive a restart on LevelDB;
// temporary rooms do not; XEP-0313 queries on the room JID; tombstones of destroyed rooms.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { MUC, NS_ADMIN, NS_OWNER, admin, configure, createInstant, errorOf, groupchat, isMessageWithBody, join, login, nextId, startMucServer, until } from "./helpers.js";

let ts: TestServer;
// Clients are closed by ts.stop() and ts.restart().
const connect = (user: string) => login(ts, user);

beforeAll(async () => {
  ts = await startMucServer({ storage: "leveldb" });
});
afterAll(() => ts.stop());

async function mamQuery(c: RawClient, room: string, form = "", rsm = ""): Promise<{ results: Array<{ body?: string; from?: string; id: string }>; fin: string }> {
  const id = nextId();
  c.send(`<iq type='set' to='${room}@${MUC}' id='${id}'><query xmlns='urn:xmpp:mam:2' queryid='q${id}'>${form}${rsm}</query></iq>`);
  const results: Array<{ body?: string; from?: string; id: string }> = [];
  for (;;) {
    const el = await until(c, (e) => (e.name === "message" && e.getChild("result", "urn:xmpp:mam:2") !== undefined) || (e.name === "iq" && e.attrs.id === id));
    if (el.name === "iq") {
      if (el.attrs.type !== "result") throw new Error(String(el));
      return { results, fin: String(el) };
    }
    const r = el.getChild("result", "urn:xmpp:mam:2")!;
    const m = r.getChild("forwarded", "urn:xmpp:forward:0")!.getChild("message", "jabber:client")!;
    results.push({ body: m.getChildText("body"), from: m.attrs.from, id: r.attrs.id! });
  }
}

describe("persistence", () => {
  it("a persistent room keeps its configuration, affiliations, subject, history and archive across a restart", async () => {
    const alice = await connect("alice");
    await createInstant(alice, "keep", "Alice", { "muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "Kept", "muc#roomconfig_membersonly": "1" });
    await admin(alice, "keep", "set", "<item jid='bob@localhost' affiliation='member'/><item jid='dave@localhost' affiliation='outcast'/>");
    alice.send(`<message type='groupchat' to='keep@${MUC}'><subject>Before</subject></message>`);
    groupchat(alice, "keep", "one");
    groupchat(alice, "keep", "two");
    const two = await until(alice, isMessageWithBody("two"));
    const stanzaId = two.getChild("stanza-id", "urn:xmpp:sid:0")!.attrs.id;
    // And a temporary room, which must not come back.
    await createInstant(alice, "fleeting", "Alice");
    await ts.server.modules.service(MUC, "muc")!.flush();
    alice.close();

    ts = await ts.restart();
    const bob = await connect("bob");
    const carol = await connect("carol");
    const j = await join(bob, "keep", "Bob");
    expect(j.error).toBeUndefined();
    const bodies = j.stanzas.filter((s) => s.getChildText("body") !== undefined).map((s) => s.getChildText("body"));
    expect(bodies).toEqual(["one", "two"]);
    expect(j.stanzas.at(-1)!.getChildText("subject")).toBe("Before");
    expect(errorOf((await join(carol, "keep", "Carol")).error!).condition).toBe("registration-required");
    const info = await bob.iq(`<iq type='get' to='keep@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild("query", "http://jabber.org/protocol/disco#info")!.getChild("identity")!.attrs.name).toBe("Kept");
    const gone = await bob.iq(`<iq type='get' to='fleeting@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(errorOf(gone).condition).toBe("item-not-found");

    const alice2 = await connect("alice");
    const outcasts = await admin(alice2, "keep", "get", "<item affiliation='outcast'/>");
    expect(outcasts.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["dave@localhost"]);

    // XEP-0313 on the room JID: the archive survived too, with the stanza ids occupants saw.
    const q = await mamQuery(bob, "keep");
    expect(q.results.map((r) => r.body)).toEqual(["one", "two"]);
    expect(q.results[1]).toMatchObject({ id: stanzaId, from: `keep@${MUC}/Alice` });
    expect(q.fin).toContain("complete='true'");
    const page = await mamQuery(bob, "keep", "", "<set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set>");
    expect(page.results.map((r) => r.body)).toEqual(["one"]);
    // Non-members of a members-only room may not read it.
    const denied = await carol.iq(`<iq type='set' to='keep@${MUC}' id='${nextId()}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
    expect(errorOf(denied).condition).toBe("forbidden");
  });

  it("a room configured without archiving has no archive (170/171) ; a destroyed persistent room leaves a tombstone", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const j = await join(alice, "quiet", "Alice");
    expect(j.self.toString()).toContain("code='170'");
    await configure(alice, "quiet", { "muc#roomconfig_persistentroom": "1", "muc#roomconfig_enablearchiving": "0" });
    await join(bob, "quiet", "Bob");
    groupchat(alice, "quiet", "unlogged");
    const m = await until(bob, isMessageWithBody("unlogged"));
    expect(m.getChild("stanza-id", "urn:xmpp:sid:0")).toBeUndefined();
    const r = await bob.iq(`<iq type='set' to='quiet@${MUC}' id='${nextId()}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
    expect(errorOf(r).condition).toBe("service-unavailable");
    await configure(alice, "quiet", { "muc#roomconfig_enablearchiving": "1" });
    const status = await until(bob, (el) => el.name === "message" && el.toString().includes("code='104'"));
    expect(status.toString()).toContain("code='170'");

    const d = await alice.iq(`<iq type='set' to='quiet@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'><destroy jid='elsewhere@${MUC}'/></query></iq>`);
    expect(d.attrs.type).toBe("result");
    await ts.server.modules.service(MUC, "muc")!.flush();
    const again = await join(bob, "quiet", "Bob");
    expect(errorOf(again.error!).condition).toBe("gone");
    expect(again.error!.toString()).toContain(`elsewhere@${MUC}`);
  });
});
