// Subscriptions on a real server: subscribe (§6.1) and unsubscribe (§6.2) with their errors,
// requests on behalf of another JID, subscription options (§6.3, §6.4) incl. include_body and
// leases (§12.18), multiple subscriptions with subids (§6.1.6) and SHIM headers, own
// subscriptions and affiliations (§5.6, §5.7), and the owner's management of subscriptions (§8.8)
// and affiliations (§8.9).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import {
  NS,
  NS_DATA,
  NS_OWNER,
  createNode,
  errorOf,
  eventOf,
  expectResult,
  formFields,
  login,
  nextMessage,
  noMessage,
  owner,
  publish,
  pubsub,
  startPubsubServer,
  submitForm,
  subscribe,
} from "./helpers.js";

let ts: TestServer;
let admin: RawClient;
let romeo: RawClient;
let juliet: RawClient;
let nurse: RawClient;

const OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options";

beforeAll(async () => {
  ts = await startPubsubServer({ component: "pubsub_sweep_interval = 0.2" }, ["romeo", "juliet", "nurse"]);
  admin = await login(ts, "admin", "desk");
  romeo = await login(ts, "romeo", "orchard");
  juliet = await login(ts, "juliet", "balcony");
  nurse = await login(ts, "nurse", "chamber");
});
afterAll(() => ts?.stop());

function subscriptionOf(r: Element): Record<string, string> {
  return expectResult(r).getChild("pubsub", NS)!.getChild("subscription")!.attrs;
}

describe("subscribe and unsubscribe (§6.1, §6.2)", () => {
  it("result carries the subscription (no subid with one subscription); unsubscribe answers state none", async () => {
    await createNode(admin, "s1");
    expect(subscriptionOf(await subscribe(juliet, "s1"))).toEqual({ node: "s1", jid: juliet.jid, subscription: "subscribed" });
    expect(subscriptionOf(await pubsub(juliet, "set", `<unsubscribe node='s1' jid='${juliet.jid}'/>`))).toEqual({
      node: "s1",
      jid: juliet.jid,
      subscription: "none",
    });
    expectResult(await publish(admin, "s1", "1"));
    await noMessage(juliet);
  });

  it("a bare JID subscription reaches the account (headline to available resources)", async () => {
    await createNode(admin, "s2");
    juliet.send("<presence/>");
    await new Promise((r) => setTimeout(r, 100));
    expectResult(await subscribe(juliet, "s2", "juliet@localhost"));
    expectResult(await publish(admin, "s2", "1"));
    const msg = await nextMessage(juliet);
    expect(msg.attrs.to).toBe("juliet@localhost");
    juliet.send("<presence type='unavailable'/>");
  });

  it("on behalf of another JID: bad-request + invalid-jid; unsubscribing another: forbidden", async () => {
    await createNode(admin, "s3");
    expect(errorOf(await subscribe(juliet, "s3", romeo.jid))).toMatchObject({ type: "modify", condition: "bad-request", app: "invalid-jid" });
    expectResult(await subscribe(romeo, "s3"));
    expect(errorOf(await pubsub(juliet, "set", `<unsubscribe node='s3' jid='${romeo.jid}'/>`))).toMatchObject({ type: "auth", condition: "forbidden" });
  });

  it("an owner (admin) may subscribe and unsubscribe others", async () => {
    await createNode(admin, "s4");
    expect(subscriptionOf(await subscribe(admin, "s4", romeo.jid))).toMatchObject({ jid: romeo.jid, subscription: "subscribed" });
    expectResult(await publish(admin, "s4", "1"));
    expect(eventOf(await nextMessage(romeo)).getChild("items")!.attrs.node).toBe("s4");
    expectResult(await pubsub(admin, "set", `<unsubscribe node='s4' jid='${romeo.jid}'/>`));
  });

  it("errors: no jid -> jid-required; a malformed jid -> invalid-jid; no node -> nodeid-required; unknown -> item-not-found", async () => {
    await createNode(admin, "s5");
    expect(errorOf(await pubsub(juliet, "set", "<subscribe node='s5'/>"))).toMatchObject({ condition: "bad-request", app: "jid-required" });
    expect(errorOf(await pubsub(juliet, "set", "<subscribe node='s5' jid='@@'/>"))).toMatchObject({ condition: "bad-request", app: "invalid-jid" });
    expect(errorOf(await pubsub(juliet, "set", `<subscribe jid='${juliet.jid}'/>`))).toMatchObject({ app: "nodeid-required" });
    expect(errorOf(await subscribe(juliet, "s-none"))).toMatchObject({ type: "cancel", condition: "item-not-found" });
  });

  it("unsubscribing without a subscription: unexpected-request + not-subscribed", async () => {
    await createNode(admin, "s6");
    expect(errorOf(await pubsub(juliet, "set", `<unsubscribe node='s6' jid='${juliet.jid}'/>`))).toMatchObject({
      condition: "unexpected-request",
      app: "not-subscribed",
    });
  });

  it("subscribing twice with the same options keeps one subscription", async () => {
    await createNode(admin, "s7");
    expectResult(await subscribe(juliet, "s7"));
    expect(subscriptionOf(await subscribe(juliet, "s7")).subid).toBeUndefined();
    expectResult(await publish(admin, "s7", "1"));
    await nextMessage(juliet);
    await noMessage(juliet);
  });
});

