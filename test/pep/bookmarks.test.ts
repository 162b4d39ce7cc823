// mod_bookmarks: XEP-0402 bookmarks in PEP, and the same bookmarks for XEP-0048 clients through
// private XML storage and the legacy PEP node; bookmarks from before moved at login.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { elementToJson } from "../../src/xml/json.js";
import { NS, NS_DISCO_INFO, drain, errorOf, expectResult, itemsOf, login, nextId, nextMessage, online, publish, pubsub, startPepServer, xml } from "./helpers.js";

const B2 = "urn:xmpp:bookmarks:1";
const LEGACY = "storage:bookmarks";

let ts: TestServer;

beforeAll(async () => {
  ts = await startPepServer(["romeo", "juliet", "nurse", "friar"], {
    modules: ["roster", "presence", "message", "disco", "ping", "pep", "private", "bookmarks"],
  });
});
afterEach(() => ts?.closeClients());
afterAll(() => ts?.stop());

function connect(user: string, resource?: string): Promise<RawClient> {
  return login(ts, user, resource);
}

const privateSet = (c: RawClient, storage: string) => c.iq(`<iq type='set' id='${nextId()}'><query xmlns='jabber:iq:private'>${storage}</query></iq>`);
const privateGet = async (c: RawClient): Promise<Element> => {
  const r = expectResult(await c.iq(`<iq type='get' id='${nextId()}'><query xmlns='jabber:iq:private'><storage xmlns='${LEGACY}'/></query></iq>`));
  return r.getChild("query", "jabber:iq:private")!.getChild("storage", LEGACY)!;
};
/** The XEP-0402 items as the owner reads them: id -> payload. */
const bookmarks2 = async (c: RawClient): Promise<Map<string, Element>> => {
  const r = await pubsub(c, "get", `<items node='${B2}'/>`);
  if (r.attrs.type === "error") return new Map();
  const items = r.getChild("pubsub", NS)!.getChild("items")!.childElements("item");
  return new Map(items.map((i) => [i.attrs.id, i.getChild("conference", B2)!]));
};
const rooms = (storage: Element) => storage.childElements("conference").map((c) => c.toString());

