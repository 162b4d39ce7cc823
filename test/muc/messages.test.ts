// XEP-0045 §7.2.15–§7.9 through real client streams (in memory): groupchat messages, history on join, the subject,
// private messages, invitations (mediated and XEP-0249), XEP-0410 self-ping, XEP-0421 occupant ids.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import { MUC, NS_USER, codes, configure, createInstant, drain, errorOf, groupchat, isMessageWithBody, join, login, nextId, presenceFrom, startMucServer, until } from "./helpers.js";

let ts: TestServer;
const connect = (user: string, resource?: string) => login(ts, user, resource);

beforeAll(async () => {
  ts = await startMucServer({ component: "max_history_messages = 5" });
});
afterAll(() => ts.stop());

describe("groupchat", () => {
  it("reflects messages to every occupant from room/nick with a stanza id and occupant id; forged ids are removed", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "talk", "Alice");
    await join(bob, "talk", "Bob");
    groupchat(alice, "talk", "hello", `<occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/><stanza-id xmlns='urn:xmpp:sid:0' by='talk@${MUC}' id='forged'/>`);
    const atBob = await until(bob, isMessageWithBody("hello"));
    const atAlice = await until(alice, isMessageWithBody("hello"));
    for (const m of [atBob, atAlice]) {
      expect(m.attrs).toMatchObject({ from: `talk@${MUC}/Alice`, type: "groupchat" });
      const oid = m.childElements("occupant-id", "urn:xmpp:occupant-id:0");
      expect(oid).toHaveLength(1);
      expect(oid[0].attrs.id).not.toBe("forged");
      const sid = m.childElements("stanza-id", "urn:xmpp:sid:0");
      expect(sid).toHaveLength(1);
      expect(sid[0].attrs.id).not.toBe("forged");
    }
    // The same person has the same occupant id in her presence.
    const presence = await join(await connect("alice", "second"), "talk", "Alice");
    expect(presence.self.getChild("occupant-id", "urn:xmpp:occupant-id:0")!.attrs.id).toBe(atBob.getChild("occupant-id", "urn:xmpp:occupant-id:0")!.attrs.id);
  });

  it("non-occupants cannot send to the room; visitors in moderated rooms cannot speak", async () => {
    const alice = await connect("alice");
    const carol = await connect("carol");
    await createInstant(alice, "mod", "Alice", { "muc#roomconfig_moderatedroom": "1" });
    const id = nextId();
    carol.send(`<message type='groupchat' to='mod@${MUC}' id='${id}'><body>let me in</body></message>`);
    const e1 = await until(carol, (el) => el.attrs.id === id);
    expect(errorOf(e1).condition).toBe("not-acceptable");
    const j = await join(carol, "mod", "Carol");
    expect(j.self.getChild("x", NS_USER)!.getChild("item")!.attrs.role).toBe("visitor");
    const id2 = nextId();
    carol.send(`<message type='groupchat' to='mod@${MUC}' id='${id2}'><body>can I speak?</body></message>`);
    const e2 = await until(carol, (el) => el.attrs.id === id2);
    expect(errorOf(e2).condition).toBe("forbidden");
  });

  it("history on join honours maxstanzas, maxchars, seconds and since, with delay stamps; max_history_messages caps it", async () => {
    const alice = await connect("alice");
    await createInstant(alice, "hist", "Alice");
    for (let i = 1; i <= 8; i++) groupchat(alice, "hist", `m${i}`);
    await until(alice, isMessageWithBody("m8"));
    const bodies = (stanzas: { name: string; getChildText(n: string): string | undefined }[]) =>
      stanzas.filter((s) => s.name === "message" && s.getChildText("body") !== undefined).map((s) => s.getChildText("body"));
    const bob = await connect("bob");
    const all = await join(bob, "hist", "Bob");
    expect(bodies(all.stanzas)).toEqual(["m4", "m5", "m6", "m7", "m8"]);
    const delayed = all.stanzas.find((s) => s.getChildText("body") === "m4")!;
    expect(delayed.getChild("delay", "urn:xmpp:delay")!.attrs.from).toBe(`hist@${MUC}`);
    // History comes after the self-presence and before the subject.
    const selfAt = all.stanzas.indexOf(all.self);
    expect(all.stanzas.indexOf(delayed)).toBeGreaterThan(selfAt);
    expect(all.stanzas.at(-1)!.getChild("subject")).toBeDefined();

    expect(bodies((await join(await connect("carol"), "hist", "Carol", "<history maxstanzas='2'/>")).stanzas)).toEqual(["m7", "m8"]);
    expect(bodies((await join(await connect("dave"), "hist", "Dave", "<history maxchars='0'/>")).stanzas)).toEqual([]);
    // maxchars counts whole stanzas as sent: room for two of them, not three.
    const dave2 = await connect("dave", "b");
    const oneLen = delayed.toString().length - bob.jid.length + dave2.jid.length;
    expect(bodies((await join(dave2, "hist", "Dave2", `<history maxchars='${oneLen * 2 + 10}'/>`)).stanzas)).toEqual(["m7", "m8"]);
    expect(bodies((await join(await connect("dave", "c"), "hist", "Dave3", "<history since='2999-01-01T00:00:00Z'/>")).stanzas)).toEqual([]);
    expect(bodies((await join(await connect("dave", "d"), "hist", "Dave4", "<history seconds='3600'/>")).stanzas)).toHaveLength(5);
  });

  it("subject: sent on join, changed by moderators, refused to participants unless changesubject", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "subj", "Alice");
    await join(bob, "subj", "Bob");
    alice.send(`<message type='groupchat' to='subj@${MUC}'><subject>Fishing</subject></message>`);
    const s = await until(bob, (el) => el.getChildText("subject") === "Fishing");
    expect(s.attrs.from).toBe(`subj@${MUC}/Alice`);
    const id = nextId();
    bob.send(`<message type='groupchat' to='subj@${MUC}' id='${id}'><subject>Hunting</subject></message>`);
    expect(errorOf(await until(bob, (el) => el.attrs.id === id)).condition).toBe("forbidden");
    const later = await join(await connect("carol"), "subj", "Carol");
    expect(later.stanzas.at(-1)!.getChildText("subject")).toBe("Fishing");
    await configure(alice, "subj", { "muc#roomconfig_changesubject": "1" });
    const status = await until(bob, (el) => el.name === "message" && codes(el).includes(104));
    expect(status.attrs.from).toBe(`subj@${MUC}`);
    bob.send(`<message type='groupchat' to='subj@${MUC}'><subject>Hunting</subject></message>`);
    expect((await until(alice, (el) => el.getChildText("subject") === "Hunting")).attrs.from).toBe(`subj@${MUC}/Bob`);
  });
});

