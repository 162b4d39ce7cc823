// Push notifications (mod_cloud_notify) and the message archive (mod_mam): the app server hears of a
// message only once it is in the recipient's archive, so a phone woken by the push and asking its
// archive finds it. Real sockets, stream management, a pubsub component of the same Herald as the
// app server (Bob, standing in for its backend, is subscribed to the device's node) and LevelDB,
// whose appends to one account's archive the test can hold back (as a slow disk would) to see
// whether anything reaches the app server meanwhile.
// The first test failed before the push for a hibernated session was decided after mod_mam's write.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/harness.js";
import type { RawClient } from "../../helpers/xmpp-client.js";
import { waitUntil } from "../../helpers/wait.js";
import { LevelStorage } from "../../../src/storage/leveldb.js";
import type { AppendOptions, ArchiveStore, Json } from "../../../src/storage/types.js";
import type { Element } from "../../../src/xml/stanza.js";
import { C2SConnection } from "../../../src/net/c2s.js";
import { expectResult, nextMessage, pubsub, submitForm } from "../../pubsub/helpers.js";
import { mamQuery, queryIq } from "../../mam/helpers.js";
import { NS_PUSH, PUSH, SM, nextNotR, summaryOf } from "./helpers.js";


/** LevelDB whose appends to the "archive" store wait, for the accounts held, until released. */
class HeldArchiveStorage extends LevelStorage {
  private readonly held = new Set<string>();
  private waiting: Array<() => void> = [];
  /** Appends waiting now. */
  heldAppends = 0;

  hold(user: string): void {
    this.held.add(user);
  }

  release(): void {
    this.held.clear();
    for (const go of this.waiting.splice(0)) go();
  }

  override archive<T = Json>(host: string, store: string): ArchiveStore<T> {
    const inner = super.archive<T>(host, store);
    if (store !== "archive") return inner;
    return {
      ...inner,
      append: async (user: string, value: T, options?: AppendOptions) => {
        if (this.held.has(user)) {
          this.heldAppends++;
          await new Promise<void>((go) => this.waiting.push(go));
          this.heldAppends--;
        }
        return inner.append(user, value, options);
      },
    };
  }
}

const CONFIG = `
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "smacks"; "mam"; "cloud_notify"; "ping" }
push_notification_with_sender = true
VirtualHost "localhost"
Component "push.localhost" "pubsub"
  pubsub_create_node = "anyone"
`;

let ts: TestServer;
let storage: HeldArchiveStorage;
let dbDir: string;

beforeAll(async () => {
  dbDir = mkdtempSync(join(tmpdir(), "herald-push-archive-"));
  storage = new HeldArchiveStorage(dbDir);
  ts = await startTestServer({ config: CONFIG, storage, users: ["alice", "bob", "carol", "dave"] });
});
afterAll(async () => {
  storage?.release();
  await ts?.stop();
  rmSync(dbDir, { recursive: true, force: true });
});

const login = (user: string, resource: string) => ts.login(user, "pw", { resource });

/** Bob's node for one device, Bob subscribed to it. */
async function appNode(bob: RawClient, node: string): Promise<void> {
  const config = submitForm("http://jabber.org/protocol/pubsub#node_config", { "pubsub#publish_model": "open" });
  expectResult(await pubsub(bob, "set", `<create node='${node}'/><configure>${config}</configure>`, undefined, PUSH));
  expectResult(await pubsub(bob, "set", `<subscribe node='${node}' jid='${bob.jid}'/>`, undefined, PUSH));
}


/** The bodies in an account's archive, read from the store itself (not through mod_mam). */
async function archivedBodies(user: string): Promise<string[]> {
  const items = await ts.server.storage.archive("localhost", "archive").find(user);
  return items.map((i) => JSON.stringify(i.value)).filter((v) => v.includes("body"));
}


