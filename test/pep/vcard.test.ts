// mod_vcard_legacy (vcard-temp kept in PEP as vCard4 and User Avatar), mod_vcard4 (XEP-0292), the
// avatar hash in presence (XEP-0153) and the move of vCards stored by mod_vcard into PEP.

import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import {
  NS,
  NS_DISCO_INFO,
  errorOf,
  expectResult,
  login,
  nextId,
  pepConfig,
  publish,
  pubsub,
  startPepServer,
} from "./helpers.js";

const NS_VCARD4 = "urn:ietf:params:xml:ns:vcard-4.0";
const ROMEO_VCARD =
  "<vCard xmlns='vcard-temp'><FN>Romeo Montague</FN><N><FAMILY>Montague</FAMILY><GIVEN>Romeo</GIVEN><MIDDLE/><PREFIX/><SUFFIX/></N>" +
  "<NICKNAME>Romy</NICKNAME><EMAIL><INTERNET/><HOME/><USERID>romeo@verona.example</USERID></EMAIL></vCard>";
const IMAGE = Buffer.from("GIF89a tiny picture bytes");
const HASH = createHash("sha1").update(IMAGE).digest("hex");

let ts: TestServer;
let romeo: RawClient;
let juliet: RawClient;

beforeAll(async () => {
  ts = await startPepServer(["romeo", "juliet"]);
  romeo = await login(ts, "romeo", "a");
  juliet = await login(ts, "juliet", "a");
});
afterAll(() => ts?.stop());

function vcardGet(c: RawClient, to?: string): Promise<import("../../src/xml/stanza.js").Element> {
  return c.iq(`<iq type='get' id='${nextId()}'${to ? ` to='${to}'` : ""}><vCard xmlns='vcard-temp'/></iq>`);
}

