// The component's limits and timers: muc_room_lock_timeout destroys a room never configured,
// muc_log_expires_after removes old archived messages, muc_max_rooms caps the number of rooms.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import { MUC, codes, createInstant, errorOf, groupchat, isMessageWithBody, join, login, nextId, startMucServer, until } from "./helpers.js";

let ts: TestServer;
// Clients are closed by ts.stop() and ts.restart().
const connect = (user: string) => login(ts, user);

beforeAll(async () => {
  ts = await startMucServer({ component: "muc_room_lock_timeout = 0.3\nmuc_log_expires_after = 1\nmuc_max_rooms = 3" });
});
afterAll(() => ts.stop());

async function eventually(check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("component options", () => {
  it("muc_room_lock_timeout: a locked room nobody configures is destroyed", async () => {
    const alice = await connect("alice");
    const j = await join(alice, "forgotten", "Alice");
    expect(codes(j.self)).toContain(201);
    const gone = await until(alice, (el) => el.name === "presence" && el.attrs.type === "unavailable", 8000);
    expect(gone.getChild("x", "http://jabber.org/protocol/muc#user")!.getChild("destroy")).toBeDefined();
    const info = await alice.iq(`<iq type='get' to='forgotten@${MUC}' id='${nextId()}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(errorOf(info).condition).toBe("item-not-found");
  });

  it("muc_log_expires_after: archived messages older than that are removed", async () => {
    const alice = await connect("alice");
    await createInstant(alice, "shortlog", "Alice");
    groupchat(alice, "shortlog", "soon gone");
    await until(alice, isMessageWithBody("soon gone"));
    const count = async () => {
      const id = nextId();
      alice.send(`<iq type='set' to='shortlog@${MUC}' id='${id}'><query xmlns='urn:xmpp:mam:2'/></iq>`);
      let n = 0;
      for (;;) {
        const el = await until(alice, (e) => (e.name === "message" && e.getChild("result", "urn:xmpp:mam:2") !== undefined) || (e.name === "iq" && e.attrs.id === id));
        if (el.name === "iq") return n;
        n++;
      }
    };
    expect(await count()).toBe(1);
    await eventually(async () => (await count()) === 0);
  });

  it("muc_max_rooms: no more rooms than that", async () => {
    const bob = await connect("bob");
    // Rooms of the earlier tests may still exist: fill up to the limit, then one more is refused.
    let refused: ReturnType<typeof errorOf> | undefined;
    for (let i = 0; i < 4 && !refused; i++) {
      const j = await join(bob, `many${i}`, "Bob");
      if (j.error) refused = errorOf(j.error);
    }
    expect(refused).toMatchObject({ type: "wait", condition: "resource-constraint" });
  });
});
