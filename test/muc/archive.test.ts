// The room archive through real client streams (in memory): muc_log_presences archives joins and leaves, and a `with`
// filter matches the occupant's in-room JID (XEP-0313 §4.1.1), never a real JID.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { MUC, createInstant, errorOf, groupchat, isMessageWithBody, join, login, nextId, presenceFrom, startMucServer, until } from "./helpers.js";

const NS_MAM = "urn:xmpp:mam:2";
let ts: TestServer;
// Clients are closed by ts.stop() and ts.restart().
const connect = (user: string) => login(ts, user);

beforeAll(async () => {
  ts = await startMucServer({ component: "muc_log_presences = true" });
});
afterAll(() => ts.stop());

/** Run an archive query; the forwarded stanzas, or the iq error. */
async function query(c: RawClient, room: string, withJid?: string): Promise<{ items: Element[]; error?: Element }> {
  const id = nextId();
  const form =
    withJid === undefined
      ? ""
      : `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_MAM}</value></field><field var='with'><value>${withJid}</value></field></x>`;
  c.send(`<iq type='set' to='${room}@${MUC}' id='${id}'><query xmlns='${NS_MAM}'>${form}</query></iq>`);
  const items: Element[] = [];
  for (;;) {
    const el = await until(c, (e) => (e.name === "message" && e.getChild("result", NS_MAM) !== undefined) || (e.name === "iq" && e.attrs.id === id));
    if (el.name === "iq") return el.attrs.type === "error" ? { items, error: el } : { items };
    items.push(el.getChild("result", NS_MAM)!.getChild("forwarded", "urn:xmpp:forward:0")!.childElements().find((e) => e.name !== "delay")!);
  }
}

const describeItem = (s: Element) => `${s.name}${s.attrs.type ? `/${s.attrs.type}` : ""} ${s.attrs.from} ${s.getChildText("body") ?? ""}`.trim();

describe("room archive", () => {
  it("muc_log_presences: joins and leaves are archived with the messages; history on join holds only messages", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    await createInstant(alice, "logged", "Alice");
    await join(bob, "logged", "Bob");
    groupchat(bob, "logged", "hi");
    await until(alice, isMessageWithBody("hi"));
    bob.send(`<presence type='unavailable' to='logged@${MUC}/Bob'/>`);
    await until(alice, presenceFrom(`logged@${MUC}/Bob`));
    const all = (await query(alice, "logged")).items.map(describeItem);
    expect(all).toEqual([
      `presence logged@${MUC}/Alice`,
      `presence logged@${MUC}/Bob`,
      `message/groupchat logged@${MUC}/Bob hi`,
      `presence/unavailable logged@${MUC}/Bob`,
    ]);
    // The archived presence shows no real JID.
    const items = (await query(alice, "logged")).items;
    expect(items[1].toString()).not.toContain("bob@localhost");
    const carol = await connect("carol");
    const j = await join(carol, "logged", "Carol");
    expect(j.stanzas.filter((s) => s.name === "message" && s.getChild("body")).map((s) => s.getChildText("body"))).toEqual(["hi"]);
  });

  it("`with` matches the occupant's room@service/nick; a real JID is refused as a filter", async () => {
    const alice = await connect("alice");
    const dave = await connect("dave");
    await createInstant(alice, "filtered", "Alice");
    await join(dave, "filtered", "Dave");
    groupchat(alice, "filtered", "from alice");
    await until(dave, isMessageWithBody("from alice"));
    groupchat(dave, "filtered", "from dave");
    await until(dave, isMessageWithBody("from dave"));
    const byNick = await query(dave, "filtered", `filtered@${MUC}/Dave`);
    expect(byNick.error).toBeUndefined();
    expect(byNick.items.map(describeItem)).toEqual([`presence filtered@${MUC}/Dave`, `message/groupchat filtered@${MUC}/Dave from dave`]);
    const byOther = await query(dave, "filtered", `filtered@${MUC}/Alice`);
    expect(byOther.items.map(describeItem)).toEqual([`presence filtered@${MUC}/Alice`, `message/groupchat filtered@${MUC}/Alice from alice`]);
    // A real JID would reveal who is behind a nick; it matches nothing and is refused, even to the owner.
    for (const c of [dave, alice]) {
      const real = await query(c, "filtered", "alice@localhost");
      expect(real.error && errorOf(real.error)).toMatchObject({ type: "modify", condition: "bad-request" });
    }
  });
});