describe("private messages and iqs between occupants", () => {
  it("routes private messages to every session of the nick with muc#user x; refuses strangers and groupchat type", async () => {
    const alice = await connect("alice");
    const bob1 = await connect("bob", "b1");
    const bob2 = await connect("bob", "b2");
    const carol = await connect("carol");
    await createInstant(alice, "pm", "Alice");
    await join(bob1, "pm", "Bob");
    await join(bob2, "pm", "Bob");
    alice.send(`<message type='chat' to='pm@${MUC}/Bob'><body>psst</body></message>`);
    for (const c of [bob1, bob2]) {
      const m = await until(c, isMessageWithBody("psst"));
      expect(m.attrs.from).toBe(`pm@${MUC}/Alice`);
      expect(m.getChild("x", NS_USER)).toBeDefined();
    }
    const id = nextId();
    carol.send(`<message type='chat' to='pm@${MUC}/Bob' id='${id}'><body>hi</body></message>`);
    expect(errorOf(await until(carol, (el) => el.attrs.id === id)).condition).toBe("not-acceptable");
    const id2 = nextId();
    alice.send(`<message type='groupchat' to='pm@${MUC}/Bob' id='${id2}'><body>hi</body></message>`);
    expect(errorOf(await until(alice, (el) => el.attrs.id === id2)).condition).toBe("bad-request");
    const id3 = nextId();
    alice.send(`<message type='chat' to='pm@${MUC}/Nobody' id='${id3}'><body>hi</body></message>`);
    expect(errorOf(await until(alice, (el) => el.attrs.id === id3)).condition).toBe("item-not-found");
    await configure(alice, "pm", { "muc#roomconfig_allowpm": "none" });
    const id4 = nextId();
    bob1.send(`<message type='chat' to='pm@${MUC}/Alice' id='${id4}'><body>hi</body></message>`);
    expect(errorOf(await until(bob1, (el) => el.attrs.id === id4)).condition).toBe("forbidden");
  });

  it("XEP-0410 self-ping: answered for a joined session, not-acceptable otherwise; other iqs are forwarded", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "ping", "Alice");
    const ok = await alice.iq(`<iq type='get' to='ping@${MUC}/Alice' id='${nextId()}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(ok.attrs.type).toBe("result");
    const no = await bob.iq(`<iq type='get' to='ping@${MUC}/Alice' id='${nextId()}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(errorOf(no).condition).toBe("not-acceptable");
    await join(bob, "ping", "Bob");
    // A version query from Bob reaches Alice from Bob's occupant JID; her answer goes back to Bob.
    const id = nextId();
    bob.send(`<iq type='get' to='ping@${MUC}/Alice' id='${id}'><query xmlns='jabber:iq:version'/></iq>`);
    const q = await until(alice, (el) => el.name === "iq" && el.attrs.id === id);
    expect(q.attrs.from).toBe(`ping@${MUC}/Bob`);
    alice.send(`<iq type='result' to='ping@${MUC}/Bob' id='${id}'><query xmlns='jabber:iq:version'><name>A</name></query></iq>`);
    const answer = await until(bob, (el) => el.name === "iq" && el.attrs.id === id);
    expect(answer.attrs).toMatchObject({ type: "result", from: `ping@${MUC}/Alice` });
  });
});

