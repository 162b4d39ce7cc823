// The component's options: pubsub_create_node, admins of the component, node_defaults,
// autocreate_on_subscribe, expose_publisher (true/false), pubsub_max_items, pubsub_access_models.

import { afterEach, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { NS, NS_DATA, NS_OWNER, createNode, errorOf, eventOf, expectResult, formFields, login, nextMessage, owner, publish, pubsub, startPubsubServer, subscribe } from "./helpers.js";

let ts: TestServer | undefined;
afterEach(async () => {
  await ts?.stop();
  ts = undefined;
});
function user(name: string): Promise<RawClient> {
  return login(ts!, name, "r");
}
async function defaults(c: RawClient): Promise<Map<string, string[]>> {
  const r = expectResult(await owner(c, "get", "<default/>"));
  return formFields(r.getChild("pubsub", NS_OWNER)!.getChild("default")!.getChild("x", NS_DATA)!);
}

describe("who creates nodes", () => {
  it("pubsub_create_node = anyone; the component's own admins own every node", async () => {
    ts = await startPubsubServer({ component: 'pubsub_create_node = "anyone"\nadmins = { "nurse@localhost" }' }, ["romeo", "nurse"]);
    const romeo = await user("romeo");
    const nurse = await user("nurse");
    await createNode(romeo, "mine");
    // The nurse is an admin of this component only: she acts as owner.
    expectResult(await owner(nurse, "get", "<configure node='mine'/>"));
    expectResult(await owner(nurse, "set", "<delete node='mine'/>"));
  });

  it("pubsub_create_node = local: accounts here create, and are owners of what they create only", async () => {
    ts = await startPubsubServer({ component: 'pubsub_create_node = "local"' }, ["romeo", "juliet"]);
    const romeo = await user("romeo");
    const juliet = await user("juliet");
    await createNode(romeo, "r1");
    expect(errorOf(await owner(juliet, "set", "<delete node='r1'/>"))).toMatchObject({ condition: "forbidden" });
  });
});

describe("node defaults and limits", () => {
  it("node_defaults (Prosody and form names) become the defaults; pubsub_max_items bounds max_items", async () => {
    ts = await startPubsubServer({
      component: 'pubsub_max_items = 50\nnode_defaults = { max_items = 7; access_model = "whitelist"; ["pubsub#notify_sub"] = true; include_payload = false }',
    });
    const admin = await user("admin");
    const form = await defaults(admin);
    expect(form.get("pubsub#max_items")).toEqual(["7"]);
    expect(form.get("pubsub#access_model")).toEqual(["whitelist"]);
    expect(form.get("pubsub#notify_sub")).toEqual(["1"]);
    expect(form.get("pubsub#deliver_payloads")).toEqual(["0"]);
    const limit = (n: number) => pubsub(admin, "set", `<create node='x${n}'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>${n}</value></field></x></configure>`);
    expect(errorOf(await limit(51))).toMatchObject({ condition: "not-acceptable" });
    expectResult(await limit(50));
  });

  it("pubsub_access_models limits the models owners may choose (not-acceptable) and the access-* features", async () => {
    ts = await startPubsubServer({ component: 'pubsub_access_models = { "open"; "whitelist" }' });
    const admin = await user("admin");
    await createNode(admin, "n");
    const r = await owner(admin, "set", "<configure node='n'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>roster</value></field></x></configure>");
    expect(errorOf(r)).toMatchObject({ condition: "not-acceptable", app: "unsupported-access-model" });
    const info = expectResult(await admin.iq("<iq type='get' to='pubsub.localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"));
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features.filter((f) => f!.includes("#access-"))).toEqual([
      "http://jabber.org/protocol/pubsub#access-open",
      "http://jabber.org/protocol/pubsub#access-whitelist",
    ]);
  });
});

describe("autocreate and publisher exposure", () => {
  it("autocreate_on_subscribe creates the node for whoever may create", async () => {
    ts = await startPubsubServer({ component: "autocreate_on_subscribe = true" }, ["romeo"]);
    const admin = await user("admin");
    const romeo = await user("romeo");
    expect(errorOf(await subscribe(romeo, "auto"))).toMatchObject({ condition: "item-not-found" });
    expectResult(await subscribe(admin, "auto"));
    expectResult(await subscribe(romeo, "auto"));
  });

  it("expose_publisher = true always names the publisher; false never does, whatever itemreply says", async () => {
    ts = await startPubsubServer({ component: "expose_publisher = true" }, ["romeo"]);
    let admin = await user("admin");
    let romeo = await user("romeo");
    await createNode(admin, "p");
    expectResult(await subscribe(romeo, "p"));
    expectResult(await publish(admin, "p", "1"));
    expect(eventOf(await nextMessage(romeo)).getChild("items")!.getChild("item")!.attrs.publisher).toBe("admin@localhost");
    await ts.stop();

    ts = await startPubsubServer({ component: "expose_publisher = false" }, ["romeo"]);
    admin = await user("admin");
    romeo = await user("romeo");
    await createNode(admin, "p", { "pubsub#itemreply": "publisher" });
    expectResult(await subscribe(romeo, "p"));
    expectResult(await publish(admin, "p", "1"));
    expect(eventOf(await nextMessage(romeo)).getChild("items")!.getChild("item")!.attrs.publisher).toBeUndefined();
    const items = expectResult(await pubsub(romeo, "get", "<items node='p'/>"));
    expect(items.getChild("pubsub", NS)!.getChild("items")!.getChild("item")!.attrs.publisher).toBeUndefined();
  });
});
