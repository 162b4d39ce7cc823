// PEP data on LevelDB: nodes, their configuration, explicit subscriptions and items survive a
// restart; services evicted from the in-memory cache come back from storage; deleting an account
// deletes its PEP data and nobody else's.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import { startTestServer } from "../helpers/harness.js";
import {
  MOOD,
  NS,
  NS_DISCO_ITEMS,
  NS_OWNER,
  TUNE,
  drain,
  errorOf,
  expectResult,
  form,
  login,
  nextId,
  notifications,
  pepConfig,
  publish,
  pubsub,
  subscribe,
  tune,
} from "./helpers.js";
import type { Element } from "../../src/xml/stanza.js";

let ts: TestServer;

function ids(reply: Element): string[] {
  return reply.getChild("pubsub", NS)!.getChild("items")!.childElements("item").map((i) => i.attrs.id ?? "");
}

beforeAll(async () => {
  // One service in memory at a time: every other account's service is rebuilt from storage.
  ts = await startTestServer({ transport: "memory", config: pepConfig({ storage: "leveldb", extra: "pep_service_cache_size = 1" }) });
  for (const u of ["romeo", "juliet", "nurse"]) await ts.addUser(u, "pw");
  await subscribe(ts, "romeo", "juliet");
});
afterAll(() => ts?.stop());

describe("PEP on LevelDB", () => {
  it("keeps nodes, configuration, subscriptions and items across a restart", async () => {
    let romeo = await login(ts, "romeo", "a");
    let juliet = await login(ts, "juliet", "a");
    expectResult(await publish(romeo, TUNE, "t1", tune("Kept")));
    expectResult(
      await pubsub(romeo, "set", `<configure node='${TUNE}'>${form("http://jabber.org/protocol/pubsub#node_config", { "pubsub#title": "Tunes" })}</configure>`, { ns: NS_OWNER }),
    );
    const moodOpts = { "pubsub#max_items": "3", "pubsub#access_model": "open" };
    for (const id of ["m1", "m2", "m3", "m4"]) expectResult(await publish(romeo, MOOD, id, `<mood xmlns='${MOOD}'><happy/></mood>`, moodOpts));
    expectResult(await publish(juliet, TUNE, "j1", tune("Hers")));
    expectResult(await pubsub(juliet, "set", `<subscribe node='${TUNE}' jid='${juliet.jid}'/>`, { to: "romeo@localhost" }));
    await drain(juliet);
    romeo.close();
    juliet.close();

    ts = await ts.restart();
    romeo = await login(ts, "romeo", "a");
    juliet = await login(ts, "juliet", "a");
    expect(ids(expectResult(await pubsub(romeo, "get", `<items node='${TUNE}'/>`)))).toEqual(["t1"]);
    expect(ids(expectResult(await pubsub(romeo, "get", `<items node='${MOOD}'/>`)))).toEqual(["m2", "m3", "m4"]);
    expect(ids(expectResult(await pubsub(juliet, "get", `<items node='${TUNE}'/>`)))).toEqual(["j1"]);
    const disco = expectResult(await juliet.iq(`<iq type='get' id='${nextId()}' to='romeo@localhost'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`));
    expect(disco.getChild("query", NS_DISCO_ITEMS)!.childElements("item").map((i) => i.attrs)).toEqual([
      { jid: "romeo@localhost", node: MOOD },
      { jid: "romeo@localhost", node: TUNE, name: "Tunes" },
    ]);
    // Publish-options must still match the stored configuration.
    const mismatch = await publish(romeo, MOOD, "m5", `<mood xmlns='${MOOD}'><sad/></mood>`, { "pubsub#max_items": "2" });
    expect(errorOf(mismatch)).toMatchObject({ condition: "conflict", text: "Field does not match: max_items" });
    // juliet's explicit subscription survived: the next item reaches her without any caps.
    expectResult(await publish(romeo, TUNE, "t2", tune("After")));
    expect(notifications(await drain(juliet))).toEqual([`romeo@localhost ${TUNE}/t2`]);
    romeo.close();
    juliet.close();
  });

  it("deleting an account deletes its PEP data, and only its own", async () => {
    const nurse = await login(ts, "nurse", "a");
    expectResult(await publish(nurse, TUNE, "n1", tune("Nurse")));
    expectResult(await publish(nurse, "urn:test:private", "p1", "<p xmlns='urn:test:private'/>", { "pubsub#access_model": "whitelist" }));
    nurse.close();
    await ts.server.accounts("localhost").delete("nurse");
    await ts.addUser("nurse", "pw");
    const again = await login(ts, "nurse", "b");
    expect(errorOf(await pubsub(again, "get", `<items node='${TUNE}'/>`))).toMatchObject({ condition: "item-not-found" });
    const disco = expectResult(await again.iq(`<iq type='get' id='${nextId()}'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`));
    expect(disco.getChild("query", NS_DISCO_ITEMS)!.childElements("item")).toEqual([]);
    // A new node of the same name starts empty, with the defaults.
    expectResult(await publish(again, "urn:test:private", "p2", "<p xmlns='urn:test:private'/>"));
    expect(ids(expectResult(await pubsub(again, "get", "<items node='urn:test:private'/>")))).toEqual(["p2"]);
    again.close();

    ts = await ts.restart();
    const romeo = await login(ts, "romeo", "a");
    expect(ids(expectResult(await pubsub(romeo, "get", `<items node='${TUNE}'/>`)))).toEqual(["t2"]);
    const nurse2 = await login(ts, "nurse", "c");
    expect(ids(expectResult(await pubsub(nurse2, "get", "<items node='urn:test:private'/>")))).toEqual(["p2"]);
    expect(errorOf(await pubsub(nurse2, "get", `<items node='${TUNE}'/>`))).toMatchObject({ condition: "item-not-found" });
    romeo.close();
    nurse2.close();
  });
});
