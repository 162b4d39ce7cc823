// Push notifications (mod_cloud_notify) for a device whose session is gone while another resource
// of the account is online, as Prosody's mod_cloud_notify does from mod_mam's
// `archive-message-added`: the phone's session has ended, the desktop is online and receives the
// message, and the phone is still woken so that it can fetch the message from the archive. The
// registration of a session that is online gets nothing: that session has the message. Real
// sockets; the app server is a pubsub component of the same Herald, whose node Bob (standing in
// for the app server's backend) is subscribed to.
// All three failed before: nothing was pushed to a session-less registration while a resource was online.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import type { RawClient } from "../../helpers/xmpp-client.js";
import { waitUntil } from "../../helpers/wait.js";
import type { C2SConnection } from "../../../src/net/c2s.js";
import { expectResult, nextMessage, pubsub, submitForm } from "../../pubsub/helpers.js";
import { mamQuery, queryIq } from "../../mam/helpers.js";
import { NS_PUSH, PUSH, SM, itemCount, nextNotR, nextPush } from "./helpers.js";


const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "smacks"; "mam"; "cloud_notify"; "ping" }
push_notification_with_sender = true
VirtualHost "localhost"
Component "push.localhost" "pubsub"
  pubsub_create_node = "anyone"
`;

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ config: CONFIG, users: ["alice", "bob", "carol", "dave", "erin"] });
});
afterAll(() => ts?.stop());

const login = (user: string, resource: string) => ts.login(user, "pw", { resource });
const host = () => ts.server.hosts.get("localhost")!;

/** Bob's node for one device, Bob subscribed to it. */
async function appNode(bob: RawClient, node: string): Promise<void> {
  const config = submitForm("http://jabber.org/protocol/pubsub#node_config", { "pubsub#publish_model": "open" });
  expectResult(await pubsub(bob, "set", `<create node='${node}'/><configure>${config}</configure>`, undefined, PUSH));
  expectResult(await pubsub(bob, "set", `<subscribe node='${node}' jid='${bob.jid}'/>`, undefined, PUSH));
}

const enablePush = (c: RawClient, node: string) =>
  c.iq(`<iq type='set' id='en-${node}'><enable xmlns='${NS_PUSH}' jid='${PUSH}' node='${node}'/></iq>`).then(expectResult);



/** A device that registers for push and then closes its stream: its session ends, its registration stays. */
async function deviceGone(user: string, resource: string, node: string): Promise<void> {
  const device = await login(user, resource);
  await enablePush(device, node);
  device.close();
  await device.waitClosed();
  await waitUntil(() => host().session(user, resource) === undefined, 5000, `${user}/${resource}'s session to end`);
}


describe("push notifications for devices without a session while the account is online", () => {
  it("the phone's session is gone, the desktop is online: a message to the account reaches the desktop and wakes the phone", async () => {
    const bob = await login("bob", "backend");
    await appNode(bob, "alice-phone");
    await deviceGone("alice", "phone", "alice-phone");
    const desktop = await login("alice", "desktop");
    desktop.send("<presence/>");

    const carol = await login("carol", "desk");
    carol.send("<message to='alice@localhost' type='chat' id='m1'><body>see you at eight</body></message>");
    const got = await nextMessage(desktop, 5000);
    expect(got.getChildText("body")).toBe("see you at eight");
    const push = await nextPush(bob);
    expect(push.node).toBe("alice-phone");
    expect(push.fields.get("last-message-sender")).toEqual(["carol@localhost/desk"]);
    // What the phone finds when it asks the archive.
    expect((await mamQuery(desktop, queryIq({}))).bodies).toEqual(["see you at eight"]);
    desktop.close();
    carol.close();
    bob.close();
  });

  it("a registration whose session is online and active gets nothing; the account's session-less one does", async () => {
    const bob = await login("bob", "backend2");
    await appNode(bob, "dave-tablet");
    await appNode(bob, "dave-phone");
    // The tablet registers first, so its notification of a message would go out first (an account's
    // notifications go out one at a time, in registration order).
    const tablet = await login("dave", "tablet");
    tablet.send("<presence/>");
    await enablePush(tablet, "dave-tablet");
    await deviceGone("dave", "phone", "dave-phone");

    const carol = await login("carol", "desk2");
    carol.send("<message to='dave@localhost' type='chat' id='d1'><body>one</body></message>");
    expect((await nextMessage(tablet, 5000)).getChildText("body")).toBe("one");
    expect((await nextPush(bob)).node).toBe("dave-phone");
    // Had the tablet been notified, that would have been published before the phone's.
    expect(await itemCount(bob, "dave-tablet")).toBe(0);
    expect(await itemCount(bob, "dave-phone")).toBe(1);
    tablet.close();
    carol.close();
    bob.close();
  });

  it("a hibernated session and a session-less registration are each notified once per message", async () => {
    const bob = await login("bob", "backend3");
    await appNode(bob, "erin-old");
    await appNode(bob, "erin-phone");
    await deviceGone("erin", "old", "erin-old");
    // Erin's phone: resumable stream management, push, available; then its connection is lost.
    const phone = await login("erin", "phone");
    phone.send(`<enable xmlns='${SM}' resume='true'/>`);
    expect((await nextNotR(phone)).name).toBe("enabled");
    await enablePush(phone, "erin-phone");
    phone.send("<presence/>");
    await nextNotR(phone); // its own presence
    phone.socket.destroy();
    await waitUntil(() => (host().session("erin", "phone") as C2SConnection | undefined)?.hibernating === true, 5000, "the phone to hibernate");

    const carol = await login("carol", "desk3");
    carol.send("<message to='erin@localhost' type='chat' id='e1'><body>are you there?</body></message>");
    const pushes = [await nextPush(bob), await nextPush(bob)];
    expect(pushes.map((p) => p.node).sort()).toEqual(["erin-old", "erin-phone"]);
    // A second message: one more each (a double push of the first would be counted here).
    carol.send("<message to='erin@localhost' type='chat' id='e2'><body>hello?</body></message>");
    const more = [await nextPush(bob), await nextPush(bob)];
    expect(more.map((p) => p.node).sort()).toEqual(["erin-old", "erin-phone"]);
    expect(await itemCount(bob, "erin-old")).toBe(2);
    expect(await itemCount(bob, "erin-phone")).toBe(2);
    carol.close();
    bob.close();
  });
});
