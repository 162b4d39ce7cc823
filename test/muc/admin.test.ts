// XEP-0045 §8–§10 through real client streams (in memory): kick, ban, voice, moderator grants, the admin lists,
// members-only rooms (321/322), passwords, max users, public JIDs (100/172/173), room registration.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { MUC, NS_ADMIN, NS_USER, admin, codes, configure, createInstant, drain, errorOf, itemOf, join, login, nextId, presenceFrom, startMucServer, until } from "./helpers.js";

let ts: TestServer;
const connect = (user: string, resource?: string) => login(ts, user, resource);

beforeAll(async () => {
  ts = await startMucServer();
});
afterAll(() => ts.stop());

describe("moderation", () => {
  it("kick (307) with actor and reason; a participant cannot kick; nobody kicks an owner", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const carol = await connect("carol");
    await createInstant(alice, "kicks", "Alice");
    await join(bob, "kicks", "Bob");
    await join(carol, "kicks", "Carol");
    const denied = await admin(bob, "kicks", "set", "<item nick='Carol' role='none'/>");
    expect(errorOf(denied).condition).toBe("forbidden");
    const r = await admin(alice, "kicks", "set", "<item nick='Bob' role='none'><reason>Spam</reason></item>");
    expect(r.attrs.type).toBe("result");
    const self = await until(bob, presenceFrom(`kicks@${MUC}/Bob`));
    expect(self.attrs.type).toBe("unavailable");
    expect(codes(self)).toEqual(expect.arrayContaining([307, 110]));
    const item = self.getChild("x", NS_USER)!.getChild("item")!;
    expect(item.attrs.role).toBe("none");
    expect(item.getChild("actor")!.attrs.nick).toBe("Alice");
    expect(item.getChildText("reason")).toBe("Spam");
    const seen = await until(carol, presenceFrom(`kicks@${MUC}/Bob`));
    expect(codes(seen)).toEqual([307]);
    // A kicked user may come back (a kick is no ban).
    expect((await join(bob, "kicks", "Bob")).error).toBeUndefined();
    const op = await admin(alice, "kicks", "set", "<item nick='Carol' role='moderator'/>");
    expect(op.attrs.type).toBe("result");
    const up = await admin(carol, "kicks", "set", "<item nick='Alice' role='none'/>");
    expect(errorOf(up).condition).toBe("not-allowed");
  });

  it("ban (301) keeps the user out; the outcast list shows it; unbanning lets them in again", async () => {
    const alice = await connect("alice");
    const dave = await connect("dave");
    await createInstant(alice, "bans", "Alice");
    await join(dave, "bans", "Dave");
    const r = await admin(alice, "bans", "set", "<item jid='dave@localhost' affiliation='outcast'><reason>Bye</reason></item>");
    expect(r.attrs.type).toBe("result");
    const self = await until(dave, presenceFrom(`bans@${MUC}/Dave`));
    expect(codes(self)).toEqual(expect.arrayContaining([301, 110]));
    expect(itemOf(self)).toMatchObject({ affiliation: "outcast", role: "none" });
    expect(errorOf((await join(dave, "bans", "Dave")).error!)).toMatchObject({ type: "auth", condition: "forbidden" });
    const list = await admin(alice, "bans", "get", "<item affiliation='outcast'/>");
    const items = list.getChild("query", NS_ADMIN)!.childElements("item");
    expect(items.map((i) => i.attrs)).toEqual([{ affiliation: "outcast", jid: "dave@localhost" }]);
    expect((await admin(alice, "bans", "set", "<item jid='dave@localhost' affiliation='none'/>")).attrs.type).toBe("result");
    expect((await join(dave, "bans", "Dave")).error).toBeUndefined();
  });

  it("voice: moderated room visitors get voice and lose it; the participant list is for moderators", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "voices", "Alice", { "muc#roomconfig_moderatedroom": "1" });
    const j = await join(bob, "voices", "Bob");
    expect(itemOf(j.self).role).toBe("visitor");
    expect((await admin(alice, "voices", "set", "<item nick='Bob' role='participant'/>")).attrs.type).toBe("result");
    const p = await until(bob, presenceFrom(`voices@${MUC}/Bob`));
    expect(itemOf(p).role).toBe("participant");
    bob.send(`<message type='groupchat' to='voices@${MUC}'><body>I can talk</body></message>`);
    await until(alice, (el) => el.getChildText("body") === "I can talk");
    const parts = await admin(alice, "voices", "get", "<item role='participant'/>");
    expect(parts.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs.nick)).toEqual(["Bob"]);
    expect(errorOf(await admin(bob, "voices", "get", "<item role='moderator'/>")).condition).toBe("forbidden");
    expect((await admin(alice, "voices", "set", "<item nick='Bob' role='visitor'/>")).attrs.type).toBe("result");
    expect(itemOf(await until(bob, presenceFrom(`voices@${MUC}/Bob`))).role).toBe("visitor");
  });

  it("voice request (§7.13): moderators get the approval form and granting it gives voice", async () => {
    const alice = await connect("alice");
    const carol = await connect("carol");
    await createInstant(alice, "askvoice", "Alice", { "muc#roomconfig_moderatedroom": "1" });
    await join(carol, "askvoice", "Carol");
    await drain(alice);
    const form = (fields: string) => `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>${fields}</x>`;
    carol.send(`<message to='askvoice@${MUC}'>${form("<field var='muc#role'><value>participant</value></field>")}</message>`);
    const req = await until(alice, (el) => el.name === "message" && el.getChild("x", "jabber:x:data") !== undefined);
    const fields = req.getChild("x", "jabber:x:data")!.childElements("field");
    expect(fields.find((f) => f.attrs.var === "muc#roomnick")!.getChildText("value")).toBe("Carol");
    alice.send(`<message to='askvoice@${MUC}'>${form("<field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Carol</value></field><field var='muc#request_allow'><value>true</value></field>")}</message>`);
    expect(itemOf(await until(carol, presenceFrom(`askvoice@${MUC}/Carol`))).role).toBe("participant");
  });
});