describe("vcard-temp in PEP (mod_vcard_legacy)", () => {
  it("an account without a vCard has an empty one", async () => {
    const r = expectResult(await vcardGet(juliet, "romeo@localhost"));
    expect(r.getChild("vCard", "vcard-temp")!.toString()).toBe("<vCard xmlns='vcard-temp'/>");
  });

  it("is stored as the vCard4 item and read back by anyone", async () => {
    expectResult(await romeo.iq(`<iq type='set' id='${nextId()}'>${ROMEO_VCARD}</iq>`));
    const own = expectResult(await vcardGet(romeo)).getChild("vCard", "vcard-temp")!;
    expect(own.toString()).toBe(
      "<vCard xmlns='vcard-temp'><FN>Romeo Montague</FN><N><FAMILY>Montague</FAMILY><GIVEN>Romeo</GIVEN><MIDDLE/><PREFIX/><SUFFIX/></N>" +
        "<NICKNAME>Romy</NICKNAME><EMAIL><USERID>romeo@verona.example</USERID><INTERNET/><HOME/></EMAIL></vCard>",
    );
    // juliet has no subscription to romeo: the node is open.
    expect(expectResult(await vcardGet(juliet, "romeo@localhost")).getChild("vCard", "vcard-temp")!.toString()).toBe(own.toString());
    const items = expectResult(await pubsub(juliet, "get", "<items node='urn:xmpp:vcard4'/>", { to: "romeo@localhost" }));
    const item = items.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!;
    expect(item.attrs.id).toBe("current");
    expect(item.getChild("vcard", NS_VCARD4)!.getChild("fn")!.getChildText("text")).toBe("Romeo Montague");
  });

  it("keeps the photo as a User Avatar, announced in presence (XEP-0153)", async () => {
    const b64 = IMAGE.toString("base64");
    expectResult(await romeo.iq(`<iq type='set' id='${nextId()}'><vCard xmlns='vcard-temp'><FN>Romeo</FN><PHOTO><TYPE>image/gif</TYPE><BINVAL>${b64}</BINVAL></PHOTO></vCard></iq>`));
    const meta = expectResult(await pubsub(juliet, "get", "<items node='urn:xmpp:avatar:metadata'/>", { to: "romeo@localhost" }));
    const info = meta.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!;
    expect(info.attrs.id).toBe(HASH);
    expect(info.getChild("metadata", "urn:xmpp:avatar:metadata")!.getChild("info")!.attrs).toEqual({ bytes: String(IMAGE.length), id: HASH, type: "image/gif" });
    const data = expectResult(await pubsub(juliet, "get", `<items node='urn:xmpp:avatar:data'><item id='${HASH}'/></items>`, { to: "romeo@localhost" }));
    expect(data.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.getChildText("data", "urn:xmpp:avatar:data")).toBe(b64);
    const photo = expectResult(await vcardGet(juliet, "romeo@localhost")).getChild("vCard", "vcard-temp")!.getChild("PHOTO")!;
    expect(photo.toString()).toBe(`<PHOTO><TYPE>image/gif</TYPE><BINVAL>${b64}</BINVAL></PHOTO>`);
    romeo.send("<presence><x xmlns='vcard-temp:x:update'><photo>forged</photo></x></presence>");
    const echo = await romeo.next();
    const updates = echo.childElements("x", "vcard-temp:x:update");
    expect(updates).toHaveLength(1);
    expect(updates[0].getChildText("photo")).toBe(HASH);
    // Without an avatar: <x/> without <photo/>.
    juliet.send("<presence/>");
    const hers = await juliet.next();
    expect(hers.getChild("x", "vcard-temp:x:update")!.toString()).toBe("<x xmlns='vcard-temp:x:update'/>");
  });

  it("a new vCard replaces the avatar", async () => {
    expectResult(await romeo.iq(`<iq type='set' id='${nextId()}'><vCard xmlns='vcard-temp'><FN>Romeo</FN></vCard></iq>`));
    const meta = expectResult(await pubsub(romeo, "get", "<items node='urn:xmpp:avatar:metadata'/>"));
    expect(meta.getChild("pubsub", NS)!.getChild("items")!.childElements("item")).toEqual([]);
    expect(expectResult(await vcardGet(juliet, "romeo@localhost")).getChild("vCard", "vcard-temp")!.getChild("PHOTO")).toBeUndefined();
  });

  it("an avatar published in PEP (XEP-0084) is the vCard's PHOTO and the presence hash (XEP-0398)", async () => {
    const picture = Buffer.from("\x89PNG juliet's picture");
    const id = createHash("sha1").update(picture).digest("hex");
    const open = { "pubsub#access_model": "open" };
    expectResult(await publish(juliet, "urn:xmpp:avatar:data", id, `<data xmlns='urn:xmpp:avatar:data'>${picture.toString("base64")}</data>`, open));
    expectResult(await publish(juliet, "urn:xmpp:avatar:metadata", id, `<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='${picture.length}' id='${id}' type='image/png'/></metadata>`, open));
    const photo = expectResult(await vcardGet(romeo, "juliet@localhost")).getChild("vCard", "vcard-temp")!.getChild("PHOTO")!;
    expect(photo.toString()).toBe(`<PHOTO><TYPE>image/png</TYPE><BINVAL>${picture.toString("base64")}</BINVAL></PHOTO>`);
    juliet.send("<presence/>");
    let echo = await juliet.next();
    while (echo.name !== "presence") echo = await juliet.next();
    expect(echo.getChild("x", "vcard-temp:x:update")!.getChildText("photo")).toBe(id);
    // Gone from PEP, gone from the vCard.
    expectResult(await pubsub(juliet, "set", "<retract node='urn:xmpp:avatar:metadata' notify='true'><item id='" + id + "'/></retract>"));
    expectResult(await pubsub(juliet, "set", "<retract node='urn:xmpp:avatar:data'><item id='" + id + "'/></retract>"));
    expect(expectResult(await vcardGet(romeo, "juliet@localhost")).getChild("vCard", "vcard-temp")!.getChild("PHOTO")).toBeUndefined();
  });

  it("nobody sets another account's vCard; unknown accounts have none", async () => {
    const r = await juliet.iq(`<iq type='set' id='${nextId()}' to='romeo@localhost'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>`);
    expect(errorOf(r)).toMatchObject({ type: "auth", condition: "forbidden" });
    expect(expectResult(await vcardGet(juliet, "romeo@localhost")).getChild("vCard", "vcard-temp")!.getChildText("FN")).toBe("Romeo");
    expect(errorOf(await vcardGet(juliet, "nobody@localhost"))).toMatchObject({ condition: "service-unavailable" });
  });

  it("the account advertises the conversion and vCard4", async () => {
    const r = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`));
    const features = r.getChild("query", NS_DISCO_INFO)!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain("urn:xmpp:pep-vcard-conversion:0");
    expect(features).toContain(NS_VCARD4);
  });
});

describe("vCard4 (mod_vcard4, XEP-0292)", () => {
  it("reads and writes the same PEP item", async () => {
    const got = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><vcard xmlns='${NS_VCARD4}'/></iq>`));
    expect(got.getChild("vcard", NS_VCARD4)!.getChild("fn")!.getChildText("text")).toBe("Romeo");
    expectResult(await juliet.iq(`<iq type='set' id='${nextId()}'><vcard xmlns='${NS_VCARD4}'><fn><text>Juliet</text></fn><note><text>Balcony</text></note></vcard></iq>`));
    const vt = expectResult(await vcardGet(juliet)).getChild("vCard", "vcard-temp")!;
    expect(vt.getChildText("FN")).toBe("Juliet");
    expect(vt.getChildText("NOTE")).toBe("Balcony");
    // Published by mod_vcard4, the node has the PEP defaults (access model presence): romeo, no
    // contact of juliet's, sees no profile either way.
    expect(expectResult(await vcardGet(romeo, "juliet@localhost")).getChild("vCard", "vcard-temp")!.toString()).toBe("<vCard xmlns='vcard-temp'/>");
    const v4 = await romeo.iq(`<iq type='get' id='${nextId()}' to='juliet@localhost'><vcard xmlns='${NS_VCARD4}'/></iq>`);
    expect(errorOf(v4)).toMatchObject({ type: "auth", condition: "forbidden" });
    expect(errorOf(await romeo.iq(`<iq type='get' id='${nextId()}' to='nobody@localhost'><vcard xmlns='${NS_VCARD4}'/></iq>`)).condition).toBe("service-unavailable");
    expect(errorOf(await romeo.iq(`<iq type='set' id='${nextId()}' to='juliet@localhost'><vcard xmlns='${NS_VCARD4}'/></iq>`)).condition).toBe("forbidden");
  });
});

