// Presence and the pubsub component: send_last_published_item = on_sub_and_presence sends the last
// item when a subscriber comes online -- a local user's initial presence, or directed presence
// (RFC 6121 §4.6) from a full JID the service did not have as available -- and not on every status
// change; a failing service (storage) is logged, not an unhandled rejection.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { PubsubComponent } from "../../modules/lib/pubsub/services.js";
import type { PubsubService } from "../../src/util/pubsub/index.js";
import { PUBSUB, createNode, drain, eventOf, expectResult, login, nextMessage, noMessage, publish, pubsub, startPubsubServer, subscribe } from "./helpers.js";

let ts: TestServer;
let juliet: RawClient;
let nurse: RawClient;

beforeAll(async () => {
  ts = await startPubsubServer({ component: 'pubsub_create_node = "local"' }, ["juliet", "nurse"]);
  juliet = await login(ts, "juliet", "balcony");
  nurse = await login(ts, "nurse", "chamber");
});
afterAll(() => ts?.stop());

/** "node/id" of a notification's item. */
const lastItemId = (msg: Parameters<typeof eventOf>[0]) => {
  const items = eventOf(msg).getChild("items")!;
  return `${items.attrs.node}/${items.getChild("item")!.attrs.id}`;
};

describe("on_sub_and_presence: only when the subscriber comes online", () => {
  it("a local user's initial presence brings the last item; status changes do not", async () => {
    await createNode(juliet, "osp1", { "pubsub#send_last_published_item": "on_sub_and_presence" });
    expectResult(await publish(juliet, "osp1", "last"));
    expectResult(await subscribe(nurse, "osp1"));
    expect(lastItemId(await nextMessage(nurse))).toBe("osp1/last"); // on subscription
    nurse.send("<presence/>");
    expect(lastItemId(await nextMessage(nurse))).toBe("osp1/last"); // coming online
    nurse.send("<presence><show>away</show></presence>");
    await noMessage(nurse, 400);
    nurse.send("<presence><show>dnd</show><status>busy</status></presence>");
    await noMessage(nurse, 400);
    nurse.send("<presence type='unavailable'/>");
    await drain(nurse, 150);
    nurse.send("<presence/>");
    expect(lastItemId(await nextMessage(nurse))).toBe("osp1/last"); // online again
    nurse.send("<presence type='unavailable'/>");
    await drain(nurse, 150);
    expectResult(await pubsub(nurse, "set", `<unsubscribe node='osp1' jid='${nurse.jid}'/>`));
  });

  it("directed presence: once per arrival of a full JID, not again for updates", async () => {
    await createNode(juliet, "osp2", { "pubsub#send_last_published_item": "on_sub_and_presence" });
    expectResult(await publish(juliet, "osp2", "last"));
    expectResult(await subscribe(nurse, "osp2"));
    expect(lastItemId(await nextMessage(nurse))).toBe("osp2/last");
    nurse.send(`<presence to='${PUBSUB}'/>`);
    expect(lastItemId(await nextMessage(nurse))).toBe("osp2/last");
    nurse.send(`<presence to='${PUBSUB}'><show>away</show></presence>`);
    nurse.send(`<presence to='${PUBSUB}'/>`);
    await noMessage(nurse, 400);
    nurse.send(`<presence to='${PUBSUB}' type='unavailable'/>`);
    nurse.send(`<presence to='${PUBSUB}'/>`);
    expect(lastItemId(await nextMessage(nurse))).toBe("osp2/last");
    nurse.send(`<presence to='${PUBSUB}' type='unavailable'/>`);
    await drain(nurse, 150);
  });
});

describe("a failing service", () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    process.off("unhandledRejection", onRejection);
  });

  it("presence work that fails (a storage error) is logged, not an unhandled rejection", async () => {
    process.on("unhandledRejection", onRejection);
    const service = (ts.server.modules.service(PUBSUB, "pubsub") as PubsubComponent).service as PubsubService & Record<string, unknown>;
    const { onAvailable, onUnavailable } = service;
    const down = async () => {
      throw new Error("storage down");
    };
    service.onAvailable = down;
    service.onUnavailable = down;
    restore = () => {
      service.onAvailable = onAvailable;
      service.onUnavailable = onUnavailable;
    };
    nurse.send("<presence/>"); // local user's initial presence (hook on the user's host)
    await drain(nurse, 200);
    nurse.send("<presence type='unavailable'/>");
    await drain(nurse, 200);
    nurse.send(`<presence to='${PUBSUB}'/>`); // directed presence
    nurse.send(`<presence to='${PUBSUB}' type='unavailable'/>`);
    await drain(nurse, 200);
    await new Promise((r) => setTimeout(r, 50));
    expect(rejections).toEqual([]);
    // The service still answers.
    restore();
    expectResult(await publish(juliet, "osp1", "after"));
  });
});