describe("multiple subscriptions (§6.1.6)", () => {
  it("different options make a second subscription, told apart by subid everywhere", async () => {
    await createNode(admin, "ms1");
    expectResult(await subscribe(juliet, "ms1"));
    const second = subscriptionOf(
      await pubsub(juliet, "set", `<subscribe node='ms1' jid='${juliet.jid}'/><options>${submitForm(OPTIONS, { "pubsub#include_body": "1" })}</options>`),
    );
    expect(second.subid).toBeTruthy();
    const own = expectResult(await pubsub(juliet, "get", "<subscriptions node='ms1'/>"));
    const subids = own.getChild("pubsub", NS)!.getChild("subscriptions")!.childElements("subscription").map((s) => s.attrs.subid);
    expect(subids).toHaveLength(2);
    expect(subids).toContain(second.subid);
    // One notification for the JID, naming both subscriptions in SHIM headers (XEP-0131).
    expectResult(await publish(admin, "ms1", "1"));
    const msg = await nextMessage(juliet);
    const headers = msg.getChild("headers", "http://jabber.org/protocol/shim")!.childElements("header");
    expect(headers.map((h) => h.attrs.name)).toEqual(["SubID", "SubID"]);
    expect(headers.map((h) => h.getText()).sort()).toEqual([...subids].sort());
    await noMessage(juliet);
    // Without subid the request is ambiguous; a foreign subid is invalid.
    expect(errorOf(await pubsub(juliet, "set", `<unsubscribe node='ms1' jid='${juliet.jid}'/>`))).toMatchObject({
      condition: "bad-request",
      app: "subid-required",
    });
    expect(errorOf(await pubsub(juliet, "set", `<unsubscribe node='ms1' jid='${juliet.jid}' subid='nope'/>`))).toMatchObject({
      condition: "not-acceptable",
      app: "invalid-subid",
    });
    expect(errorOf(await pubsub(juliet, "get", "<items node='ms1'/>"))).toMatchObject({ app: "subid-required" });
    const gone = subscriptionOf(await pubsub(juliet, "set", `<unsubscribe node='ms1' jid='${juliet.jid}' subid='${second.subid}'/>`));
    expect(gone).toEqual({ node: "ms1", jid: juliet.jid, subscription: "none", subid: second.subid });
  });
});

