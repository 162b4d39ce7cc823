// XEP-0163 §4.3.2 with several resources online: what an account wants from a contact's service is
// what each of its available resources advertises ("+notify" in its caps), not what the resource
// that came online last advertises. A resource without "+notify" for a node does not silence the
// other resources that have it, nor receives that node itself; when a resource goes offline, what
// it wanted goes with it. The one-way case (the account sees the contact's presence, not the other
// way round, so the contact's service learns the account's wishes only from its own resources' caps)
// failed before: the second resource's caps replaced the first's.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { TUNE, drain, expectResult, login, nextMessage, notifications, online, publish, settle, startPepServer, subscribe, sync, tune } from "./helpers.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startPepServer(["ola", "pia", "qua", "rex", "sam", "tom"]);
  await subscribe(ts, "ola", "pia", true); // ola sees pia; pia does not see ola
  await subscribe(ts, "sam", "tom", true); // sam sees tom; tom does not see sam
  await subscribe(ts, "qua", "rex"); // both ways
});
afterAll(() => ts?.stop());

const WANTS_TUNE = [`${TUNE}+notify`, "urn:test:resources-interest:a"];
const NO_TUNE = ["urn:test:resources-interest:b"];

/** The notifications `c` got from `owner`, waiting for the first one. */
async function nextFrom(c: RawClient, owner: string): Promise<string> {
  const msg = await nextMessage(c, 5000);
  const [n] = notifications([msg]);
  expect(n?.startsWith(`${owner} `), String(msg)).toBe(true);
  return n;
}

/** The notifications that reached `c` until quiet (after a round trip). */
async function quiet(c: RawClient): Promise<string[]> {
  await sync(c);
  return notifications(await drain(c, 300));
}

describe("an account's interest in a contact's nodes is that of each of its resources", () => {
  it("one-way subscription: the resource with +notify gets the contact's items though a later resource lacks it; offline resources want nothing", async () => {
    const pia = await login(ts, "pia", "desk");
    expectResult(await publish(pia, TUNE, "p1", tune("One")));

    const a = await login(ts, "ola", "a");
    const { before } = await online(a, WANTS_TUNE, { expectQuery: true });
    expect(notifications([...before, ...(await settle(a, WANTS_TUNE))])).toEqual([`pia@localhost ${TUNE}/p1`]);

    // A second resource without +notify for the tune comes online later.
    const b = await login(ts, "ola", "b");
    await online(b, NO_TUNE, { expectQuery: true });
    expect(notifications(await settle(b, NO_TUNE))).toEqual([]);
    await drain(a, 100);

    // Pia's next tune reaches a, once, and not b.
    expectResult(await publish(pia, TUNE, "p2", tune("Two")));
    expect(await nextFrom(a, "pia@localhost")).toBe(`pia@localhost ${TUNE}/p2`);
    expect(await quiet(a)).toEqual([]);
    expect(await quiet(b)).toEqual([]);

    // a goes offline: what it wanted goes with it (b, still online, does not inherit it).
    a.close();
    await a.waitClosed();
    await sync(b);
    expectResult(await publish(pia, TUNE, "p3", tune("Three")));
    expect(await quiet(b)).toEqual([]);

    // A resource with +notify again (caps already known) gets the last item, once.
    const a2 = await login(ts, "ola", "a2");
    const back = await online(a2, WANTS_TUNE, { expectQuery: false });
    expect(notifications([...back.before, ...(await settle(a2, WANTS_TUNE))])).toEqual([`pia@localhost ${TUNE}/p3`]);
    expect(await quiet(b)).toEqual([]);
    expectResult(await publish(pia, TUNE, "p4", tune("Four")));
    expect(await nextFrom(a2, "pia@localhost")).toBe(`pia@localhost ${TUNE}/p4`);
    expect(await quiet(a2)).toEqual([]);
    expect(await quiet(b)).toEqual([]);
  });

  it("one-way subscription: a second resource with +notify gets the last item too, once", async () => {
    const tom = await login(ts, "tom", "desk");
    expectResult(await publish(tom, TUNE, "t1", tune("One")));
    const a = await login(ts, "sam", "a");
    const first = await online(a, WANTS_TUNE);
    expect(notifications([...first.before, ...(await settle(a, WANTS_TUNE))])).toEqual([`tom@localhost ${TUNE}/t1`]);
    const b = await login(ts, "sam", "b");
    const second = await online(b, WANTS_TUNE, { expectQuery: false });
    expect(notifications([...second.before, ...(await settle(b, WANTS_TUNE))])).toEqual([`tom@localhost ${TUNE}/t1`]);
    expect(await quiet(a)).toEqual([]);
    // Then each gets each item once.
    expectResult(await publish(tom, TUNE, "t2", tune("Two")));
    expect(await nextFrom(a, "tom@localhost")).toBe(`tom@localhost ${TUNE}/t2`);
    expect(await nextFrom(b, "tom@localhost")).toBe(`tom@localhost ${TUNE}/t2`);
    expect(await quiet(a)).toEqual([]);
    expect(await quiet(b)).toEqual([]);
  });

  it("mutual subscription: the resource with +notify gets each item once, the other none", async () => {
    const rex = await login(ts, "rex", "desk");
    await online(rex, NO_TUNE);
    await settle(rex, NO_TUNE);
    expectResult(await publish(rex, TUNE, "r1", tune("One")));

    const a = await login(ts, "qua", "a");
    const first = await online(a, WANTS_TUNE);
    expect(notifications([...first.before, ...(await settle(a, WANTS_TUNE))])).toEqual([`rex@localhost ${TUNE}/r1`]);
    const b = await login(ts, "qua", "b");
    await online(b, NO_TUNE);
    expect(notifications(await settle(b, NO_TUNE))).toEqual([]);
    await settle(a, WANTS_TUNE);
    await settle(rex, NO_TUNE);

    expectResult(await publish(rex, TUNE, "r2", tune("Two")));
    expect(await nextFrom(a, "rex@localhost")).toBe(`rex@localhost ${TUNE}/r2`);
    expect(await quiet(a)).toEqual([]);
    expect(await quiet(b)).toEqual([]);
  });
});
