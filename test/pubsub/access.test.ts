// Access models on a real server, with the real roster and presence modules answering through
// events: open, whitelist (§6.1.3.4), presence (§6.1.3.2, incl. an owner that is no local account),
// roster (§6.1.3.3), authorize (§6.1.2 pending, §8.6 approval form, §8.7 get-pending); and
// presence-driven delivery: pubsub#presence_based_delivery, pubsub#show-values, directed presence
// for send_last_published_item = on_sub_and_presence and pubsub#expire = presence.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import {
  NS,
  NS_DATA,
  createNode,
  configure,
  drain,
  errorOf,
  eventOf,
  expectResult,
  formFields,
  itemIds,
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
let juliet: RawClient;
let romeo: RawClient;
let nurse: RawClient;

const AUTH_FORM = "http://jabber.org/protocol/pubsub#subscribe_authorization";
const OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options";

async function rosterSet(c: RawClient, jid: string, groups: string[]): Promise<void> {
  const g = groups.map((x) => `<group>${x}</group>`).join("");
  expectResult(await c.iq(`<iq type='set' id='rs-${jid}'><query xmlns='jabber:iq:roster'><item jid='${jid}'>${g}</item></query></iq>`));
}

beforeAll(async () => {
  ts = await startPubsubServer({ component: 'pubsub_create_node = "local"' }, ["romeo", "juliet", "nurse"]);
  juliet = await login(ts, "juliet", "balcony");
  romeo = await login(ts, "romeo", "orchard");
  nurse = await login(ts, "nurse", "chamber");
  // Juliet's roster: Romeo in "friends" with a presence subscription to her (from), the Nurse in "family".
  await rosterSet(juliet, "romeo@localhost", ["friends"]);
  await rosterSet(juliet, "nurse@localhost", ["family"]);
  romeo.send("<presence type='subscribe' to='juliet@localhost'/>");
  await drain(juliet, 200);
  juliet.send("<presence type='subscribed' to='romeo@localhost'/>");
  await Promise.all([drain(juliet, 200), drain(romeo, 200), drain(nurse, 100)]);
});
afterAll(() => ts?.stop());

describe("whitelist (§6.1.3.4)", () => {
  it("outsiders: not-allowed + closed-node for subscribe and retrieval; members get in", async () => {
    await createNode(juliet, "wl1", { "pubsub#access_model": "whitelist" });
    expect(errorOf(await subscribe(romeo, "wl1"))).toMatchObject({ type: "cancel", condition: "not-allowed", app: "closed-node" });
    expect(errorOf(await pubsub(romeo, "get", "<items node='wl1'/>"))).toMatchObject({ condition: "not-allowed", app: "closed-node" });
    expectResult(await owner(juliet, "set", "<affiliations node='wl1'><affiliation jid='romeo@localhost' affiliation='member'/></affiliations>"));
    await drain(romeo, 100);
    expectResult(await subscribe(romeo, "wl1"));
    expectResult(await pubsub(romeo, "get", "<items node='wl1'/>"));
  });
});

describe("presence (§6.1.3.2)", () => {
  it("a contact with a presence subscription to the owner gets in; others: not-authorized + presence-subscription-required", async () => {
    await createNode(juliet, "pr1", { "pubsub#access_model": "presence" });
    expectResult(await publish(juliet, "pr1", "1"));
    expectResult(await subscribe(romeo, "pr1"));
    expect(itemIds(expectResult(await pubsub(romeo, "get", "<items node='pr1'/>")))).toEqual(["1"]);
    expect(errorOf(await subscribe(nurse, "pr1"))).toMatchObject({ type: "auth", condition: "not-authorized", app: "presence-subscription-required" });
    expect(errorOf(await pubsub(nurse, "get", "<items node='pr1'/>"))).toMatchObject({ app: "presence-subscription-required" });
  });

  it("an owner that is no account here has no roster: nobody has its presence", async () => {
    await createNode(juliet, "pr2", { "pubsub#access_model": "presence" });
    expectResult(
      await owner(juliet, "set", "<affiliations node='pr2'><affiliation jid='ghost@elsewhere.example' affiliation='owner'/><affiliation jid='juliet@localhost' affiliation='none'/></affiliations>"),
    );
    expect(errorOf(await subscribe(romeo, "pr2"))).toMatchObject({ condition: "not-authorized", app: "presence-subscription-required" });
  });
});

describe("roster (§6.1.3.3)", () => {
  it("allowed groups get in, other groups: not-authorized + not-in-roster-group; changing the groups ends subscriptions", async () => {
    await createNode(juliet, "ro1", { "pubsub#access_model": "roster", "pubsub#roster_groups_allowed": ["friends"] });
    expectResult(await subscribe(romeo, "ro1"));
    expect(errorOf(await subscribe(nurse, "ro1"))).toMatchObject({ type: "auth", condition: "not-authorized", app: "not-in-roster-group" });
    expectResult(await configure(juliet, "ro1", { "pubsub#roster_groups_allowed": ["family"] }));
    expect(eventOf(await nextMessage(romeo)).getChild("subscription")!.attrs).toMatchObject({ node: "ro1", subscription: "none" });
    expectResult(await subscribe(nurse, "ro1"));
    expect(errorOf(await pubsub(romeo, "get", "<items node='ro1'/>"))).toMatchObject({ app: "not-in-roster-group" });
  });
});