describe("subscription options (§6.3, §6.4)", () => {
  it("reads the options form and changes it; include_body adds a body (§12.2)", async () => {
    await createNode(admin, "o1");
    expectResult(await subscribe(juliet, "o1"));
    const got = expectResult(await pubsub(juliet, "get", `<options node='o1' jid='${juliet.jid}'/>`));
    const form = formFields(got.getChild("pubsub", NS)!.getChild("options")!.getChild("x", NS_DATA)!);
    expect(form.get("FORM_TYPE")).toEqual([OPTIONS]);
    expect(form.get("pubsub#deliver")).toEqual(["1"]);
    expect(form.get("pubsub#include_body")).toEqual(["0"]);
    expectResult(await pubsub(juliet, "set", `<options node='o1' jid='${juliet.jid}'>${submitForm(OPTIONS, { "pubsub#include_body": "true" })}</options>`));
    expectResult(await publish(admin, "o1", "1"));
    expect((await nextMessage(juliet)).getChildText("body")).toBe("To be, or not to be");
  });

  it("pubsub#deliver off: no notifications until turned on again", async () => {
    await createNode(admin, "o2");
    expectResult(await subscribe(juliet, "o2"));
    expectResult(await pubsub(juliet, "set", `<options node='o2' jid='${juliet.jid}'>${submitForm(OPTIONS, { "pubsub#deliver": "0" })}</options>`));
    expectResult(await publish(admin, "o2", "1"));
    await noMessage(juliet);
  });

  it("subscribe and configure in one request returns the options (§6.3.7)", async () => {
    await createNode(admin, "o3");
    const r = expectResult(
      await pubsub(juliet, "set", `<subscribe node='o3' jid='${juliet.jid}'/><options>${submitForm(OPTIONS, { "pubsub#include_body": "1" })}</options>`),
    );
    const x = r.getChild("pubsub", NS)!.getChild("options")!.getChild("x", NS_DATA)!;
    expect(x.attrs.type).toBe("result");
    expect(formFields(x).get("pubsub#include_body")).toEqual(["1"]);
    const bad = await pubsub(juliet, "set", `<subscribe node='o3' jid='${juliet.jid}'/><options node='o3'>${submitForm(OPTIONS, {})}</options>`);
    expect(errorOf(bad)).toMatchObject({ condition: "bad-request" });
  });

  it("invalid options: bad-request + invalid-options; not subscribed: not-subscribed; another's: forbidden", async () => {
    await createNode(admin, "o4");
    expectResult(await subscribe(juliet, "o4"));
    const bad = await pubsub(juliet, "set", `<options node='o4' jid='${juliet.jid}'>${submitForm(OPTIONS, { "pubsub#include_body": "perhaps" })}</options>`);
    expect(errorOf(bad)).toMatchObject({ condition: "bad-request", app: "invalid-options" });
    const unknown = await pubsub(juliet, "set", `<options node='o4' jid='${juliet.jid}'>${submitForm(OPTIONS, { "pubsub#digest": "1" })}</options>`);
    expect(errorOf(unknown)).toMatchObject({ app: "invalid-options" });
    expect(errorOf(await pubsub(romeo, "get", `<options node='o4' jid='${romeo.jid}'/>`))).toMatchObject({ condition: "unexpected-request", app: "not-subscribed" });
    expect(errorOf(await pubsub(romeo, "get", `<options node='o4' jid='${juliet.jid}'/>`))).toMatchObject({ condition: "forbidden" });
    expect(errorOf(await pubsub(juliet, "get", "<options node='o4'/>"))).toMatchObject({ app: "jid-required" });
  });

  it("default subscription options of the service and of a node (§6.4)", async () => {
    await createNode(admin, "o5");
    for (const body of ["<default/>", "<default node='o5'/>"]) {
      const r = expectResult(await pubsub(juliet, "get", body));
      const fields = formFields(r.getChild("pubsub", NS)!.getChild("default")!.getChild("x", NS_DATA)!);
      expect(fields.get("FORM_TYPE")).toEqual([OPTIONS]);
      expect(fields.get("pubsub#deliver")).toEqual(["1"]);
    }
    expect(errorOf(await pubsub(juliet, "get", "<default node='o-none'/>"))).toMatchObject({ condition: "item-not-found" });
  });

  it("a lease ends at pubsub#expire and the subscriber is told (§12.18)", async () => {
    await createNode(admin, "o6");
    const expire = new Date(Date.now() + 700).toISOString();
    const r = await pubsub(juliet, "set", `<subscribe node='o6' jid='${juliet.jid}'/><options>${submitForm(OPTIONS, { "pubsub#expire": expire })}</options>`);
    expectResult(r);
    const ended = eventOf(await nextMessage(juliet, 3000)).getChild("subscription")!;
    expect(ended.attrs).toMatchObject({ node: "o6", jid: juliet.jid, subscription: "none" });
    expectResult(await publish(admin, "o6", "1"));
    await noMessage(juliet);
  });
});