describe("affiliations", () => {
  it("owners grant admin and member; admins cannot touch owners; the last owner stays", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "affs", "Alice");
    await join(bob, "affs", "Bob");
    expect((await admin(alice, "affs", "set", "<item jid='bob@localhost' affiliation='admin'/>")).attrs.type).toBe("result");
    const p = await until(bob, presenceFrom(`affs@${MUC}/Bob`));
    expect(itemOf(p)).toMatchObject({ affiliation: "admin", role: "moderator" });
    expect((await admin(bob, "affs", "set", "<item jid='carol@localhost' affiliation='member'/>")).attrs.type).toBe("result");
    expect(errorOf(await admin(bob, "affs", "set", "<item jid='alice@localhost' affiliation='none'/>")).condition).toBe("not-allowed");
    expect(errorOf(await admin(bob, "affs", "set", "<item jid='dave@localhost' affiliation='owner'/>")).condition).toBe("not-allowed");
    expect(errorOf(await admin(alice, "affs", "set", "<item jid='alice@localhost' affiliation='admin'/>")).condition).toBe("conflict");
    const members = await admin(alice, "affs", "get", "<item affiliation='member'/>");
    expect(members.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["carol@localhost"]);
    const admins = await admin(alice, "affs", "get", "<item affiliation='admin'/>");
    expect(admins.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["bob@localhost"]);
    expect(errorOf(await admin(await connect("dave"), "affs", "get", "<item affiliation='member'/>")).condition).toBe("forbidden");
  });

  it("members-only: non-members get registration-required; making the room members-only removes them (322); losing membership removes (321)", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const carol = await connect("carol");
    await createInstant(alice, "club", "Alice");
    await admin(alice, "club", "set", "<item jid='bob@localhost' affiliation='member'/>");
    await join(bob, "club", "Bob");
    await join(carol, "club", "Carol");
    await configure(alice, "club", { "muc#roomconfig_membersonly": "1" });
    const out = await until(carol, presenceFrom(`club@${MUC}/Carol`));
    expect(out.attrs.type).toBe("unavailable");
    expect(codes(out)).toEqual(expect.arrayContaining([322, 110]));
    expect(errorOf((await join(carol, "club", "Carol")).error!)).toMatchObject({ type: "auth", condition: "registration-required" });
    await admin(alice, "club", "set", "<item jid='bob@localhost' affiliation='none'/>");
    const gone = await until(bob, (el) => el.name === "presence" && el.attrs.from === `club@${MUC}/Bob` && el.attrs.type === "unavailable");
    expect(codes(gone)).toEqual(expect.arrayContaining([321, 110]));
  });

  it("max users: the room refuses one more occupant, but not an owner", async () => {
    const alice = await connect("alice");
    await createInstant(alice, "small", "Alice", { "muc#roomconfig_maxusers": "2" });
    await join(await connect("bob"), "small", "Bob");
    const full = await join(await connect("carol"), "small", "Carol");
    expect(errorOf(full.error!)).toMatchObject({ type: "wait", condition: "service-unavailable" });
    expect((await join(await connect("admin"), "small", "Admin")).error).toBeUndefined();
  });

  it("public JIDs: 100 on join, 172/173 on change, real JIDs shown to everyone", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "open", "Alice");
    await join(bob, "open", "Bob");
    await configure(alice, "open", { "muc#roomconfig_whois": "anyone" });
    const m = await until(bob, (el) => el.name === "message" && codes(el).includes(104));
    expect(codes(m)).toEqual(expect.arrayContaining([104, 172]));
    const j = await join(await connect("carol"), "open", "Carol");
    expect(codes(j.self)).toContain(100);
    const alicePresence = j.stanzas.find((s) => s.attrs.from === `open@${MUC}/Alice`)!;
    expect(itemOf(alicePresence).jid).toBe(alice.jid);
    await configure(alice, "open", { "muc#roomconfig_whois": "moderators" });
    const m2 = await until(bob, (el) => el.name === "message" && codes(el).includes(173));
    expect(m2.attrs.from).toBe(`open@${MUC}`);
  });

  it("room registration (muc#register) reserves a member's nickname", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const carol = await connect("carol");
    await createInstant(alice, "reg", "Alice");
    // allow_unaffiliated_register is false by default (Prosody's): members register, others may not.
    const refused = await bob.iq(`<iq type='get' to='reg@${MUC}' id='${nextId()}'><query xmlns='jabber:iq:register'/></iq>`);
    expect(errorOf(refused)).toMatchObject({ type: "auth", condition: "registration-required" });
    await admin(alice, "reg", "set", "<item jid='bob@localhost' affiliation='member'/>");
    const form = await bob.iq(`<iq type='get' to='reg@${MUC}' id='${nextId()}'><query xmlns='jabber:iq:register'/></iq>`);
    const x = form.getChild("query", "jabber:iq:register")!.getChild("x", "jabber:x:data")!;
    expect(x.childElements("field").map((f) => f.attrs.var)).toContain("muc#register_roomnick");
    const submit = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>Bobby</value></field></x>`;
    expect((await bob.iq(`<iq type='set' to='reg@${MUC}' id='${nextId()}'><query xmlns='jabber:iq:register'>${submit}</query></iq>`)).attrs.type).toBe("result");
    const again = await bob.iq(`<iq type='get' to='reg@${MUC}' id='${nextId()}'><query xmlns='jabber:iq:register'/></iq>`);
    expect(again.getChild("query", "jabber:iq:register")!.getChildText("username")).toBe("Bobby");
    const members = await admin(alice, "reg", "get", "<item affiliation='member'/>");
    expect(members.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs)).toEqual([{ affiliation: "member", jid: "bob@localhost", nick: "Bobby" }]);
    expect(errorOf((await join(carol, "reg", "Bobby")).error!).condition).toBe("conflict");
    expect((await join(bob, "reg", "Bobby")).error).toBeUndefined();
  });
});

describe("muc_room_allow_persistent = false", () => {
  it("only server admins make rooms persistent", async () => {
    const other = await startMucServer({ component: "muc_room_allow_persistent = false" });
    try {
      const alice = await login(other, "alice");
      const boss = await login(other, "admin");
      const features = async (c: RawClient, room: string) => {
        const info = await c.iq(`<iq type='get' to='${room}@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
        return info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
      };
      await createInstant(alice, "mine", "Alice", { "muc#roomconfig_persistentroom": "1" });
      expect(await features(alice, "mine")).toContain("muc_temporary");
      await createInstant(boss, "boss", "Boss", { "muc#roomconfig_persistentroom": "1" });
      expect(await features(boss, "boss")).toContain("muc_persistent");
      alice.close();
      boss.close();
    } finally {
      await other.stop();
    }
  });
});