describe("invitations", () => {
  it("mediated invitation (§7.8.2) reaches the invitee from the room with the password; a decline goes back", async () => {
    const alice = await connect("alice");
    const dave = await connect("dave");
    // Available, so that a message to the bare JID reaches this session (RFC 6121 §8.5.2).
    dave.send("<presence/>");
    await createInstant(alice, "party", "Alice", { "muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "cauldron" });
    alice.send(`<message to='party@${MUC}'><x xmlns='${NS_USER}'><invite to='dave@localhost'><reason>Join us</reason></invite></x></message>`);
    const inv = await until(dave, (el) => el.name === "message" && el.getChild("x", NS_USER) !== undefined);
    expect(inv.attrs.from).toBe(`party@${MUC}`);
    const x = inv.getChild("x", NS_USER)!;
    expect(x.getChild("invite")!.attrs.from).toBe(alice.jid);
    expect(x.getChild("invite")!.getChildText("reason")).toBe("Join us");
    expect(x.getChildText("password")).toBe("cauldron");
    expect(inv.getChild("x", "jabber:x:conference")!.attrs.jid).toBe(`party@${MUC}`);
    // Without the password Dave cannot enter; with it he can.
    expect(errorOf((await join(dave, "party", "Dave")).error!).condition).toBe("not-authorized");
    expect((await join(dave, "party", "Dave", "<password>cauldron</password>")).error).toBeUndefined();

    const bob = await connect("bob");
    dave.send(`<message to='party@${MUC}'><x xmlns='${NS_USER}'><decline to='${bob.jid}'><reason>Busy</reason></decline></x></message>`);
    const dec = await until(bob, (el) => el.name === "message");
    expect(dec.getChild("x", NS_USER)!.getChild("decline")!.attrs.from).toBe("dave@localhost");
  });

  it("direct invitations (XEP-0249) are routed between users unchanged, and the invitee enters with the password", async () => {
    const alice = await connect("alice");
    const carol = await connect("carol");
    await createInstant(alice, "direct", "Alice", { "muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "s3same" });
    alice.send(`<message to='${carol.jid}'><x xmlns='jabber:x:conference' jid='direct@${MUC}' password='s3same' reason='come'/></message>`);
    const m = await until(carol, (el) => el.name === "message");
    const x = m.getChild("x", "jabber:x:conference")!;
    expect(x.attrs).toMatchObject({ jid: `direct@${MUC}`, reason: "come" });
    const room = x.attrs.jid!.split("@")[0];
    const j = await join(carol, room, "Carol", `<password>${x.attrs.password}</password>`);
    expect(j.error).toBeUndefined();
    expect(j.stanzas.some((s) => s.attrs.from === `direct@${MUC}/Alice`)).toBe(true);
  });
});

describe("presence", () => {
  it("status changes are broadcast with the occupant's payload", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "away", "Alice");
    await join(bob, "away", "Bob");
    await drain(alice);
    bob.send(`<presence to='away@${MUC}/Bob'><show>away</show><status>lunch</status></presence>`);
    const p = await until(alice, presenceFrom(`away@${MUC}/Bob`));
    expect(p.getChildText("show")).toBe("away");
    expect(p.getChildText("status")).toBe("lunch");
  });
});