describe("authorize (§6.1.2, §8.6, §8.7)", () => {
  async function authorizationRequest(): Promise<Map<string, string[]>> {
    for (;;) {
      const msg = await nextMessage(juliet);
      const x = msg.getChild("x", NS_DATA);
      if (x) return formFields(x);
    }
  }

  it("requests are pending; the owner gets the form; approval subscribes and is announced", async () => {
    juliet.send("<presence/>");
    await drain(juliet, 150);
    await createNode(juliet, "au1", { "pubsub#access_model": "authorize" });
    expectResult(await publish(juliet, "au1", "1"));
    const r = expectResult(await subscribe(romeo, "au1"));
    expect(r.getChild("pubsub", NS)!.getChild("subscription")!.attrs).toMatchObject({ node: "au1", subscription: "pending" });
    // §6.5.9.3: a pending subscriber may not retrieve.
    expect(errorOf(await pubsub(romeo, "get", "<items node='au1'/>"))).toMatchObject({ condition: "not-authorized", app: "not-subscribed" });
    expect(errorOf(await subscribe(romeo, "au1"))).toMatchObject({ condition: "not-authorized", app: "pending-subscription" });
    const form = await authorizationRequest();
    expect(form.get("FORM_TYPE")).toEqual([AUTH_FORM]);
    expect(form.get("pubsub#node")).toEqual(["au1"]);
    expect(form.get("pubsub#subscriber_jid")).toEqual([romeo.jid]);
    expect(form.get("pubsub#allow")).toEqual(["0"]);
    // A non-owner cannot answer.
    romeo.send(`<message to='pubsub.localhost' id='fake'>${submitForm(AUTH_FORM, { "pubsub#node": "au1", "pubsub#subscriber_jid": romeo.jid, "pubsub#allow": "true" })}</message>`);
    const refused = await nextMessage(romeo);
    expect(refused.attrs.type).toBe("error");
    expect(errorOf(refused)).toMatchObject({ condition: "forbidden" });
    juliet.send(
      `<message to='pubsub.localhost' id='approve1'>${submitForm(AUTH_FORM, {
        "pubsub#subid": form.get("pubsub#subid")![0],
        "pubsub#node": "au1",
        "pubsub#subscriber_jid": romeo.jid,
        "pubsub#allow": "true",
      })}</message>`,
    );
    expect(eventOf(await nextMessage(romeo)).getChild("subscription")!.attrs).toMatchObject({ node: "au1", jid: romeo.jid, subscription: "subscribed" });
    expect(itemIds(expectResult(await pubsub(romeo, "get", "<items node='au1'/>")))).toEqual(["1"]);
    expectResult(await publish(juliet, "au1", "2"));
    expect(eventOf(await nextMessage(romeo)).getChild("items")!.getChild("item")!.attrs.id).toBe("2");
  });

  it("denial ends the request; a cancelled form leaves it pending; get-pending re-sends the forms", async () => {
    await createNode(juliet, "au2", { "pubsub#access_model": "authorize" });
    expectResult(await subscribe(nurse, "au2"));
    const form = await authorizationRequest();
    juliet.send(`<message to='pubsub.localhost' id='c1'>${submitForm(AUTH_FORM, {}, "cancel")}</message>`);
    await noMessage(nurse);
    // §8.7: the command lists the nodes with requests, then sends their forms again.
    const first = expectResult(await juliet.iq("<iq type='set' to='pubsub.localhost' id='gp1'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending' action='execute'/></iq>"));
    const cmd = first.getChild("command", "http://jabber.org/protocol/commands")!;
    expect(cmd.attrs.status).toBe("executing");
    const choice = cmd.getChild("x", NS_DATA)!.childElements("field").find((f) => f.attrs.var === "pubsub#node")!;
    expect(choice.childElements("option").map((o) => o.getChildText("value"))).toEqual(["au2"]);
    const done = expectResult(
      await juliet.iq(
        `<iq type='set' to='pubsub.localhost' id='gp2'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending' sessionid='${cmd.attrs.sessionid}'>${submitForm(undefined, { "pubsub#node": "au2" })}</command></iq>`,
      ),
    );
    expect(done.getChild("command", "http://jabber.org/protocol/commands")!.attrs.status).toBe("completed");
    const again = await authorizationRequest();
    expect(again.get("pubsub#subscriber_jid")).toEqual([nurse.jid]);
    juliet.send(
      `<message to='pubsub.localhost' id='deny1'>${submitForm(AUTH_FORM, {
        "pubsub#subid": form.get("pubsub#subid")![0],
        "pubsub#node": "au2",
        "pubsub#subscriber_jid": nurse.jid,
        "pubsub#allow": "false",
      })}</message>`,
    );
    expect(eventOf(await nextMessage(nurse)).getChild("subscription")!.attrs).toMatchObject({ node: "au2", subscription: "none" });
    const none = expectResult(await juliet.iq("<iq type='set' to='pubsub.localhost' id='gp3'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending' action='execute'/></iq>"));
    expect(none.getChild("command", "http://jabber.org/protocol/commands")!.attrs.status).toBe("completed");
    // Other users have no approval rights.
    const other = expectResult(await romeo.iq("<iq type='set' to='pubsub.localhost' id='gp4'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending' action='execute'/></iq>"));
    expect(other.getChild("command", "http://jabber.org/protocol/commands")!.attrs.status).toBe("completed");
    expect(errorOf(await romeo.iq(`<iq type='set' to='pubsub.localhost' id='gp5'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/pubsub#get-pending'>${submitForm(undefined, { "pubsub#node": "au2" })}</command></iq>`))).toMatchObject({
      condition: "forbidden",
    });
  });

  it("owners approve through subscription management too (§8.8.2)", async () => {
    await createNode(juliet, "au3", { "pubsub#access_model": "authorize" });
    expectResult(await subscribe(nurse, "au3"));
    await authorizationRequest();
    expectResult(await owner(juliet, "set", `<subscriptions node='au3'><subscription jid='${nurse.jid}' subscription='subscribed'/></subscriptions>`));
    expect(eventOf(await nextMessage(nurse)).getChild("subscription")!.attrs.subscription).toBe("subscribed");
    juliet.send("<presence type='unavailable'/>");
    await drain(juliet, 100);
  });
});