describe("own subscriptions and affiliations (§5.6, §5.7)", () => {
  it("lists every subscription of the bare JID, on all nodes or one", async () => {
    await createNode(admin, "own1");
    await createNode(admin, "own2");
    const other = await login(ts, "nurse", "garden");
    expectResult(await subscribe(nurse, "own1"));
    expectResult(await subscribe(other, "own2"));
    const all = expectResult(await pubsub(nurse, "get", "<subscriptions/>")).getChild("pubsub", NS)!.getChild("subscriptions")!;
    expect(all.childElements("subscription").map((s) => [s.attrs.node, s.attrs.jid])).toEqual([
      ["own1", nurse.jid],
      ["own2", other.jid],
    ]);
    const one = expectResult(await pubsub(nurse, "get", "<subscriptions node='own2'/>")).getChild("pubsub", NS)!.getChild("subscriptions")!;
    expect(one.attrs.node).toBe("own2");
    expect(one.childElements("subscription")).toHaveLength(1);
    other.close();
  });

  it("lists the entity's affiliations", async () => {
    await createNode(admin, "aff1");
    expectResult(await owner(admin, "set", "<affiliations node='aff1'><affiliation jid='nurse@localhost' affiliation='publisher'/></affiliations>"));
    await noMessage(nurse);
    const list = expectResult(await pubsub(nurse, "get", "<affiliations/>")).getChild("pubsub", NS)!.getChild("affiliations")!;
    expect(list.childElements("affiliation").map((a) => a.attrs)).toContainEqual({ node: "aff1", affiliation: "publisher" });
    const none = expectResult(await pubsub(romeo, "get", "<affiliations node='aff1'/>")).getChild("pubsub", NS)!.getChild("affiliations")!;
    expect(none.childElements("affiliation")).toEqual([]);
  });
});

