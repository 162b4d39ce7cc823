// XEP-0402 bookmarks with autojoin, end to end with a real client library (@xmpp/client over
// WebSocket): one session stores a bookmark of a room in PEP, a later session of the same account
// reads its bookmarks at login, joins the autojoin rooms, and talks there; another user hears it.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, xml } from "@xmpp/client";
import WebSocket from "ws";
import type { TestServer } from "../helpers/harness.js";
import { MUC, createInstant, isMessageWithBody, login, startMucServer, until } from "./helpers.js";

// COMPAT: @xmpp/websocket uses the global WebSocket, which Node only has from version 22.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const NS_BOOKMARKS = "urn:xmpp:bookmarks:1";
let ts: TestServer;

beforeAll(async () => {
  ts = await startMucServer({ transport: "sockets", global: 'modules_enabled = { "roster"; "presence"; "message"; "pep" }' });
});
afterAll(() => ts?.stop());

type XmlEl = ReturnType<typeof xml>;

function session(resource: string) {
  const x = client({ service: `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket`, domain: "localhost", username: "alice", password: "pw", resource });
  x.on("error", () => {});
  return x;
}

describe("XEP-0402 bookmarks with autojoin", () => {
  it("a bookmark stored by one session makes the next one join the room", async () => {
    const bob = await login(ts, "bob");
    await createInstant(bob, "team", "Bob");

    const phone = session("phone");
    await phone.start();
    const publish = xml(
      "iq",
      { type: "set", id: "bm1" },
      xml(
        "pubsub",
        { xmlns: "http://jabber.org/protocol/pubsub" },
        xml("publish", { node: NS_BOOKMARKS }, xml("item", { id: `team@${MUC}` }, xml("conference", { xmlns: NS_BOOKMARKS, name: "The team", autojoin: "true" }, xml("nick", {}, "alice")))),
        xml(
          "publish-options",
          {},
          xml(
            "x",
            { xmlns: "jabber:x:data", type: "submit" },
            xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, "http://jabber.org/protocol/pubsub#publish-options")),
            xml("field", { var: "pubsub#persist_items" }, xml("value", {}, "true")),
            xml("field", { var: "pubsub#access_model" }, xml("value", {}, "whitelist")),
          ),
        ),
      ),
    );
    const published = (await phone.iqCaller.request(publish)) as XmlEl;
    expect(published.attrs.type).toBe("result");
    await phone.stop();

    // A new session: fetch the bookmarks, join what says autojoin.
    const laptop = session("laptop");
    const joined = new Promise<XmlEl>((resolve) => {
      laptop.on("stanza", (s: XmlEl) => {
        if (s.is("presence") && s.getChild("x", "http://jabber.org/protocol/muc#user")?.getChildren("status").some((c: XmlEl) => c.attrs.code === "110")) resolve(s);
      });
    });
    await laptop.start();
    const items = (await laptop.iqCaller.request(
      xml("iq", { type: "get", id: "bm2" }, xml("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" }, xml("items", { node: NS_BOOKMARKS }))),
    )) as XmlEl;
    const conferences = items
      .getChild("pubsub")!
      .getChild("items")!
      .getChildren("item")
      .map((i: XmlEl) => ({ jid: i.attrs.id as string, conf: i.getChild("conference", NS_BOOKMARKS)! }))
      .filter((c: { conf: XmlEl }) => c.conf.attrs.autojoin === "true" || c.conf.attrs.autojoin === "1");
    expect(conferences.map((c: { jid: string }) => c.jid)).toEqual([`team@${MUC}`]);
    for (const c of conferences) {
      await laptop.send(xml("presence", { to: `${c.jid}/${c.conf.getChildText("nick")}` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
    }
    const self = await joined;
    expect(self.attrs.from).toBe(`team@${MUC}/alice`);
    await laptop.send(xml("message", { type: "groupchat", to: `team@${MUC}` }, xml("body", {}, "back from autojoin")));
    const heard = await until(bob, isMessageWithBody("back from autojoin"));
    expect(heard.attrs.from).toBe(`team@${MUC}/alice`);
    await laptop.stop();
    bob.close();
  });
});
