// Push notifications (mod_cloud_notify) for what a client had not acknowledged when stream
// management (mod_smacks) kept its session after the connection was lost: a real client with
// XEP-0198 and XEP-0357 enabled receives a message, does not acknowledge it, loses its TCP
// connection, and the app server (a pubsub component of the same Herald) is notified of that message.
// It failed before smacks-hibernation-start carried the queue of unacknowledged stanzas.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import { eventOf, expectResult, formFields, nextMessage, pubsub, submitForm } from "../../pubsub/helpers.js";
import { NS_PUSH, PUSH, SM, nextNotR } from "./helpers.js";


const CONFIG = `
storage = "memory"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "smacks"; "cloud_notify"; "ping" }
push_notification_with_sender = true
push_notification_with_body = true
VirtualHost "localhost"
Component "push.localhost" "pubsub"
  pubsub_create_node = "anyone"
`;

const login = (ts: TestServer, user: string, resource: string) => ts.login(user, "pw", { resource });


// Over real TCP sockets (the end-to-end case: a socket really destroyed) and the in-memory transport.
describe.each(["sockets", "memory"] as const)("push notifications for a session stream management hibernates (%s)", (transport) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ transport, config: CONFIG });
    for (const u of ["alice", "bob", "carol"]) await ts.addUser(u, "pw");
  });
  afterAll(() => ts?.stop());

  it("notifies the app server of the message the client had not acknowledged when its connection was lost", async () => {
    // Bob stands in for the app server's backend: he owns the device's node and is subscribed to it.
    const bob = await login(ts, "bob", "backend");
    const config = submitForm("http://jabber.org/protocol/pubsub#node_config", { "pubsub#publish_model": "open" });
    expectResult(await pubsub(bob, "set", `<create node='alice-phone'/><configure>${config}</configure>`, undefined, PUSH));
    expectResult(await pubsub(bob, "set", `<subscribe node='alice-phone' jid='${bob.jid}'/>`, undefined, PUSH));

    // Alice's phone: stream management with resumption, then push.
    const alice = await login(ts, "alice", "phone");
    alice.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await nextNotR(alice);
    expect([enabled.name, enabled.attrs.xmlns, enabled.attrs.resume]).toEqual(["enabled", SM, "true"]);
    expectResult(await alice.iq(`<iq type='set' id='push1'><enable xmlns='${NS_PUSH}' jid='${PUSH}' node='alice-phone'/></iq>`));

    // A message reaches the phone, which never acknowledges it...
    const carol = await login(ts, "carol", "desk");
    carol.send("<message to='alice@localhost/phone' type='chat' id='unacked'><body>are you there?</body></message>");
    const got = await nextNotR(alice);
    expect([got.name, got.attrs.id]).toEqual(["message", "unacked"]);

    // ...and then its connection is gone without a goodbye: the session hibernates.
    alice.socket.destroy();
    const push = await nextMessage(bob, 10000);
    const items = eventOf(push).getChild("items")!;
    expect(items.attrs.node).toBe("alice-phone");
    const x = items.getChild("item")!.getChild("notification", NS_PUSH)!.getChild("x", "jabber:x:data")!;
    const fields = formFields(x);
    expect(fields.get("FORM_TYPE")).toEqual(["urn:xmpp:push:summary"]);
    expect(fields.get("last-message-sender")).toEqual(["carol@localhost/desk"]);
    expect(fields.get("last-message-body")).toEqual(["are you there?"]);
    // The session is still there, waiting to be resumed.
    expect(ts.server.hosts.get("localhost")!.session("alice", "phone")).toBeDefined();
    carol.close();
    bob.close();
  });
});
