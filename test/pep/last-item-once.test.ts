// XEP-0163 §4.3.2: when a resource with "+notify" for a contact's node comes online, the contact's
// service sends it the node's last item once -- not once for the account's bare JID (registered by
// the resource's own caps) and again for the resource's full JID (registered by its presence).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";
import { TUNE, answerQuery, drain, expectResult, login, notifications, online, publish, startPepServer, subscribe, sync, tune } from "./helpers.js";

let ts: TestServer;
const clients: RawClient[] = [];

async function client(user: string, resource: string): Promise<RawClient> {
  const c = await login(ts, user, resource);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  ts = await startPepServer(["ava", "ben", "cal", "dot"]);
  await subscribe(ts, "ava", "ben");
  await subscribe(ts, "cal", "dot");
});
afterAll(() => ts?.stop());

/**
 * `before` (what came before the presence echo) and then, until `owner`'s notification for `node`
 * has arrived (answering caps queries from any service), a ping round trip and a quiet period:
 * every stanza received.
 */
async function collectAfter(c: RawClient, before: Element[], features: string[], owner: string, node: string): Promise<Element[]> {
  const out: Element[] = [...before];
  const arrived = (els: Element[]) => notifications(els).some((n) => n.startsWith(`${owner} ${node}/`));
  while (!arrived(out)) {
    const el = await c.next(5000);
    if (el.name === "iq" && el.attrs.id === "disco" && el.attrs.type === "get") {
      answerQuery(c, el, features);
      continue;
    }
    out.push(el);
  }
  await sync(c);
  for (const el of await drain(c, 300)) {
    if (el.name === "iq" && el.attrs.id === "disco" && el.attrs.type === "get") answerQuery(c, el, features);
    else out.push(el);
  }
  return out;
}

const fromOwner = (stanzas: Element[], owner: string) => notifications(stanzas).filter((n) => n.startsWith(`${owner} `));

describe("the last item of a contact's node reaches each resource once", () => {
  it("a resource whose caps are asked about (unknown hash) gets one copy", async () => {
    const ava = await client("ava", "desk");
    expectResult(await publish(ava, TUNE, "a1", tune("Ava")));
    const features = [`${TUNE}+notify`, "urn:test:last-item-once"];
    const ben = await client("ben", "one");
    const { before } = await online(ben, features, { expectQuery: true });
    const got = await collectAfter(ben, before, features, "ava@localhost", TUNE);
    expect(fromOwner(got, "ava@localhost")).toEqual([`ava@localhost ${TUNE}/a1`]);
  });

  it("a second resource gets its own copy; the first gets none again", async () => {
    const features = [`${TUNE}+notify`, "urn:test:last-item-once"];
    const one = clients.find((c) => c.jid === "ben@localhost/one")!;
    const two = await client("ben", "two");
    const { before } = await online(two, features, { expectQuery: false });
    const got = await collectAfter(two, before, features, "ava@localhost", TUNE);
    expect(fromOwner(got, "ava@localhost")).toEqual([`ava@localhost ${TUNE}/a1`]);
    await sync(one);
    expect(fromOwner(await drain(one, 300), "ava@localhost")).toEqual([]);
  });

  it("a resource whose caps are already known gets one copy", async () => {
    const cal = await client("cal", "desk");
    expectResult(await publish(cal, TUNE, "c1", tune("Cal")));
    const features = [`${TUNE}+notify`, "urn:test:last-item-once"];
    const dot = await client("dot", "one");
    const { before } = await online(dot, features, { expectQuery: false });
    const got = await collectAfter(dot, before, features, "cal@localhost", TUNE);
    expect(fromOwner(got, "cal@localhost")).toEqual([`cal@localhost ${TUNE}/c1`]);
  });
});