describe("without pep in modules_enabled", () => {
  it("vcard4 and vcard_legacy load mod_pep themselves (module.depends, as Prosody's do)", async () => {
    const server = await startTestServer({ transport: "memory", config: pepConfig({ modules: ["roster", "presence", "disco", "vcard4", "vcard_legacy"] }) });
    try {
      await server.server.accounts("localhost").create("balthasar", "pw");
      const c = await login(server, "balthasar", "a");
      expectResult(await c.iq(`<iq type='set' id='${nextId()}'><vcard xmlns='${NS_VCARD4}'><fn><text>Balthasar</text></fn></vcard></iq>`));
      expect(expectResult(await vcardGet(c)).getChild("vCard", "vcard-temp")!.getChildText("FN")).toBe("Balthasar");
      // PEP itself answers on the account.
      const items = expectResult(await pubsub(c, "get", "<items node='urn:xmpp:vcard4'/>"));
      expect(items.getChild("pubsub", NS)!.getChild("items")!.childElements("item").map((i) => i.attrs.id)).toEqual(["current"]);
      c.close();
    } finally {
      await server.stop();
    }
  });
});

describe("upgrade_legacy_vcards", () => {
  it("moves a vCard stored by mod_vcard into PEP at the next login", async () => {
    const modules = ["roster", "presence", "disco"];
    let server = await startTestServer({ transport: "memory", config: pepConfig({ storage: "leveldb", modules: [...modules, "vcard"] }) });
    await server.addUser("friar", "pw");
    let c = await login(server, "friar", "a");
    expectResult(await c.iq(`<iq type='set' id='${nextId()}'><vCard xmlns='vcard-temp'><FN>Friar Laurence</FN><TITLE>Friar</TITLE></vCard></iq>`));
    c.close();
    const dataDir = server.dataDir;
    await server.server.stop("switch");

    server = await startTestServer({ transport: "memory", dataDir, config: pepConfig({ storage: "leveldb", modules: [...modules, "pep", "vcard_legacy"] }) });
    c = await login(server, "friar", "b");
    const items = expectResult(await pubsub(c, "get", "<items node='urn:xmpp:vcard4'/>"));
    const v4 = items.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.getChild("vcard", NS_VCARD4)!;
    expect(v4.getChild("title")!.getChildText("text")).toBe("Friar");
    expect(expectResult(await vcardGet(c)).getChild("vCard", "vcard-temp")!.getChildText("FN")).toBe("Friar Laurence");
    c.close();
    await server.server.stop("switch back");

    // The old store was emptied: mod_vcard alone has nothing any more.
    server = await startTestServer({ transport: "memory", dataDir, config: pepConfig({ storage: "leveldb", modules: [...modules, "vcard"] }) });
    c = await login(server, "friar", "c");
    expect(errorOf(await vcardGet(c)).condition).toBe("item-not-found");
    c.close();
    await server.stop();
  });
});
