// What the MUC service answers for rooms that are not there, byte for byte: mod_muc returns these
// as StanzaErrors (with the condition's URI and the MUC element of presence errors) and the router
// sends them, so their exact form is pinned here.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { MUC, NS_MUC, NS_OWNER, NS_STANZAS, createInstant, login, nextId, startMucServer } from "./helpers.js";

let ts: TestServer;
let admin: RawClient;
let alice: RawClient;

beforeAll(async () => {
  ts = await startMucServer({
    component: `restrict_room_creation = "admin"\nmuc_max_rooms = 1\nmuc_room_default_persistent = true`,
  });
  admin = await login(ts, "admin", "desk");
  alice = await login(ts, "alice", "desk");
  // A persistent room destroyed with an alternate venue leaves a tombstone.
  await createInstant(admin, "old", "Admin");
  const d = await admin.iq(`<iq type='set' to='old@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'><destroy jid='new@${MUC}'><reason>Moved</reason></destroy></query></iq>`);
  expect(d.attrs.type).toBe("result");
  await ts.server.modules.service(MUC, "muc")!.flush();
  await createInstant(admin, "full", "Admin"); // the one room muc_max_rooms allows
});
afterAll(() => ts.stop());

/** The next stanza the client gets, as text. */
const next = async (c: RawClient) => (await c.next()).toString();

const err = (type: string, code: string, condition: string, text: string, uri = "") =>
  `<error type='${type}' code='${code}'><${condition} xmlns='${NS_STANZAS}'${uri ? `>${uri}</${condition}>` : "/>"}<text xmlns='${NS_STANZAS}'>${text}</text></error>`;

describe("errors of the MUC service for rooms that are not there", () => {
  it("presence to a destroyed room: gone with the new venue, and the MUC element", async () => {
    alice.send(`<presence to='old@${MUC}/Al' id='p1'><x xmlns='${NS_MUC}'/></presence>`);
    expect(await next(alice)).toBe(
      `<presence to='alice@localhost/desk' from='old@${MUC}/Al' id='p1' type='error'><x xmlns='${NS_MUC}'/>${err("cancel", "302", "gone", "Moved", `xmpp:new@${MUC}?join`)}</presence>`,
    );
  });

  it("an iq to a destroyed room: gone with the new venue", async () => {
    alice.send(`<iq type='get' to='old@${MUC}' id='i1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(await next(alice)).toBe(`<iq to='alice@localhost/desk' from='old@${MUC}' id='i1' type='error'>${err("cancel", "302", "gone", "Moved", `xmpp:new@${MUC}?join`)}</iq>`);
  });

  it("room creation refused: not-allowed, or resource-constraint past muc_max_rooms", async () => {
    alice.send(`<presence to='mine@${MUC}/Al' id='p2'><x xmlns='${NS_MUC}'/></presence>`);
    expect(await next(alice)).toBe(
      `<presence to='alice@localhost/desk' from='mine@${MUC}/Al' id='p2' type='error'><x xmlns='${NS_MUC}'/>${err("cancel", "405", "not-allowed", "Room creation is restricted")}</presence>`,
    );
    admin.send(`<presence to='second@${MUC}/Admin' id='p3'><x xmlns='${NS_MUC}'/></presence>`);
    expect(await next(admin)).toBe(
      `<presence to='admin@localhost/desk' from='second@${MUC}/Admin' id='p3' type='error'><x xmlns='${NS_MUC}'/>${err("wait", "500", "resource-constraint", "Too many rooms")}</presence>`,
    );
  });

  it("presence without a nickname: jid-malformed", async () => {
    alice.send(`<presence to='full@${MUC}' id='p4'/>`);
    expect(await next(alice)).toBe(
      `<presence to='alice@localhost/desk' from='full@${MUC}' id='p4' type='error'><x xmlns='${NS_MUC}'/>${err("modify", "400", "jid-malformed", "A nickname is required")}</presence>`,
    );
  });

  it("a message or an iq to a room that never was: item-not-found; an error to it: nothing", async () => {
    alice.send(`<message to='nowhere@${MUC}' id='m1' type='groupchat'><body>hi</body></message>`);
    expect(await next(alice)).toBe(`<message to='alice@localhost/desk' from='nowhere@${MUC}' id='m1' type='error'>${err("cancel", "404", "item-not-found", "No such room")}</message>`);
    alice.send(`<iq type='set' to='nowhere@${MUC}/nick' id='i2'><query xmlns='http://jabber.org/protocol/muc#admin'/></iq>`);
    expect(await next(alice)).toBe(`<iq to='alice@localhost/desk' from='nowhere@${MUC}/nick' id='i2' type='error'>${err("cancel", "404", "item-not-found", "No such room")}</iq>`);
    alice.send(`<message to='nowhere@${MUC}' id='m2' type='error'/>`);
    alice.send(`<iq type='get' to='${MUC}' id='i3'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await next(alice)).toBe(`<iq to='alice@localhost/desk' from='${MUC}' id='i3' type='result'/>`);
  });
});
