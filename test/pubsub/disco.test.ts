// Service discovery of the pubsub component (XEP-0060 §5): the identity and the exact feature list
// (derived from the configuration: auto-create and last-published only when enabled), node
// listing with titles, visibility and RSM paging, node info with the meta-data form, node items,
// and the ad-hoc command list.
//
// Where each advertised feature is backed (XEP-0060 §10 names), by test file:
//   access-open/-whitelist/-presence/-roster/-authorize: access.test.ts; auto-create: below and
//   persistence; config-node, config-node-max, create-and-configure, create-nodes, instant-nodes,
//   delete-nodes, purge-nodes, retrieve-default: nodes.test.ts; delete-items, retract-items, item-ids,
//   multi-items, persistent-items, publish, publish-options, publish-node-full, retrieve-items, rsm:
//   items.test.ts; subscribe, subscription-options, retrieve-default-sub, retrieve-subscriptions,
//   retrieve-affiliations, multi-subscribe, leased-subscription, manage-subscriptions,
//   modify-affiliations, member/outcast/publisher/publish-only-affiliation,
//   subscription-notifications: subscriptions.test.ts; get-pending, presence-notifications,
//   last-published: access.test.ts; meta-data: below. auto-subscribe, filtered-notifications and
//   presence-subscribe belong to PEP (a pubsub service on an account, XEP-0163) and are not
//   advertised by the component.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { NS_DATA, createNode, errorOf, expectResult, formFields, login, publish, startPubsubServer } from "./helpers.js";

const INFO = "http://jabber.org/protocol/disco#info";
const ITEMS = "http://jabber.org/protocol/disco#items";
const P = "http://jabber.org/protocol/pubsub#";

const COMPONENT_FEATURES = [
  INFO,
  ITEMS,
  "http://jabber.org/protocol/pubsub",
  "urn:xmpp:mam:2", // XEP-0313 archive queries on nodes
  ...[
    "access-authorize",
    "access-open",
    "access-presence",
    "access-roster",
    "access-whitelist",
    "config-node",
    "config-node-max",
    "create-and-configure",
    "create-nodes",
    "delete-items",
    "delete-nodes",
    "get-pending",
    "instant-nodes",
    "item-ids",
    "leased-subscription",
    "manage-subscriptions",
    "member-affiliation",
    "meta-data",
    "modify-affiliations",
    "multi-items",
    "multi-subscribe",
    "outcast-affiliation",
    "persistent-items",
    "presence-notifications",
    "publish",
    "publish-node-full",
    "publish-only-affiliation",
    "publish-options",
    "publisher-affiliation",
    "purge-nodes",
    "retract-items",
    "retrieve-affiliations",
    "retrieve-default",
    "retrieve-default-sub",
    "retrieve-items",
    "retrieve-subscriptions",
    "rsm",
    "subscribe",
    "subscription-notifications",
    "subscription-options",
  ].map((f) => P + f),
  "http://jabber.org/protocol/rsm",
  "http://jabber.org/protocol/commands",
];

let ts: TestServer;
let admin: RawClient;
let romeo: RawClient;

beforeAll(async () => {
  ts = await startPubsubServer({}, ["romeo"]);
  admin = await login(ts, "admin", "desk");
  romeo = await login(ts, "romeo", "orchard");
});
afterAll(() => ts?.stop());

let n = 0;
const disco = (c: RawClient, ns: string, attrs = "", body = "") => c.iq(`<iq type='get' to='pubsub.localhost' id='d${++n}'><query xmlns='${ns}'${attrs}>${body}</query></iq>`);
const query = (r: Element, ns: string) => expectResult(r).getChild("query", ns)!;

describe("the service (§5.1)", () => {
  it("identity pubsub/service and exactly the features it backs", async () => {
    const q = query(await disco(romeo, INFO), INFO);
    expect(q.getChild("identity")!.attrs).toEqual({ category: "pubsub", type: "service", name: "Herald PubSub Service" });
    const features = q.childElements("feature").map((f) => f.attrs.var);
    expect([...features].sort()).toEqual([...COMPONENT_FEATURES].sort());
    expect(new Set(features).size).toBe(features.length);
    // Not enabled in this configuration:
    expect(features).not.toContain(`${P}auto-create`);
    expect(features).not.toContain(`${P}last-published`);
  });

  it("auto-create and last-published appear when enabled, and work", async () => {
    const other = await startPubsubServer({
      component: 'autocreate_on_publish = true\npubsub_create_node = "local"\nnode_defaults = { send_last_published_item = "on_sub_and_presence" }',
    }, ["romeo"]);
    try {
      const c = await login(other, "romeo", "x");
      const features = query(await disco(c, INFO), INFO).childElements("feature").map((f) => f.attrs.var);
      expect(features).toContain(`${P}auto-create`);
      expect(features).toContain(`${P}last-published`);
      // §7.1.4: publishing to a missing node creates it, with the new defaults.
      expectResult(await publish(c, "auto1", "1"));
      const conf = expectResult(await c.iq("<iq type='get' to='pubsub.localhost' id='ac1'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='auto1'/></pubsub></iq>"));
      const form = formFields(conf.getChild("pubsub", "http://jabber.org/protocol/pubsub#owner")!.getChild("configure")!.getChild("x", NS_DATA)!);
      expect(form.get("pubsub#send_last_published_item")).toEqual(["on_sub_and_presence"]);
      c.close();
    } finally {
      await other.stop();
    }
  });
});

