// mod_blocklist's cache, against a real server with a storage driver that counts reads of the
// "blocklist" store: lists of online accounts stay cached however small `blocklist_cache_size`
// is, "no list" is cached too, and an account's list leaves the pinned set on its last unbind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStorage } from "../../src/storage/memory.js";
import type { Json, KeyvalStore } from "../../src/storage/types.js";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { waitUntil } from "../helpers/wait.js";
import { noMessage } from "./message-helpers.js";

const NS = "urn:xmpp:blocking";

class CountingStorage extends MemoryStorage {
  readonly reads = new Map<string, number>();
  override keyval<T = Json>(host: string, store: string): KeyvalStore<T> {
    const inner = super.keyval<T>(host, store);
    if (store !== "blocklist") return inner;
    return {
      ...inner,
      get: (user) => {
        this.reads.set(user, (this.reads.get(user) ?? 0) + 1);
        return inner.get(user);
      },
    };
  }
  readsOf(user: string): number {
    return this.reads.get(user) ?? 0;
  }
}

const CONFIG = `
modules_enabled = { "blocklist" }
storage = "memory"
blocklist_cache_size = 2
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
`;


describe("blocklist cache", () => {
  let ts: TestServer;
  const storage = new CountingStorage();
  const clients = new Map<string, RawClient>();
  const ONLINE = ["alice", "b1", "b2", "b3", "b4"];

  beforeAll(async () => {
    ts = await startTestServer({ transport: "memory", config: CONFIG, storage });
    for (const u of [...ONLINE, "o1", "o2", "o3"]) await ts.addUser(u, "pw");
    for (const u of ONLINE) clients.set(u, await ts.login(u, "pw", { resource: "r" }));
  });
  afterAll(() => ts?.stop());

  it("reads each online account's list once, however many accounts are active (cache size 2)", async () => {
    const alice = clients.get("alice")!;
    const r = await alice.iq(`<iq type='set' id='b'><block xmlns='${NS}'><item jid='b4@localhost'/></block></iq>`);
    expect(r.attrs.type).toBe("result");

    // Every online account messages every other, three rounds: each message is checked against
    // the sender's list (outbound) and the recipient's (inbound).
    for (let round = 0; round < 3; round++) {
      for (const from of ONLINE) {
        for (const to of ONLINE) {
          if (from === to) continue;
          clients.get(from)!.send(`<message type='chat' to='${to}@localhost/r' id='m${round}'><body>${from}</body></message>`);
        }
      }
    }
    // Everything arrived (alice blocked b4: not that one; hers to b4 came back not-acceptable).
    for (const u of ONLINE) {
      const c = clients.get(u)!;
      const expected = ONLINE.filter((f) => f !== u && !(u === "alice" && f === "b4") && !(u === "b4" && f === "alice")).length * 3;
      const senders: string[] = [];
      let errors = 0;
      while (senders.length < expected || (u === "alice" && errors < 3)) {
        const el = await c.next();
        if (el.name === "message" && el.attrs.type === "chat") senders.push(el.getChildText("body")!);
        else if (el.name === "message" && el.attrs.type === "error") errors++;
      }
      if (u === "alice") expect(senders).not.toContain("b4");
      await noMessage(c, 100);
    }
    // alice's list was written by her <block/> (and read once before that); the others': one read
    // each, the empty answer ("no list") cached as well.
    for (const u of ONLINE) expect(storage.readsOf(u), u).toBe(1);
  });

  it("drops a list from the pinned set when the account's last session ends", async () => {
    const alice = clients.get("alice")!;
    const b1 = clients.get("b1")!;
    clients.delete("b1");
    b1.close();
    const host = ts.server.hosts.get("localhost")!;
    await waitUntil(() => host.sessionsOf("b1").length === 0);
    // b1 is offline now, in the LRU of 2 with other offline accounts: three others push it out.
    for (const to of ["o1", "o2", "o3", "o1"]) alice.send(`<message type='chat' to='${to}@localhost' id='x'><body>hi</body></message>`);
    await alice.iq("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>").catch(() => undefined);
    await waitUntil(() => storage.readsOf("o3") === 1);
    expect(storage.readsOf("o1")).toBe(2); // evicted by o3, read again: the LRU really holds 2
    alice.send("<message type='chat' to='b1@localhost' id='y'><body>hi</body></message>");
    await waitUntil(() => storage.readsOf("b1") === 2);
    // Online accounts are still pinned: no new reads for them.
    for (const u of ["alice", "b2", "b3", "b4"]) expect(storage.readsOf(u), u).toBe(1);
  });
});