describe("presence-driven delivery", () => {
  async function online(c: RawClient, show?: string): Promise<void> {
    c.send(show === undefined ? "<presence/>" : `<presence><show>${show}</show></presence>`);
    await drain(c, 150);
  }
  async function offline(c: RawClient): Promise<void> {
    c.send("<presence type='unavailable'/>");
    await drain(c, 150);
  }

  it("presence_based_delivery: only available subscribers are notified", async () => {
    await createNode(juliet, "pb1", { "pubsub#presence_based_delivery": "1" });
    expectResult(await subscribe(nurse, "pb1"));
    expectResult(await publish(juliet, "pb1", "while-away"));
    await noMessage(nurse);
    await online(nurse);
    expectResult(await publish(juliet, "pb1", "while-here"));
    expect(eventOf(await nextMessage(nurse)).getChild("items")!.getChild("item")!.attrs.id).toBe("while-here");
    await offline(nurse);
  });

  it("pubsub#show-values: notifications only while the subscriber's show is one of them", async () => {
    await createNode(juliet, "sv1");
    const r = await pubsub(nurse, "set", `<subscribe node='sv1' jid='${nurse.jid}'/><options>${submitForm(OPTIONS, { "pubsub#show-values": ["chat", "online"] })}</options>`);
    expectResult(r);
    await online(nurse, "away");
    expectResult(await publish(juliet, "sv1", "a"));
    await noMessage(nurse);
    await online(nurse, "chat");
    expectResult(await publish(juliet, "sv1", "b"));
    expect(eventOf(await nextMessage(nurse)).getChild("items")!.getChild("item")!.attrs.id).toBe("b");
    await offline(nurse);
  });

  it("on_sub_and_presence: directed presence to the service brings the last item (with a delay stamp)", async () => {
    await createNode(juliet, "lp1", { "pubsub#send_last_published_item": "on_sub_and_presence" });
    expectResult(await publish(juliet, "lp1", "last"));
    expectResult(await subscribe(nurse, "lp1"));
    expect(eventOf(await nextMessage(nurse)).getChild("items")!.getChild("item")!.attrs.id).toBe("last");
    nurse.send("<presence to='pubsub.localhost'/>");
    const msg = await nextMessage(nurse);
    expect(eventOf(msg).getChild("items")!.getChild("item")!.attrs.id).toBe("last");
    expect(msg.getChild("delay", "urn:xmpp:delay")?.attrs.from).toBe("pubsub.localhost");
    nurse.send("<presence to='pubsub.localhost' type='unavailable'/>");
  });

  it("pubsub#expire = presence: the subscription ends with the subscriber's presence (§12.17)", async () => {
    await createNode(juliet, "tp1");
    const r = await pubsub(nurse, "set", `<subscribe node='tp1' jid='${nurse.jid}'/><options>${submitForm(OPTIONS, { "pubsub#expire": "presence" })}</options>`);
    expectResult(r);
    nurse.send("<presence to='pubsub.localhost'/>");
    nurse.send("<presence to='pubsub.localhost' type='unavailable'/>");
    await new Promise((res) => setTimeout(res, 150));
    const list = expectResult(await pubsub(nurse, "get", "<subscriptions node='tp1'/>"));
    expect(list.getChild("pubsub", NS)!.getChild("subscriptions")!.childElements("subscription")).toEqual([] as Element[]);
  });
});
