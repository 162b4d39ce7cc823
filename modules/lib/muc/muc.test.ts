// Unit tests of the pure room logic: permission tables, history selection, the configuration
// form mapping and a room's stanza output.

import { describe, expect, it } from "vitest";
import { canChangeAffiliation, canChangeRole, defaultRole } from "./permissions.js";
import { parseHistoryRequest, selectHistory } from "./history.js";
import { BUILTIN_DEFAULTS, applyConfigForm, renderConfigForm } from "./config.js";
import { Room } from "./room.js";
import { parseXml } from "./test-xml.js";

describe("permissions", () => {
  it("default roles follow §5.1", () => {
    expect(defaultRole("owner", false)).toBe("moderator");
    expect(defaultRole("member", true)).toBe("participant");
    expect(defaultRole("none", true)).toBe("visitor");
    expect(defaultRole("none", false)).toBe("participant");
    expect(defaultRole("outcast", false)).toBe("none");
  });
  it("admins cannot change owners or admins; owners can; members cannot change anything", () => {
    expect(canChangeAffiliation("admin", "owner", "none")).toBe("not-allowed");
    expect(canChangeAffiliation("admin", "admin", "member")).toBe("not-allowed");
    expect(canChangeAffiliation("admin", "none", "outcast")).toBeUndefined();
    expect(canChangeAffiliation("admin", "none", "admin")).toBe("not-allowed");
    expect(canChangeAffiliation("owner", "admin", "owner")).toBeUndefined();
    expect(canChangeAffiliation("member", "none", "member")).toBe("forbidden");
  });
  it("only admins grant moderator; nobody kicks an admin; participants cannot moderate", () => {
    const mod = { role: "moderator" as const, affiliation: "none" as const };
    const adm = { role: "moderator" as const, affiliation: "admin" as const };
    const part = { role: "participant" as const, affiliation: "none" as const };
    expect(canChangeRole(mod, part, "moderator")).toBe("not-allowed");
    expect(canChangeRole(adm, part, "moderator")).toBeUndefined();
    expect(canChangeRole(mod, part, "none")).toBeUndefined();
    expect(canChangeRole(adm, { role: "moderator", affiliation: "admin" }, "none")).toBe("not-allowed");
    expect(canChangeRole(part, part, "none")).toBe("forbidden");
  });
});

describe("history", () => {
  const entries = [1, 2, 3, 4, 5].map((i) => ({ when: i * 1000, chars: 10, value: `m${i}` }));
  it("takes the newest within every limit, oldest first", () => {
    expect(selectHistory(entries, {}, 3, 5000).map((e) => e.value)).toEqual(["m3", "m4", "m5"]);
    expect(selectHistory(entries, { maxstanzas: 2 }, 20, 5000).map((e) => e.value)).toEqual(["m4", "m5"]);
    expect(selectHistory(entries, { maxstanzas: 50 }, 4, 5000).map((e) => e.value)).toEqual(["m2", "m3", "m4", "m5"]);
    expect(selectHistory(entries, { maxchars: 25 }, 20, 5000).map((e) => e.value)).toEqual(["m4", "m5"]);
    expect(selectHistory(entries, { maxchars: 25 }, 20, 5000, 5).map((e) => e.value)).toEqual(["m5"]);
    expect(selectHistory(entries, { seconds: 2 }, 20, 5000).map((e) => e.value)).toEqual(["m3", "m4", "m5"]);
    expect(selectHistory(entries, { since: 4000 }, 20, 5000).map((e) => e.value)).toEqual(["m4", "m5"]);
  });
  it("parses the <history/> attributes, ignoring invalid ones", () => {
    expect(parseHistoryRequest({ maxchars: "0", maxstanzas: "x", since: "1970-01-01T00:00:05Z" })).toEqual({ maxchars: 0, since: 5000 });
  });
});

