// Persistence on LevelDB across a restart: nodes with their configuration, affiliations,
// subscriptions (with options and subids) and items survive; an item whose publish was
// acknowledged is there even when the server goes down right after the result.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import {
  NS,
  NS_DATA,
  NS_OWNER,
  configure,
  createNode,
  eventOf,
  expectResult,
  formFields,
  itemIds,
  login,
  nextMessage,
  owner,
  publish,
  pubsub,
  startPubsubServer,
  submitForm,
  subscribe,
} from "./helpers.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startPubsubServer({ storage: "leveldb" }, ["romeo", "juliet"]);
});
afterAll(() => ts?.stop());

describe("a restart keeps everything (LevelDB)", () => {
  it("nodes, configuration, affiliations, subscriptions and items", async () => {
    let admin = await login(ts, "admin", "desk");
    let juliet = await login(ts, "juliet", "balcony");
    await createNode(admin, "keep", { "pubsub#title": "Kept", "pubsub#max_items": "3", "pubsub#access_model": "whitelist" });
    expectResult(await configure(admin, "keep", { "pubsub#item_expire": "86400" }));
    expectResult(
      await owner(admin, "set", "<affiliations node='keep'><affiliation jid='juliet@localhost' affiliation='member'/><affiliation jid='romeo@localhost' affiliation='publisher'/></affiliations>"),
    );
    expectResult(await subscribe(juliet, "keep"));
    const second = await pubsub(
      juliet,
      "set",
      `<subscribe node='keep' jid='${juliet.jid}'/><options>${submitForm("http://jabber.org/protocol/pubsub#subscribe_options", { "pubsub#include_body": "1" })}</options>`,
    );
    expectResult(second);
    for (const id of ["a", "b", "c", "d"]) expectResult(await publish(admin, "keep", id));
    await createNode(admin, "second");
    admin.close();
    juliet.close();

    ts = await ts.restart();
    admin = await login(ts, "admin", "desk");
    juliet = await login(ts, "juliet", "balcony");
    const romeo = await login(ts, "romeo", "orchard");

    const conf = expectResult(await owner(admin, "get", "<configure node='keep'/>"));
    const form = formFields(conf.getChild("pubsub", NS_OWNER)!.getChild("configure")!.getChild("x", NS_DATA)!);
    expect(form.get("pubsub#title")).toEqual(["Kept"]);
    expect(form.get("pubsub#max_items")).toEqual(["3"]);
    expect(form.get("pubsub#access_model")).toEqual(["whitelist"]);
    expect(form.get("pubsub#item_expire")).toEqual(["86400"]);

    const affs = expectResult(await owner(admin, "get", "<affiliations node='keep'/>")).getChild("pubsub", NS_OWNER)!.getChild("affiliations")!;
    expect(affs.childElements("affiliation").map((a) => a.attrs)).toEqual([
      { jid: "admin@localhost", affiliation: "owner" },
      { jid: "juliet@localhost", affiliation: "member" },
      { jid: "romeo@localhost", affiliation: "publisher" },
    ]);

    const subs = expectResult(await pubsub(juliet, "get", "<subscriptions node='keep'/>")).getChild("pubsub", NS)!.getChild("subscriptions")!;
    expect(subs.childElements("subscription")).toHaveLength(2);

    expect(itemIds(expectResult(await pubsub(juliet, "get", "<items node='keep' subid='" + subs.childElements("subscription")[0].attrs.subid + "'/>")))).toEqual(["b", "c", "d"]);

    // The subscriptions work: Romeo (publisher) publishes, Juliet hears it once, with a body for the include_body one.
    expectResult(await publish(romeo, "keep", "e"));
    const msg = await nextMessage(juliet);
    expect(eventOf(msg).getChild("items")!.getChild("item")!.attrs.id).toBe("e");
    expect(msg.getChildText("body")).toBe("To be, or not to be");

    const nodes = expectResult(await admin.iq("<iq type='get' to='pubsub.localhost' id='dl'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"));
    expect(nodes.getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item").map((i) => i.attrs.node).sort()).toEqual(["keep", "second"]);
    for (const c of [admin, juliet, romeo]) c.close();
  });

  it("publishes in flight together: each result after its notification, in order, every acknowledged item stored", async () => {
    let admin = await login(ts, "admin", "storm");
    const romeo = await login(ts, "romeo", "storm");
    await createNode(admin, "storm", { "pubsub#max_items": "40" });
    expectResult(await subscribe(romeo, "storm"));
    expectResult(await subscribe(admin, "storm"));
    // 60 publishes sent at once: the node's items go to disk in a few rounds, not one by one.
    for (let k = 0; k < 60; k++) {
      admin.send(`<iq type='set' to='pubsub.localhost' id='storm${k}'><pubsub xmlns='${NS}'><publish node='storm'><item id='s${k}'><x xmlns='urn:test'/></item></publish></pubsub></iq>`);
    }
    // The publisher is subscribed: each notification reaches it before the result of its publish.
    const seen: string[] = [];
    const results: string[] = [];
    while (results.length < 60) {
      const el = await admin.next(20000);
      if (el.name === "message") seen.push(eventOf(el).getChild("items")!.getChild("item")!.attrs.id!);
      else if (el.name === "iq") {
        expect(el.attrs.type).toBe("result");
        const k = Number(el.attrs.id!.slice(5));
        expect(seen, `notification of s${k} before its result`).toContain(`s${k}`);
        results.push(el.attrs.id!);
      }
    }
    expect(seen).toEqual(Array.from({ length: 60 }, (_, k) => `s${k}`));
    expect(results).toEqual(Array.from({ length: 60 }, (_, k) => `storm${k}`)); // results in request order
    const romeoSaw: string[] = [];
    while (romeoSaw.length < 60) romeoSaw.push(eventOf(await nextMessage(romeo, 20000)).getChild("items")!.getChild("item")!.attrs.id!);
    expect(romeoSaw).toEqual(seen);
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='storm'/>")))).toHaveLength(40);
    admin.close();
    romeo.close();
    ts = await ts.restart();
    admin = await login(ts, "admin", "storm");
    const kept = itemIds(expectResult(await pubsub(admin, "get", "<items node='storm'/>")));
    expect([...kept].sort()).toEqual(Array.from({ length: 40 }, (_, k) => `s${k + 20}`).sort());
    expectResult(await owner(admin, "set", "<delete node='storm'/>"));
    admin.close();
  });

  it("a read sent behind publishes in flight is answered after them, and sees their items", async () => {
    const admin = await login(ts, "admin", "reads");
    await createNode(admin, "behind", { "pubsub#max_items": "50" });
    for (let k = 0; k < 20; k++) {
      admin.send(`<iq type='set' to='pubsub.localhost' id='pub${k}'><pubsub xmlns='${NS}'><publish node='behind'><item id='b${k}'><x xmlns='urn:test'/></item></publish></pubsub></iq>`);
    }
    admin.send(`<iq type='get' to='pubsub.localhost' id='read'><pubsub xmlns='${NS}'><items node='behind'/></pubsub></iq>`);
    admin.send(`<iq type='get' to='pubsub.localhost' id='disco'><query xmlns='http://jabber.org/protocol/disco#items' node='behind'/></iq>`);
    // Reads nothing of the node: still answered after the replies before it.
    admin.send(`<iq type='get' to='pubsub.localhost' id='info'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const order: string[] = [];
    let read: import("../../src/xml/stanza.js").Element | undefined;
    let disco: import("../../src/xml/stanza.js").Element | undefined;
    while (order.length < 23) {
      const el = await admin.next(20000);
      if (el.name !== "iq") continue;
      order.push(el.attrs.id!);
      if (el.attrs.id === "read") read = el;
      if (el.attrs.id === "disco") disco = el;
    }
    expect(order).toEqual([...Array.from({ length: 20 }, (_, k) => `pub${k}`), "read", "disco", "info"]);
    expect([...itemIds(expectResult(read!))].sort()).toEqual(Array.from({ length: 20 }, (_, k) => `b${k}`).sort());
    expect(expectResult(disco!).getChild("query", "http://jabber.org/protocol/disco#items")!.childElements("item")).toHaveLength(20);
    expectResult(await owner(admin, "set", "<delete node='behind'/>"));
    admin.close();
  });

  it("an acknowledged publish is on disk even if the server stops right after", async () => {
    let admin = await login(ts, "admin", "desk");
    await createNode(admin, "quick");
    const acked = expectResult(await publish(admin, "quick", "just-now"));
    expect(acked.getChild("pubsub", NS)!.getChild("publish")!.getChild("item")!.attrs.id).toBe("just-now");
    admin.close();
    ts = await ts.restart();
    admin = await login(ts, "admin", "desk");
    expect(itemIds(expectResult(await pubsub(admin, "get", "<items node='quick'/>")))).toEqual(["just-now"]);
    expectResult(await owner(admin, "set", "<delete node='quick'/>"));
    admin.close();
    ts = await ts.restart();
    admin = await login(ts, "admin", "desk");
    expect((await pubsub(admin, "get", "<items node='quick'/>")).attrs.type).toBe("error");
    admin.close();
  });
});