describe("nodes (§5.2-§5.5)", () => {
  it("lists the nodes with their titles; nodes an entity may not see are left out", async () => {
    await createNode(admin, "dn-a", { "pubsub#title": "Alpha" });
    await createNode(admin, "dn-b");
    await createNode(admin, "dn-secret", { "pubsub#access_model": "whitelist" });
    const items = (c: RawClient) => disco(c, ITEMS).then((r) => query(r, ITEMS).childElements("item").map((i) => i.attrs));
    const seenByRomeo = await items(romeo);
    expect(seenByRomeo).toContainEqual({ jid: "pubsub.localhost", node: "dn-a", name: "Alpha" });
    expect(seenByRomeo).toContainEqual({ jid: "pubsub.localhost", node: "dn-b" });
    expect(seenByRomeo.map((i) => i.node)).not.toContain("dn-secret");
    expect((await items(admin)).map((i) => i.node)).toContain("dn-secret");
  });

  it("pages the node list with RSM", async () => {
    const r = query(await disco(romeo, ITEMS, "", "<set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set>"), ITEMS);
    expect(r.childElements("item")).toHaveLength(1);
    const set = r.getChild("set", "http://jabber.org/protocol/rsm")!;
    const first = set.getChildText("first")!;
    const next = query(await disco(romeo, ITEMS, "", `<set xmlns='http://jabber.org/protocol/rsm'><max>1</max><after>${first}</after></set>`), ITEMS);
    expect(next.childElements("item")[0].attrs.node).not.toBe(first);
    expect(Number(set.getChildText("count"))).toBeGreaterThanOrEqual(2);
  });

  it("a node's info: identity pubsub/leaf and the meta-data form (§5.4)", async () => {
    await createNode(admin, "dn-meta", { "pubsub#title": "Princely Musings", "pubsub#description": "Atom feed" });
    const q = query(await disco(romeo, INFO, " node='dn-meta'"), INFO);
    expect(q.attrs.node).toBe("dn-meta");
    expect(q.getChild("identity")!.attrs).toEqual({ category: "pubsub", type: "leaf" });
    const form = formFields(q.getChild("x", NS_DATA)!);
    expect(form.get("FORM_TYPE")).toEqual(["http://jabber.org/protocol/pubsub#meta-data"]);
    expect(form.get("pubsub#title")).toEqual(["Princely Musings"]);
    expect(form.get("pubsub#description")).toEqual(["Atom feed"]);
    expect(form.get("pubsub#access_model")).toEqual(["open"]);
    expect(form.get("pubsub#owner")).toEqual(["admin@localhost"]);
    expect(form.get("pubsub#creator")).toEqual(["admin@localhost"]);
    expect(form.get("pubsub#num_subscribers")).toEqual(["0"]);
    expect(errorOf(await disco(romeo, INFO, " node='no-such'"))).toMatchObject({ condition: "item-not-found" });
  });

  it("a node's items, named by id, without node attribute (§5.5), pageable", async () => {
    await createNode(admin, "dn-items");
    for (const id of ["x", "y", "z"]) expectResult(await publish(admin, "dn-items", id));
    const q = query(await disco(romeo, ITEMS, " node='dn-items'"), ITEMS);
    expect(q.childElements("item").map((i) => i.attrs)).toEqual([
      { jid: "pubsub.localhost", name: "x" },
      { jid: "pubsub.localhost", name: "y" },
      { jid: "pubsub.localhost", name: "z" },
    ]);
    const paged = query(await disco(romeo, ITEMS, " node='dn-items'", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set>"), ITEMS);
    expect(paged.childElements("item").map((i) => i.attrs.name)).toEqual(["y", "z"]);
    await createNode(admin, "dn-closed", { "pubsub#access_model": "whitelist" });
    expect(errorOf(await disco(romeo, ITEMS, " node='dn-closed'"))).toMatchObject({ app: "closed-node" });
  });

  it("the command list offers get-pending (XEP-0050)", async () => {
    const q = query(await disco(romeo, ITEMS, " node='http://jabber.org/protocol/commands'"), ITEMS);
    expect(q.childElements("item").map((i) => i.attrs.node)).toEqual(["http://jabber.org/protocol/pubsub#get-pending"]);
    const info = query(await disco(romeo, INFO, " node='http://jabber.org/protocol/pubsub#get-pending'"), INFO);
    expect(info.getChild("identity")!.attrs).toMatchObject({ category: "automation", type: "command-node" });
  });
});