describe("owner: manage subscriptions (§8.8)", () => {
  it("lists, adds (the subscriber is told) and removes subscriptions", async () => {
    await createNode(admin, "mg1");
    expectResult(await subscribe(juliet, "mg1"));
    const list = expectResult(await owner(admin, "get", "<subscriptions node='mg1'/>")).getChild("pubsub", NS_OWNER)!.getChild("subscriptions")!;
    expect(list.childElements("subscription").map((s) => s.attrs)).toEqual([{ jid: juliet.jid, subscription: "subscribed" }]);
    expectResult(await owner(admin, "set", `<subscriptions node='mg1'><subscription jid='${romeo.jid}' subscription='subscribed'/></subscriptions>`));
    expect(eventOf(await nextMessage(romeo)).getChild("subscription")!.attrs).toMatchObject({ node: "mg1", jid: romeo.jid, subscription: "subscribed" });
    expectResult(await owner(admin, "set", `<subscriptions node='mg1'><subscription jid='${juliet.jid}' subscription='none'/></subscriptions>`));
    expect(eventOf(await nextMessage(juliet)).getChild("subscription")!.attrs).toMatchObject({ subscription: "none" });
    expectResult(await publish(admin, "mg1", "1"));
    await nextMessage(romeo);
    await noMessage(juliet);
  });

  it("entries that cannot be applied come back with their current state (not-acceptable)", async () => {
    await createNode(admin, "mg2");
    const r = await owner(admin, "set", `<subscriptions node='mg2'><subscription jid='${juliet.jid}' subid='bogus' subscription='subscribed'/></subscriptions>`);
    expect(errorOf(r)).toMatchObject({ condition: "not-acceptable" });
    const failed = r.getChild("pubsub", NS_OWNER)!.getChild("subscriptions")!.childElements("subscription");
    expect(failed.map((s) => s.attrs)).toEqual([{ jid: juliet.jid, subscription: "none", subid: "bogus" }]);
    expect(errorOf(await owner(admin, "set", `<subscriptions node='mg2'><subscription jid='${juliet.jid}' subscription='maybe'/></subscriptions>`))).toMatchObject({
      condition: "bad-request",
    });
  });

  const GET_PENDING = "http://jabber.org/protocol/pubsub#get-pending";
  const AUTH_FORM = "http://jabber.org/protocol/pubsub#subscribe_authorization";
  const CMDS = "http://jabber.org/protocol/commands";
  const stateChange = async (c: RawClient) => eventOf(await nextMessage(c)).getChild("subscription")!.attrs;
  const listOf = async (node: string) =>
    expectResult(await owner(admin, "get", `<subscriptions node='${node}'/>`))
      .getChild("pubsub", NS_OWNER)!
      .getChild("subscriptions")!
      .childElements("subscription")
      .map((s) => s.attrs);

  it("pending: the subscriber is told, gets nothing, leaves the list; get-pending offers it and approval restores delivery", async () => {
    await createNode(admin, "mg4");
    expectResult(await subscribe(juliet, "mg4"));
    expectResult(await owner(admin, "set", `<subscriptions node='mg4'><subscription jid='${juliet.jid}' subscription='pending'/></subscriptions>`));
    expect(await stateChange(juliet)).toMatchObject({ node: "mg4", jid: juliet.jid, subscription: "pending" });
    // §8.8.1: pending subscriptions are not listed (they are the business of §8.7).
    expect(await listOf("mg4")).toEqual([]);
    expectResult(await publish(admin, "mg4", "1"));
    await noMessage(juliet);
    expect(errorOf(await subscribe(juliet, "mg4"))).toMatchObject({ condition: "not-authorized", app: "pending-subscription" });
    // §8.7: the owner finds the request and gets its authorization form; approving it (§8.6) ends the wait.
    const first = expectResult(await admin.iq(`<iq type='set' to='pubsub.localhost' id='mgp1'><command xmlns='${CMDS}' node='${GET_PENDING}' action='execute'/></iq>`));
    const cmd = first.getChild("command", CMDS)!;
    const offered = cmd.getChild("x", NS_DATA)!.childElements("field").find((f) => f.attrs.var === "pubsub#node")!;
    expect(offered.childElements("option").map((o) => o.getChildText("value"))).toContain("mg4");
    expectResult(
      await admin.iq(`<iq type='set' to='pubsub.localhost' id='mgp2'><command xmlns='${CMDS}' node='${GET_PENDING}' sessionid='${cmd.attrs.sessionid}'>${submitForm(undefined, { "pubsub#node": "mg4" })}</command></iq>`),
    );
    const form = formFields((await nextMessage(admin)).getChild("x", NS_DATA)!);
    expect([form.get("pubsub#node"), form.get("pubsub#subscriber_jid")]).toEqual([["mg4"], [juliet.jid]]);
    admin.send(
      `<message to='pubsub.localhost' id='mgapprove'>${submitForm(AUTH_FORM, {
        "pubsub#subid": form.get("pubsub#subid")![0],
        "pubsub#node": "mg4",
        "pubsub#subscriber_jid": juliet.jid,
        "pubsub#allow": "true",
      })}</message>`,
    );
    expect(await stateChange(juliet)).toMatchObject({ node: "mg4", subscription: "subscribed" });
    expect(await listOf("mg4")).toEqual([{ jid: juliet.jid, subscription: "subscribed" }]);
    expectResult(await publish(admin, "mg4", "2"));
    expect(eventOf(await nextMessage(juliet)).getChild("items")!.getChild("item")!.attrs.id).toBe("2");
  });

  it("unconfigured: listed, told, nothing delivered until the subscriber configures it (§6.1.6), then the last item", async () => {
    await createNode(admin, "mg5", { "pubsub#send_last_published_item": "on_sub" });
    expectResult(await owner(admin, "set", `<subscriptions node='mg5'><subscription jid='${nurse.jid}' subscription='unconfigured'/></subscriptions>`));
    expect(await stateChange(nurse)).toMatchObject({ node: "mg5", jid: nurse.jid, subscription: "unconfigured" });
    expect(await listOf("mg5")).toEqual([{ jid: nurse.jid, subscription: "unconfigured" }]);
    expectResult(await publish(admin, "mg5", "1"));
    await noMessage(nurse);
    // Subscribing again answers with the subscription, and that its configuration is required.
    const again = expectResult(await subscribe(nurse, "mg5")).getChild("pubsub", NS)!.getChild("subscription")!;
    expect(again.attrs).toMatchObject({ node: "mg5", subscription: "unconfigured" });
    expect(again.getChild("subscribe-options")?.getChild("required")).toBeDefined();
    await noMessage(nurse);
    expectResult(await pubsub(nurse, "set", `<options node='mg5' jid='${nurse.jid}'>${submitForm(OPTIONS, { "pubsub#deliver": "true" })}</options>`));
    expect(eventOf(await nextMessage(nurse)).getChild("items")!.getChild("item")!.attrs.id).toBe("1");
    expect(await listOf("mg5")).toEqual([{ jid: nurse.jid, subscription: "subscribed" }]);
    expectResult(await publish(admin, "mg5", "2"));
    expect(eventOf(await nextMessage(nurse)).getChild("items")!.getChild("item")!.attrs.id).toBe("2");
  });

  it("only owners manage subscriptions", async () => {
    await createNode(admin, "mg3");
    expect(errorOf(await owner(juliet, "get", "<subscriptions node='mg3'/>"))).toMatchObject({ condition: "forbidden" });
    expect(errorOf(await owner(juliet, "set", `<subscriptions node='mg3'><subscription jid='${juliet.jid}' subscription='subscribed'/></subscriptions>`))).toMatchObject({
      condition: "forbidden",
    });
    expect(errorOf(await owner(admin, "get", "<subscriptions node='mg-none'/>"))).toMatchObject({ condition: "item-not-found" });
  });
});