describe("bookmarks for old and new clients (mod_bookmarks)", () => {
  it("a XEP-0048 client's private XML bookmarks become XEP-0402 items, readable by the owner alone", async () => {
    const romeo = await connect("romeo");
    expectResult(
      await privateSet(
        romeo,
        `<storage xmlns='${LEGACY}'><conference jid='verona@muc.localhost' name='Verona' autojoin='1'><nick>Romeo</nick><password>montague</password></conference>` +
          `<conference jid='mantua@muc.localhost'/></storage>`,
      ),
    );
    const b2 = await bookmarks2(romeo);
    expect([...b2.keys()]).toEqual(["verona@muc.localhost", "mantua@muc.localhost"]);
    expect(b2.get("verona@muc.localhost")!.toString()).toBe(
      `<conference xmlns='${B2}' name='Verona' autojoin='true'><nick>Romeo</nick><password>montague</password></conference>`,
    );
    expect(b2.get("mantua@muc.localhost")!.toString()).toBe(`<conference xmlns='${B2}'/>`);
    // XEP-0402 §3: whitelist.
    const juliet = await connect("juliet");
    expect(errorOf(await pubsub(juliet, "get", `<items node='${B2}'/>`, { to: "romeo@localhost" })).condition).toBeDefined();
    // Read back through private XML, the same.
    expect(rooms(await privateGet(romeo))).toEqual([
      "<conference jid='verona@muc.localhost' name='Verona' autojoin='true'><nick>Romeo</nick><password>montague</password></conference>",
      "<conference jid='mantua@muc.localhost'/>",
    ]);
    // A new private set is the whole list: mantua goes.
    expectResult(await privateSet(romeo, `<storage xmlns='${LEGACY}'><conference jid='verona@muc.localhost' name='Verona' autojoin='true'><nick>Romeo</nick><password>montague</password></conference></storage>`));
    expect([...(await bookmarks2(romeo)).keys()]).toEqual(["verona@muc.localhost"]);
  });

  it("a XEP-0402 client's bookmarks are seen by XEP-0048 clients, in private XML and in PEP", async () => {
    const juliet = await connect("juliet");
    expectResult(await publish(juliet, B2, "capulet@muc.localhost", `<conference xmlns='${B2}' name='Capulets' autojoin='true'><nick>Jule</nick><extensions><x xmlns='urn:example'/></extensions></conference>`, {
      "pubsub#persist_items": "true",
      "pubsub#access_model": "whitelist",
      "pubsub#max_items": "max",
    }));
    const expected = "<conference jid='capulet@muc.localhost' name='Capulets' autojoin='true'><nick>Jule</nick></conference>";
    expect(rooms(await privateGet(juliet))).toEqual([expected]);
    const legacy = expectResult(await pubsub(juliet, "get", `<items node='${LEGACY}'/>`));
    const item = legacy.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!;
    expect(item.attrs.id).toBe("current");
    expect(rooms(item.getChild("storage", LEGACY)!)).toEqual([expected]);

    // A legacy client renames the room: the XEP-0402 item changes, its extensions stay.
    expectResult(await privateSet(juliet, `<storage xmlns='${LEGACY}'><conference jid='capulet@muc.localhost' name='House Capulet' autojoin='true'><nick>Jule</nick></conference></storage>`));
    expect((await bookmarks2(juliet)).get("capulet@muc.localhost")!.toString()).toBe(
      `<conference xmlns='${B2}' name='House Capulet' autojoin='true'><nick>Jule</nick><extensions><x xmlns='urn:example'/></extensions></conference>`,
    );
  });

  it("a legacy PEP publish updates XEP-0402 and notifies XEP-0402 clients; XEP-0402 changes notify legacy clients", async () => {
    const modern = await connect("nurse", "modern");
    await online(modern, [`${B2}+notify`]);
    const old = await connect("nurse", "old");
    await online(old, [`${LEGACY}+notify`]);
    await drain(modern);
    await drain(old);

    // The old client publishes XEP-0048 in PEP.
    const r = expectResult(await publish(old, LEGACY, "current", `<storage xmlns='${LEGACY}'><conference jid='garden@muc.localhost' name='Garden'/></storage>`));
    expect(r.getChild("pubsub", NS)!.getChild("publish")!.attrs.node).toBe(LEGACY);
    expect([...(await bookmarks2(modern)).keys()]).toEqual(["garden@muc.localhost"]);
    const toModern = itemsOf(await nextMessage(modern));
    expect(toModern.attrs.node).toBe(B2);
    expect(toModern.getChild("item")!.attrs.id).toBe("garden@muc.localhost");

    // The modern client adds a room: the old one is told with the whole XEP-0048 list.
    await drain(old);
    expectResult(await publish(modern, B2, "balcony@muc.localhost", `<conference xmlns='${B2}' name='Balcony'/>`));
    let legacyItems: Element | undefined;
    for (;;) {
      const m = itemsOf(await nextMessage(old));
      if (m.attrs.node === LEGACY && m.getChild("item")!.getChild("storage", LEGACY)!.childElements("conference").length === 2) {
        legacyItems = m;
        break;
      }
    }
    expect(rooms(legacyItems.getChild("item")!.getChild("storage", LEGACY)!)).toEqual([
      "<conference jid='garden@muc.localhost' name='Garden'/>",
      "<conference jid='balcony@muc.localhost' name='Balcony'/>",
    ]);

    // The old client drops the garden: the modern one hears the retraction.
    await drain(modern);
    expectResult(await publish(old, LEGACY, "current", `<storage xmlns='${LEGACY}'><conference jid='balcony@muc.localhost' name='Balcony'/></storage>`));
    const retract = (await nextMessage(modern)).getChild("event", "http://jabber.org/protocol/pubsub#event")!.getChild("items")!;
    expect(retract.attrs.node).toBe(B2);
    expect(retract.getChild("retract")!.attrs.id).toBe("garden@muc.localhost");
    expect([...(await bookmarks2(modern)).keys()]).toEqual(["balcony@muc.localhost"]);
  });

  it("moves bookmarks kept in private XML storage into XEP-0402 at login", async () => {
    const stored = xml(`<storage xmlns='${LEGACY}'><conference jid='cell@muc.localhost' name='Cell' autojoin='true'><nick>Friar</nick></conference></storage>`);
    await ts.server.storage.map(`localhost`, "private").set("friar", `storage:${LEGACY}`, elementToJson(stored));
    const friar = await connect("friar");
    expect((await bookmarks2(friar)).get("cell@muc.localhost")!.toString()).toBe(`<conference xmlns='${B2}' name='Cell' autojoin='true'><nick>Friar</nick></conference>`);
    expect(await ts.server.storage.map(`localhost`, "private").get("friar", `storage:${LEGACY}`)).toBeUndefined();
    expect(rooms(await privateGet(friar))).toEqual(["<conference jid='cell@muc.localhost' name='Cell' autojoin='true'><nick>Friar</nick></conference>"]);
  });

  it("the account advertises the compatibility", async () => {
    const romeo = await connect("romeo");
    const r = expectResult(await romeo.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`));
    const features = r.getChild("query", NS_DISCO_INFO)!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([`${B2}#compat`, `${B2}#compat-pep`, "urn:xmpp:bookmarks-conversion:0"]));
  });
});
