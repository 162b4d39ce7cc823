// XEP-0357 push notifications (mod_cloud_notify) end to end: registrations kept across a restart
// (LevelDB), notifications published to an app server (a pubsub component of the same Herald, whose
// subscriber sees each notification), errors from the app server, hibernated sessions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import { RawClient } from "../../helpers/xmpp-client.js";
import { runPython } from "../../helpers/python.js";
import { Element } from "../../../src/xml/stanza.js";
import { C2SConnection } from "../../../src/net/c2s.js";
import { eventOf, expectResult, nextMessage, pubsub, submitForm } from "../../pubsub/helpers.js";
import { errorCondition } from "../message-helpers.js";
import { NS_PUSH, PUSH, itemCount, nextPush } from "./helpers.js";


const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "cloud_notify"; "ping" }
push_notification_with_sender = true
push_max_errors = 1
push_max_devices = 2
VirtualHost "localhost"
Component "push.localhost" "pubsub"
  pubsub_create_node = "anyone"
`;

function login(ts: TestServer, user: string, resource: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

/** The app server's node for one device: Bob (standing in for the app server's backend) owns it and is subscribed. */
async function appNode(bob: RawClient, node: string): Promise<void> {
  const config = submitForm("http://jabber.org/protocol/pubsub#node_config", { "pubsub#publish_model": "open" });
  const created = await pubsub(bob, "set", `<create node='${node}'/><configure>${config}</configure>`, undefined, PUSH);
  if (created.attrs.type !== "result" && errorCondition(created) !== "conflict") throw new Error(`create failed: ${created}`);
  expectResult(await pubsub(bob, "set", `<subscribe node='${node}' jid='${bob.jid}'/>`, undefined, PUSH));
}

/** <enable/> from a client; returns the reply. */
function enable(c: RawClient, node: string | undefined, extra = "", jid = PUSH): Promise<Element> {
  const n = node === undefined ? "" : ` node='${node}'`;
  return c.iq(`<iq type='set' id='en-${node}'><enable xmlns='${NS_PUSH}' jid='${jid}'${n}>${extra}</enable></iq>`);
}



describe("push notifications (mod_cloud_notify)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG });
    for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("lists urn:xmpp:push:0 in the account's disco#info", async () => {
    const c = await login(ts, "carol", "d");
    const info = await c.iq("<iq type='get' id='d1' to='carol@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    const features = info.getChild("query", "http://jabber.org/protocol/disco#info")!.childElements("feature").map((f) => f.attrs.var);
    expect(features).toContain(NS_PUSH);
    c.close();
  });

  it("refuses <enable/> without a jid, or with the user's own", async () => {
    const c = await login(ts, "carol", "e");
    const noJid = await c.iq(`<iq type='set' id='e1'><enable xmlns='${NS_PUSH}' node='x'/></iq>`);
    expect(errorCondition(noJid)).toBe("bad-request");
    expect(errorCondition(await enable(c, "x", "", "carol@localhost"))).toBe("bad-request");
    const noJidDisable = await c.iq(`<iq type='set' id='e2'><disable xmlns='${NS_PUSH}'/></iq>`);
    expect(errorCondition(noJidDisable)).toBe("bad-request");
    c.close();
  });

  it("notifies the app server of messages stored offline, with the publish options, the sender and the important-message text; not of chat states", async () => {
    const bob = await login(ts, "bob", "backend");
    await appNode(bob, "alice-phone");
    const alice = await login(ts, "alice", "phone");
    // Publish options are preconditions on the app server's node (XEP-0060 §7.1.5): these hold...
    const options = submitForm("http://jabber.org/protocol/pubsub#publish-options", { "pubsub#publish_model": "open" });
    expectResult(await enable(alice, "alice-phone", options));
    // ...and these do not: that node gets nothing.
    await appNode(bob, "alice-strict");
    const strict = submitForm("http://jabber.org/protocol/pubsub#publish-options", { "pubsub#access_model": "whitelist" });
    expectResult(await enable(alice, "alice-strict", strict));
    alice.close();
    await alice.waitClosed();

    const carol = await login(ts, "carol", "desk");
    carol.send("<message to='alice@localhost' type='chat' id='m1'><body>secret text</body></message>");
    const first = await nextPush(bob);
    expect(first.node).toBe("alice-phone");
    expect(Object.fromEntries(first.fields)).toEqual({
      FORM_TYPE: ["urn:xmpp:push:summary"],
      "message-count": ["1"],
      "last-message-sender": ["carol@localhost/desk"],
      "last-message-body": ["New Message!"], // push_notification_with_body is off: never the real body
    });
    // A chat state alone gets no notification; a message without a body one without the text.
    carol.send("<message to='alice@localhost' type='chat' id='m2'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    carol.send("<message to='alice@localhost' type='chat' id='m3'><received xmlns='urn:xmpp:receipts' id='x'/></message>");
    carol.send("<message to='alice@localhost' type='chat' id='m4'><body>again</body></message>");
    const second = await nextPush(bob);
    expect(second.fields.get("last-message-body")).toBeUndefined();
    expect(second.fields.get("message-count")).toEqual(["1"]);
    expect((await nextPush(bob)).fields.get("last-message-body")).toEqual(["New Message!"]);
    expect(await itemCount(bob, "alice-strict")).toBe(0);
    expect(await itemCount(bob, "alice-phone")).toBe(3);
    carol.close();
    bob.close();
  });

  it("keeps the registration across a restart, and <disable/> ends it", async () => {
    let bob = await login(ts, "bob", "backend2");
    await appNode(bob, "dave-1");
    await appNode(bob, "dave-2");
    const dave = await login(ts, "dave", "phone");
    expectResult(await enable(dave, "dave-1"));
    expectResult(await enable(dave, "dave-2"));
    dave.close();
    bob.close();

    ts = await ts.restart();
    bob = await login(ts, "bob", "backend2");
    const carol = await login(ts, "carol", "desk2");
    carol.send("<message to='dave@localhost' id='r1'><body>after the restart</body></message>");
    const pushes = [await nextPush(bob), await nextPush(bob)];
    expect(pushes.map((p) => p.node)).toEqual(["dave-1", "dave-2"]);

    const dave2 = await login(ts, "dave", "phone");
    expectResult(await dave2.iq(`<iq type='set' id='dis1'><disable xmlns='${NS_PUSH}' jid='${PUSH}' node='dave-1'/></iq>`));
    dave2.close();
    await dave2.waitClosed();
    carol.send("<message to='dave@localhost' id='r2'><body>after disable</body></message>");
    // Notifications of one message go out in registration order: dave-1 would come first.
    expect((await nextPush(bob)).node).toBe("dave-2");
    expect(await itemCount(bob, "dave-1")).toBe(1);
    carol.close();
    bob.close();
  });

  it("removes a registration the app server answers with errors (push_max_errors = 1)", async () => {
    const bob = await login(ts, "bob", "backend3");
    await appNode(bob, "erin-live");
    const erin = await login(ts, "erin", "phone");
    expectResult(await enable(erin, "erin-gone")); // no such node: item-not-found
    expectResult(await enable(erin, "erin-live"));
    erin.close();
    await erin.waitClosed();
    const carol = await login(ts, "carol", "desk3");
    carol.send("<message to='erin@localhost' id='x1'><body>one</body></message>");
    expect((await nextPush(bob)).node).toBe("erin-live");
    // Now the node exists: a registration still there would publish to it, before erin-live.
    await appNode(bob, "erin-gone");
    carol.send("<message to='erin@localhost' id='x2'><body>two</body></message>");
    expect((await nextPush(bob)).node).toBe("erin-live");
    expect(await itemCount(bob, "erin-gone")).toBe(0);
    carol.close();
    bob.close();
  });

  it("keeps the newest push_max_devices registrations of an account", async () => {
    const bob = await login(ts, "bob", "backend5");
    for (const n of ["gina-1", "gina-2", "gina-3"]) await appNode(bob, n);
    const gina = await login(ts, "gina", "phone");
    for (const n of ["gina-1", "gina-2", "gina-3"]) expectResult(await enable(gina, n));
    gina.close();
    await gina.waitClosed();
    const carol = await login(ts, "carol", "desk5");
    carol.send("<message to='gina@localhost' id='g1'><body>hi</body></message>");
    expect([(await nextPush(bob)).node, (await nextPush(bob)).node]).toEqual(["gina-2", "gina-3"]);
    expect(await itemCount(bob, "gina-1")).toBe(0);
    carol.close();
    bob.close();
  });

  it("notifies for a session that stream management hibernates (smacks-hibernation-start / -end)", async () => {
    const bob = await login(ts, "bob", "backend4");
    await appNode(bob, "frank-phone");
    const frank = await login(ts, "frank", "phone");
    expectResult(await enable(frank, "frank-phone"));
    const host = ts.server.hosts.get("localhost")!;
    const session = host.session("frank", "phone");
    expect(session).toBeInstanceOf(C2SConnection);
    const queued = new Element("message", { from: "carol@localhost/desk", to: "frank@localhost/phone", type: "chat" }).textTag("body", "queued");
    await host.bus.fire("smacks-hibernation-start", { session: session!, queue: [queued] });
    const push = await nextPush(bob);
    expect(push.node).toBe("frank-phone");
    expect(push.fields.get("last-message-sender")).toEqual(["carol@localhost/desk"]);
    // A message routed to the hibernated session meanwhile.
    const carol = await login(ts, "carol", "desk4");
    carol.send("<message to='frank@localhost/phone' type='chat' id='h1'><body>while away</body></message>");
    expect((await nextPush(bob)).fields.get("last-message-body")).toEqual(["New Message!"]);
    await host.bus.fire("smacks-hibernation-end", { session: session!, resumed: true });
    // Resumed: messages to it are delivered, no notification (the next one comes from the offline path).
    carol.send("<message to='frank@localhost/phone' type='chat' id='h2'><body>back</body></message>");
    // (The connection was never really gone in this test: it got h1 too.)
    expect([(await nextMessage(frank)).attrs.id, (await nextMessage(frank)).attrs.id]).toEqual(["h1", "h2"]);
    frank.close();
    await frank.waitClosed();
    carol.send("<message to='frank@localhost' type='chat' id='h3'><body>offline now</body></message>");
    const after = await nextMessage(bob, 5000);
    expect(eventOf(after).getChild("items")!.getChild("item")).toBeDefined();
    expect(await itemCount(bob, "frank-phone")).toBe(3);
    carol.close();
    bob.close();
  });
});

describe("push notifications with slixmpp", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ config: CONFIG.replace(/c2s_require_encryption = false\nallow_unencrypted_plain_auth = true/, "") });
    for (const u of ["juliet", "bob", "romeo"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("a slixmpp client enables push and goes away; a message to it is pushed to the app server", async () => {
    const bob = await RawClient.login(ts.c2sPort, "bob", "pw", { resource: "backend" });
    await appNode(bob, "juliet-phone");
    const script = fileURLToPath(new URL("./slixmpp_push.py", import.meta.url));
    const run = await runPython(script, [String(ts.c2sPort), "juliet@localhost/phone", "pw", PUSH, "juliet-phone"], 60000);
    expect(run.events.filter((e) => e.event === "error"), JSON.stringify(run.events) + run.stderr).toEqual([]);
    expect(run.events.find((e) => e.event === "disco")).toMatchObject({ push: true });
    expect(run.events.find((e) => e.event === "enabled")).toMatchObject({ type: "result" });
    const romeo = await RawClient.login(ts.c2sPort, "romeo", "pw", { resource: "garden" });
    romeo.send("<message to='juliet@localhost' type='chat' id='s1'><body>hello</body></message>");
    const push = await nextPush(bob);
    expect(push.node).toBe("juliet-phone");
    expect(push.fields.get("last-message-sender")).toEqual(["romeo@localhost/garden"]);
    romeo.close();
    bob.close();
  });
});