describe("owner: manage affiliations (§8.9)", () => {
  it("lists and changes affiliations; the affected entity is told (§8.9.4)", async () => {
    await createNode(admin, "af1");
    romeo.send("<presence/>");
    await new Promise((r) => setTimeout(r, 100));
    expectResult(await owner(admin, "set", "<affiliations node='af1'><affiliation jid='romeo@localhost' affiliation='publisher'/></affiliations>"));
    let msg = await nextMessage(romeo);
    while (msg.getChild("pubsub", NS) === undefined) msg = await nextMessage(romeo);
    expect(msg.getChild("pubsub", NS)!.getChild("affiliations")!.getChild("affiliation")!.attrs).toEqual({ jid: "romeo@localhost", affiliation: "publisher" });
    romeo.send("<presence type='unavailable'/>");
    const list = expectResult(await owner(admin, "get", "<affiliations node='af1'/>")).getChild("pubsub", NS_OWNER)!.getChild("affiliations")!;
    expect(list.childElements("affiliation").map((a) => a.attrs)).toEqual([
      { jid: "admin@localhost", affiliation: "owner" },
      { jid: "romeo@localhost", affiliation: "publisher" },
    ]);
    expectResult(await publish(romeo, "af1", "r1"));
  });

  it("outcast: subscriptions end, subscribing and retrieving are forbidden", async () => {
    await createNode(admin, "af2");
    expectResult(await subscribe(juliet, "af2"));
    expectResult(await owner(admin, "set", "<affiliations node='af2'><affiliation jid='juliet@localhost' affiliation='outcast'/></affiliations>"));
    expect(eventOf(await nextMessage(juliet)).getChild("subscription")!.attrs.subscription).toBe("none");
    expect(errorOf(await subscribe(juliet, "af2"))).toMatchObject({ type: "auth", condition: "forbidden" });
    expect(errorOf(await pubsub(juliet, "get", "<items node='af2'/>"))).toMatchObject({ condition: "forbidden" });
  });

  it("publish-only: publishes and retracts its own items, may not subscribe or retrieve", async () => {
    await createNode(admin, "af3");
    expectResult(await publish(admin, "af3", "owners"));
    expectResult(await owner(admin, "set", "<affiliations node='af3'><affiliation jid='nurse@localhost' affiliation='publish-only'/></affiliations>"));
    expectResult(await publish(nurse, "af3", "mine"));
    expect(errorOf(await pubsub(nurse, "get", "<items node='af3'/>"))).toMatchObject({ condition: "forbidden" });
    expect(errorOf(await subscribe(nurse, "af3"))).toMatchObject({ condition: "forbidden" });
    expect(errorOf(await pubsub(nurse, "set", "<retract node='af3'><item id='owners'/></retract>"))).toMatchObject({ condition: "forbidden" });
    expectResult(await pubsub(nurse, "set", "<retract node='af3'><item id='mine'/></retract>"));
  });

  it("the last owner stays (not-acceptable, entry returned); duplicates: bad-request; unknown affiliation: unsupported", async () => {
    await createNode(admin, "af4");
    const r = await owner(admin, "set", "<affiliations node='af4'><affiliation jid='admin@localhost' affiliation='member'/></affiliations>");
    expect(errorOf(r)).toMatchObject({ condition: "not-acceptable" });
    expect(r.getChild("pubsub", NS_OWNER)!.getChild("affiliations")!.getChild("affiliation")!.attrs).toEqual({ jid: "admin@localhost", affiliation: "owner" });
    const dup = await owner(admin, "set", "<affiliations node='af4'><affiliation jid='romeo@localhost' affiliation='member'/><affiliation jid='romeo@localhost' affiliation='outcast'/></affiliations>");
    expect(errorOf(dup)).toMatchObject({ condition: "bad-request" });
    const king = await owner(admin, "set", "<affiliations node='af4'><affiliation jid='romeo@localhost' affiliation='king'/></affiliations>");
    expect(errorOf(king)).toMatchObject({ condition: "feature-not-implemented", app: "unsupported", feature: "king-affiliation" });
    expect(errorOf(await owner(romeo, "get", "<affiliations node='af4'/>"))).toMatchObject({ condition: "forbidden" });
  });
});