describe("configuration form", () => {
  it("renders the current values and applies a submission, reporting what changed", () => {
    const form = renderConfigForm({ ...BUILTIN_DEFAULTS, name: "R" }, 20, true);
    const name = form.childElements("field").find((f) => f.attrs.var === "muc#roomconfig_roomname")!;
    expect(name.getChildText("value")).toBe("R");
    const x = parseXml(
      "<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>30</value></field><field var='muc#roomconfig_whois'><value>anyone</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field></x>",
    );
    const r = applyConfigForm(BUILTIN_DEFAULTS, x, 20, true);
    if (!r.ok) throw new Error(r.text);
    expect(r.config).toMatchObject({ maxUsers: 30, whois: "anyone", password: "pw" });
    expect([...r.changed].sort()).toEqual(["maxUsers", "password", "whois"]);
    const bad = applyConfigForm(BUILTIN_DEFAULTS, parseXml("<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_historylength'><value>99</value></field></x>"), 20, true);
    expect(bad.ok).toBe(false);
  });
});

describe("room", () => {
  const env = { now: () => 1000, newId: () => "id1", maxHistory: 20, archiving: true, isServiceAdmin: () => false };
  it("a join gives others' presence, then self-presence last with 110, then the subject", () => {
    const room = new Room("r@muc.example", BUILTIN_DEFAULTS, env);
    room.affiliations.set("a@example", "owner");
    room.presence(parseXml("<presence from='a@example/1' to='r@muc.example/A'><x xmlns='http://jabber.org/protocol/muc'/></presence>"), true);
    const out = room.presence(parseXml("<presence from='b@example/1' to='r@muc.example/B'><x xmlns='http://jabber.org/protocol/muc'/></presence>")).out;
    const toB = out.filter((s) => s.attrs.to === "b@example/1").map((s) => `${s.name} ${s.attrs.from}`);
    expect(toB).toEqual(["presence r@muc.example/A", "presence r@muc.example/B", "message r@muc.example"]);
    const toA = out.filter((s) => s.attrs.to === "a@example/1");
    expect(toA).toHaveLength(1);
    // A moderator sees the real JID in a semi-anonymous room; B does not see A's.
    expect(toA[0].toString()).toContain("jid='b@example/1'");
    expect(out[0].toString()).not.toContain("jid=");
  });
  it("a groupchat message is one shared payload for every recipient", () => {
    const room = new Room("r@muc.example", BUILTIN_DEFAULTS, env);
    for (const u of ["a", "b", "c"]) room.presence(parseXml(`<presence from='${u}@example/1' to='r@muc.example/${u}'/>`));
    const o = room.message(parseXml("<message type='groupchat' from='a@example/1' to='r@muc.example'><body>x</body></message>"));
    expect(o.out).toHaveLength(3);
    expect(new Set(o.out.map((m) => m.children)).size).toBe(1);
    expect(o.archive?.id).toBe("id1");
    expect(room.history).toHaveLength(1);
  });
});