/** The first message within `ms`, or undefined. */
const messageWithin = (c: RawClient, ms: number): Promise<Element | undefined> => nextMessage(c, ms).then(
  (m) => m,
  () => undefined,
);

describe("push notifications wait for the message archive", () => {
  it("a message to a hibernated session is pushed once it is archived; one that is not archived is pushed without waiting", async () => {
    const bob = await login("bob", "backend");
    await appNode(bob, "alice-phone");

    // Alice's phone: resumable stream management and push; then its connection is lost.
    const phone = await login("alice", "phone");
    phone.send(`<enable xmlns='${SM}' resume='true'/>`);
    expect((await nextNotR(phone)).name).toBe("enabled");
    expectResult(await phone.iq(`<iq type='set' id='push1'><enable xmlns='${NS_PUSH}' jid='${PUSH}' node='alice-phone'/></iq>`));
    phone.socket.destroy();
    const host = ts.server.hosts.get("localhost")!;
    await waitUntil(() => (host.session("alice", "phone") as C2SConnection | undefined)?.hibernating === true, 5000, "the phone's session to hibernate");
    // Alice's laptop asks the archive when the phone would (it sends no presence: messages to the
    // phone's full JID are the phone's only).
    const laptop = await login("alice", "laptop");

    // Alice's archive is slow: her write of Carol's message is held back.
    storage.hold("alice");
    const carol = await login("carol", "desk");
    carol.send("<message to='alice@localhost/phone' type='chat' id='m1'><body>wake up</body></message>");
    await waitUntil(() => storage.heldAppends === 1, 5000, "mod_mam's write into Alice's archive");
    // Hibernated sessions' notifications are batched over a second: three seconds is ample for one to come.
    const early = await messageWithin(bob, 3000);
    const archivedThen = early ? await archivedBodies("alice") : [];
    storage.release();
    expect(early, `the app server was notified while Alice's archive held ${archivedThen.length} messages`).toBeUndefined();

    const push = await nextMessage(bob, 10000);
    // When the app server hears of it, the message is in the archive, and a query finds it.
    expect(await archivedBodies("alice")).toHaveLength(1);
    expect(summaryOf(push).get("last-message-sender")).toEqual(["carol@localhost/desk"]);
    const q = await mamQuery(laptop, queryIq({ queryid: "after-push" }));
    expect(q.bodies).toEqual(["wake up"]);

    // A message mod_mam does not archive (a no-store hint) does not wait for the (held) archive.
    storage.hold("alice");
    carol.send("<message to='alice@localhost/phone' type='chat' id='m2'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>");
    const second = await nextMessage(bob, 10000);
    expect(summaryOf(second).get("last-message-sender")).toEqual(["carol@localhost/desk"]);
    expect(storage.heldAppends).toBe(0);
    storage.release();
    expect(await archivedBodies("alice")).toHaveLength(1);
  });

  it("a message stored offline is pushed once it is archived", async () => {
    const bob = await login("bob", "backend2");
    await appNode(bob, "dave-phone");
    const dave = await login("dave", "phone");
    expectResult(await dave.iq(`<iq type='set' id='push2'><enable xmlns='${NS_PUSH}' jid='${PUSH}' node='dave-phone'/></iq>`));
    dave.close();
    await dave.waitClosed();
    await waitUntil(() => ts.server.hosts.get("localhost")!.session("dave", "phone") === undefined, 5000, "Dave's session to end");

    storage.hold("dave");
    const carol = await login("carol", "desk2");
    carol.send("<message to='dave@localhost' type='chat' id='o1'><body>while you were out</body></message>");
    await waitUntil(() => storage.heldAppends === 1, 5000, "mod_mam's write into Dave's archive");
    const early = await messageWithin(bob, 1500);
    storage.release();
    expect(early, "the app server was notified before the message was archived").toBeUndefined();
    await nextMessage(bob, 10000);
    expect(await archivedBodies("dave")).toHaveLength(1);
  });
});