describe("creation policy", () => {
  it("restrict_room_creation = \"local\": accounts of the parent domain create rooms", async () => {
    const other = await startMucServer({ component: 'restrict_room_creation = "local"' });
    try {
      const alice = await login(other, "alice");
      expect(codes((await join(alice, "localroom", "Alice")).self)).toContain(201);
      alice.close();
    } finally {
      await other.stop();
    }
  });


  it("restrict_room_creation = true: only server admins create rooms", async () => {
    const other = await startMucServer({ component: "restrict_room_creation = true" });
    try {
      const alice = await login(other, "alice");
      const boss = await login(other, "admin");
      const r = await join(alice, "newroom", "Alice");
      expect(errorOf(r.error!).condition).toBe("not-allowed");
      const ok = await join(boss, "newroom", "Boss");
      expect(codes(ok.self)).toContain(201);
      alice.close();
      boss.close();
    } finally {
      await other.stop();
    }
  });
});

describe("owner and admin lists in the configuration form (§10.2)", () => {
  it("the form lists owners and admins; submitting them grants and revokes, and an ownerless room is refused", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "formlists", "Alice");
    await join(bob, "formlists", "Bob");
    await drain(alice);
    const r = await configure(alice, "formlists", { "muc#roomconfig_roomowners": ["alice@localhost"], "muc#roomconfig_roomadmins": ["bob@localhost"] });
    expect(r.attrs.type).toBe("result");
    const seen = await until(alice, presenceFrom(`formlists@${MUC}/Bob`));
    expect(itemOf(seen)).toMatchObject({ affiliation: "admin", role: "moderator" });
    const self = await until(bob, (e) => presenceFrom(`formlists@${MUC}/Bob`)(e) && codes(e).includes(110));
    expect(itemOf(self).affiliation).toBe("admin");
    const form = await alice.iq(`<iq type='get' to='formlists@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`);
    const fields = form.getChild("query", "http://jabber.org/protocol/muc#owner")!.getChild("x", "jabber:x:data")!.childElements("field");
    const values = (v: string) => fields.find((f) => f.attrs.var === v)?.childElements("value").map((e) => e.getText());
    expect(values("muc#roomconfig_roomowners")).toEqual(["alice@localhost"]);
    expect(values("muc#roomconfig_roomadmins")).toEqual(["bob@localhost"]);
    const none = await configure(alice, "formlists", { "muc#roomconfig_roomowners": [] });
    expect(errorOf(none)).toMatchObject({ type: "cancel", condition: "conflict" });
    const list = await admin(alice, "formlists", "get", "<item affiliation='owner'/>");
    expect(list.getChild("query", NS_ADMIN)!.childElements("item").map((i) => i.attrs.jid)).toEqual(["alice@localhost"]);
  });
});