describe("owner and admin lists in the configuration form (§10.2)", () => {
  const env = { now: () => 1000, newId: () => "id1", maxHistory: 20, archiving: true, isServiceAdmin: () => false };
  const R = "r@muc.example";
  const setup = () => {
    const room = new Room(R, BUILTIN_DEFAULTS, env);
    room.affiliations.set("a@example", "owner");
    room.affiliations.set("c@example", "admin");
    room.presence(parseXml(`<presence from='a@example/1' to='${R}/A'/>`));
    room.presence(parseXml(`<presence from='b@example/1' to='${R}/B'/>`));
    return room;
  };
  const submit = (room: Room, fields: string) =>
    room.iq(parseXml(`<iq type='set' id='c1' from='a@example/1' to='${R}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>${fields}</x></query></iq>`));
  const field = (v: string, jids: string[]) => `<field var='muc#roomconfig_${v}'>${jids.map((j) => `<value>${j}</value>`).join("")}</field>`;

  it("shows the current owners and admins", () => {
    const room = setup();
    const out = room.iq(parseXml(`<iq type='get' id='g1' from='a@example/1' to='${R}'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`)).out;
    const x = out[0].getChild("query", "http://jabber.org/protocol/muc#owner")!.getChild("x", "jabber:x:data")!;
    const values = (v: string) => x.childElements("field").find((f) => f.attrs.var === v)?.childElements("value").map((e) => e.getText());
    expect(values("muc#roomconfig_roomowners")).toEqual(["a@example"]);
    expect(values("muc#roomconfig_roomadmins")).toEqual(["c@example"]);
    expect(x.childElements("field").find((f) => f.attrs.var === "muc#roomconfig_roomowners")?.attrs.type).toBe("jid-multi");
  });

  it("submitting the lists changes affiliations and re-broadcasts affected occupants' presence", () => {
    const room = setup();
    const o = submit(room, field("roomowners", ["a@example", "b@example"]) + field("roomadmins", []));
    expect(o.out[0].attrs.type).toBe("result");
    expect(room.affiliationOf("b@example")).toBe("owner");
    expect(room.affiliationOf("c@example")).toBe("none");
    expect(o.save).toBe(true);
    const toA = o.out.filter((s) => s.name === "presence" && s.attrs.to === "a@example/1" && s.attrs.from === `${R}/B`);
    expect(toA).toHaveLength(1);
    expect(toA[0].toString()).toContain("affiliation='owner' role='moderator'");
    const self = o.out.find((s) => s.name === "presence" && s.attrs.to === "b@example/1");
    expect(self?.toString()).toContain("affiliation='owner'");
    expect(self?.toString()).toContain("code='110'");
  });

  it("refuses to leave the room without an owner (conflict), changing nothing", () => {
    const room = setup();
    const o = submit(room, field("roomowners", []) + field("roomadmins", ["a@example"]) + "<field var='muc#roomconfig_roomname'><value>New</value></field>");
    expect(o.out).toHaveLength(1);
    expect(o.out[0].attrs.type).toBe("error");
    expect(o.out[0].getChild("error")?.toString()).toContain("<conflict ");
    expect(room.affiliationOf("a@example")).toBe("owner");
    expect(room.config.name).toBe("");
  });

  it("refuses a JID in both lists and a full JID (not-acceptable, jid-malformed)", () => {
    const room = setup();
    const both = submit(room, field("roomowners", ["a@example", "b@example"]) + field("roomadmins", ["b@example"]));
    expect(both.out[0].getChild("error")?.toString()).toContain("<not-acceptable ");
    const full = submit(room, field("roomowners", ["a@example", "b@example/res"]));
    expect(full.out[0].getChild("error")?.toString()).toContain("<jid-malformed ");
    expect(room.affiliationOf("b@example")).toBe("none");
  });
});

describe("switching muc#roomconfig_moderatedroom (Prosody's behaviour)", () => {
  const env = { now: () => 1000, newId: () => "id1", maxHistory: 20, archiving: true, isServiceAdmin: () => false };
  it("keeps present occupants' roles, tells them with 104, and newcomers join as visitors", () => {
    const R = "r@muc.example";
    const room = new Room(R, BUILTIN_DEFAULTS, env);
    room.affiliations.set("a@example", "owner");
    room.presence(parseXml(`<presence from='a@example/1' to='${R}/A'/>`));
    room.presence(parseXml(`<presence from='b@example/1' to='${R}/B'/>`));
    const o = room.iq(parseXml(`<iq type='set' id='c1' from='a@example/1' to='${R}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_moderatedroom'><value>1</value></field></x></query></iq>`));
    expect(room.occupants.get("B")?.role).toBe("participant");
    expect(o.out.some((s) => s.name === "message" && s.attrs.to === "b@example/1" && s.toString().includes("code='104'"))).toBe(true);
    room.presence(parseXml(`<presence from='d@example/1' to='${R}/D'/>`));
    expect(room.occupants.get("D")?.role).toBe("visitor");
  });
});

describe("muc_log_presences", () => {
  const base = { now: () => 1000, newId: () => "p1", maxHistory: 20, archiving: true, isServiceAdmin: () => false };
  it("is off by default: a join archives nothing; on, the join and the leave are archived under room/nick", () => {
    const off = new Room("r@muc.example", BUILTIN_DEFAULTS, base);
    expect(off.presence(parseXml("<presence from='b@example/1' to='r@muc.example/B'/>")).archive).toBeUndefined();
    const on = new Room("r@muc.example", BUILTIN_DEFAULTS, { ...base, logPresences: true });
    const joined = on.presence(parseXml("<presence from='b@example/1' to='r@muc.example/B'/>")).archive;
    expect(joined?.with).toBe("r@muc.example/B");
    expect(joined?.stanza.toString()).not.toContain("b@example");
    const left = on.presence(parseXml("<presence type='unavailable' from='b@example/1' to='r@muc.example/B'/>")).archive;
    expect(left?.stanza.attrs.type).toBe("unavailable");
  });
});
