// XEP-0045 through real client streams (in memory): room creation (instant and reserved, locking), joining with the
// status codes and presence order of §7.2, leaving, nick changes, disco, destroy.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import { MUC, NS_OWNER, admin, codes, configure, createInstant, drain, errorOf, itemOf, join, login, nextId, presenceFrom, startMucServer, until } from "./helpers.js";

let ts: TestServer;
const connect = (user: string, resource?: string) => login(ts, user, resource);

beforeAll(async () => {
  ts = await startMucServer();
});
afterAll(() => ts.stop());

describe("room creation", () => {
  it("creates a locked room (201) that others cannot enter until it is configured as an instant room", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const j = await join(alice, "lockedroom", "Alice");
    expect(codes(j.self)).toEqual(expect.arrayContaining([110, 201]));
    expect(itemOf(j.self)).toMatchObject({ affiliation: "owner", role: "moderator", jid: alice.jid });
    // The subject comes last, after the self-presence.
    expect(j.stanzas.at(-1)!.name).toBe("message");

    const denied = await join(bob, "lockedroom", "Bob");
    expect(errorOf(denied.error!).condition).toBe("item-not-found");

    const r = await configure(alice, "lockedroom", {});
    expect(r.attrs.type).toBe("result");
    const ok = await join(bob, "lockedroom", "Bob");
    expect(ok.error).toBeUndefined();
    expect(codes(ok.self)).toContain(110);
    expect(codes(ok.self)).not.toContain(201);
    // Bob saw Alice first, then himself; Alice hears of Bob.
    const first = ok.stanzas[0];
    expect(first.attrs.from).toBe(`lockedroom@${MUC}/Alice`);
    const seen = await until(alice, presenceFrom(`lockedroom@${MUC}/Bob`));
    // Semi-anonymous by default: a moderator sees the real JID.
    expect(itemOf(seen)).toMatchObject({ role: "participant", affiliation: "none", jid: bob.jid });
    expect(itemOf(first).jid).toBeUndefined();
  });

  it("reserved room: the owner fetches and submits the configuration form", async () => {
    const alice = await connect("alice");
    await join(alice, "reserved", "Alice");
    const form = await alice.iq(`<iq type='get' to='reserved@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'/></iq>`);
    const x = form.getChild("query", NS_OWNER)!.getChild("x", "jabber:x:data")!;
    const vars = x.childElements("field").map((f) => f.attrs.var);
    for (const v of ["muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom", "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom", "muc#roomconfig_roomsecret", "muc#roomconfig_maxusers", "muc#roomconfig_whois", "muc#roomconfig_changesubject", "muc#roomconfig_allowinvites"]) {
      expect(vars).toContain(v);
    }
    expect((await configure(alice, "reserved", { "muc#roomconfig_roomname": "The Reserve", "muc#roomconfig_whois": "bogus" })).attrs.type).toBe("error");
    // Hidden by default (muc_room_default_public = false, as in Prosody): not listed until made public.
    const hidden = await alice.iq(`<iq type='get' to='${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    expect(hidden.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item")).toEqual([]);
    expect((await configure(alice, "reserved", { "muc#roomconfig_roomname": "The Reserve", "muc#roomconfig_publicroom": "1" })).attrs.type).toBe("result");
    const info = await alice.iq(`<iq type='get' to='reserved@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const q = info.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(q.getChild("identity")!.attrs).toMatchObject({ category: "conference", type: "text", name: "The Reserve" });
    const features = q.childElements("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(["http://jabber.org/protocol/muc", "muc_public", "muc_temporary", "muc_open", "muc_semianonymous", "muc_unsecured", "muc_unmoderated"]));
    const roominfo = q.getChild("x", "jabber:x:data")!;
    const occupants = roominfo.childElements("field").find((f) => f.attrs.var === "muc#roominfo_occupants");
    expect(occupants?.getChildText("value")).toBe("1");
    // Listed in the service's disco#items once unlocked.
    const items = await alice.iq(`<iq type='get' to='${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    if (items.attrs.type !== "result") throw new Error(String(items));
    const jids = items.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item").map((i) => i.attrs.jid);
    expect(jids).toContain(`reserved@${MUC}`);
    expect(jids).not.toContain(`nosuchroom@${MUC}`);
  });

  it("non-owners cannot configure; a cancelled initial configuration destroys the room", async () => {
    const carol = await connect("carol");
    const dave = await connect("dave");
    await join(carol, "cancelled", "Carol");
    const cancel = await carol.iq(`<iq type='set' to='cancelled@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`);
    expect(cancel.attrs.type).toBe("result");
    await drain(carol);
    const info = await dave.iq(`<iq type='get' to='cancelled@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(errorOf(info).condition).toBe("item-not-found");

    await createInstant(carol, "carols", "Carol");
    await join(dave, "carols", "Dave");
    const r = await dave.iq(`<iq type='get' to='carols@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'/></iq>`);
    expect(errorOf(r).condition).toBe("forbidden");
  });

  it("a nickless join is jid-malformed; a taken nick is a conflict", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "nicks", "Alice");
    bob.send(`<presence to='nicks@${MUC}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const e = await until(bob, (el) => el.name === "presence");
    expect(errorOf(e).condition).toBe("jid-malformed");
    const taken = await join(bob, "nicks", "Alice");
    expect(errorOf(taken.error!)).toMatchObject({ type: "cancel", condition: "conflict" });
  });
});

describe("occupants", () => {
  it("nick change: 303 with the new nick, then the new presence; leaving gives 110 to self", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "renames", "Alice");
    await join(bob, "renames", "Bob");
    await drain(alice);
    bob.send(`<presence to='renames@${MUC}/Robert'/>`);
    const un = await until(alice, presenceFrom(`renames@${MUC}/Bob`));
    expect(un.attrs.type).toBe("unavailable");
    expect(codes(un)).toContain(303);
    expect(itemOf(un).nick).toBe("Robert");
    const avail = await until(alice, presenceFrom(`renames@${MUC}/Robert`));
    expect(avail.attrs.type).toBeUndefined();
    const selfUn = await until(bob, presenceFrom(`renames@${MUC}/Bob`));
    expect(codes(selfUn)).toEqual(expect.arrayContaining([303, 110]));
    await until(bob, presenceFrom(`renames@${MUC}/Robert`));

    bob.send(`<presence to='renames@${MUC}/Alice'/>`);
    const conflict = await until(bob, (el) => el.name === "presence" && el.attrs.type === "error");
    expect(errorOf(conflict).condition).toBe("conflict");

    bob.send(`<presence type='unavailable' to='renames@${MUC}/Robert'/>`);
    const left = await until(alice, presenceFrom(`renames@${MUC}/Robert`));
    expect(left.attrs.type).toBe("unavailable");
    expect(itemOf(left).role).toBe("none");
    const selfLeft = await until(bob, presenceFrom(`renames@${MUC}/Robert`));
    expect(codes(selfLeft)).toContain(110);
  });

  it("multi-session nick: a second resource joins the same occupant and gets messages too", async () => {
    const alice = await connect("alice");
    const bob1 = await connect("bob", "one");
    const bob2 = await connect("bob", "two");
    await createInstant(alice, "multi", "Alice");
    await join(bob1, "multi", "Bob");
    await drain(alice);
    const second = await join(bob2, "multi", "Bob");
    expect(second.error).toBeUndefined();
    // Alice is not told of a second arrival.
    alice.send(`<message type='groupchat' to='multi@${MUC}'><body>hi both</body></message>`);
    for (const c of [bob1, bob2]) expect((await until(c, (el) => el.name === "message" && el.getChildText("body") === "hi both")).attrs.from).toBe(`multi@${MUC}/Alice`);
    bob2.send(`<presence type='unavailable' to='multi@${MUC}/Bob'/>`);
    const own = await until(bob2, presenceFrom(`multi@${MUC}/Bob`));
    expect(own.attrs.type).toBe("unavailable");
    // Bob is still in the room through his first session.
    const rest = await drain(alice, 300);
    expect(rest.filter((s) => s.name === "presence")).toEqual([]);
    alice.send(`<message type='groupchat' to='multi@${MUC}'><body>still there?</body></message>`);
    await until(bob1, (el) => el.getChildText("body") === "still there?");
  });

  it("an occupant whose client disconnects leaves the room (unavailable to the others)", async () => {
    const alice = await connect("alice");
    const bob = await login(ts, "bob");
    await createInstant(alice, "drops", "Alice");
    await join(bob, "drops", "Bob");
    await drain(alice);
    bob.close();
    const left = await until(alice, presenceFrom(`drops@${MUC}/Bob`));
    expect(left.attrs.type).toBe("unavailable");
  });

  it("presence broadcast: visitors' presence is not broadcast when muc#roomconfig_presencebroadcast leaves them out", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const carol = await connect("carol");
    await createInstant(alice, "quietvisitors", "Alice", { "muc#roomconfig_moderatedroom": "1", "muc#roomconfig_presencebroadcast": ["moderator", "participant"] });
    await join(bob, "quietvisitors", "Bob");
    await admin(alice, "quietvisitors", "set", "<item nick='Bob' role='participant'/>");
    await drain(bob);
    await join(carol, "quietvisitors", "Carol");
    // Alice (a moderator) sees the visitor arrive; Bob (a participant) does not.
    await until(alice, presenceFrom(`quietvisitors@${MUC}/Carol`));
    const atBob = await drain(bob, 300);
    expect(atBob.filter((s) => s.attrs.from === `quietvisitors@${MUC}/Carol`)).toEqual([]);
  });

  it("the owner destroys a room with an alternate venue", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "doomed", "Alice");
    await join(bob, "doomed", "Bob");
    const r = await alice.iq(`<iq type='set' to='doomed@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'><destroy jid='newplace@${MUC}'><reason>Moving</reason></destroy></query></iq>`);
    expect(r.attrs.type).toBe("result");
    const p = await until(bob, presenceFrom(`doomed@${MUC}/Bob`));
    expect(p.attrs.type).toBe("unavailable");
    const d = p.getChild("x", "http://jabber.org/protocol/muc#user")!.getChild("destroy")!;
    expect(d.attrs.jid).toBe(`newplace@${MUC}`);
    expect(d.getChildText("reason")).toBe("Moving");
  });
});
