// A slow federated server must not slow anyone else down. pubsub.a.test has subscribers on three
// servers: alice on a.test itself, bob on b.test (a real Herald that reads at once) and 120 users
// of slow.test, a raw s2s peer (SASL EXTERNAL with a certificate from the test CA, bidirectional,
// XEP-0288) that stops reading its real loopback socket. Flow control is per server: while slow.test
// reads nothing, every notification reaches alice and bob (each in publish order), and slow.test's
// wait only where it is sent. Before, the service's broadcaster waited for slow.test (up to
// REMOTE_FLOW_WAIT_MS per congestion) before it went on to the next event, for everyone.
//
// Not a stopwatch: the test lets slow.test read (until a.test has nothing left waiting for it) only
// when nothing has arrived for alice and bob for QUIET_MS, and counts how often. Held up behind
// slow.test, every publish needs one such read; with flow control per server, none is needed (the
// bound below leaves room for a loaded machine). Then slow.test reads again and gets every
// notification, in order per subscriber: nothing waiting for it was lost.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { A, B, MODULES, RawS2S, login, makePki, startPair, type Pair, type Pki } from "./helpers.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_EVENT = `${NS_PUBSUB}#event`;
const SLOW = "slow.test";
const SERVICE = `pubsub.${A.domain}`;
const SLOW_USERS = 120;
/** About 4 MB for slow.test per publish: more than the kernel's socket buffers take after a read. */
const PAYLOAD = "x".repeat(32 * 1024);
const PUBLISHES = 10;
/** Well under REMOTE_FLOW_WAIT_MS, what a publish held up behind slow.test used to wait at most. */
const QUIET_MS = 500;

/** Item ids of the pubsub notifications `c` receives, in arrival order, per recipient (`to`, bare). */
function collect(c: RawClient | RawS2S, into: Map<string, string[]>, stop: { done: boolean }): Promise<void> {
  return (async () => {
    while (!stop.done && !c.closed) {
      let el: Element;
      try {
        el = await c.next(500);
      } catch (err) {
        if (/nothing received/.test((err as Error).message)) continue;
        return;
      }
      const id = el.getChild("event", NS_EVENT)?.getChild("items")?.getChild("item")?.attrs.id;
      if (el.name !== "message" || !id) continue;
      const to = (el.attrs.to ?? "").split("/")[0];
      const list = into.get(to) ?? [];
      list.push(id);
      into.set(to, list);
    }
  })();
}

/** slow.test (connected to pubsub.a.test, bidirectional), alice, bob and admin, and the node "news" they subscribe to. */
async function setUp(pair: Pair, pki: Pki) {
  // slow.test connects to pubsub.a.test and asks for a bidirectional stream: a.test sends it
  // everything for slow.test on this connection.
  const slow = await RawS2S.connect(A.ip, pair.ports.a);
  await slow.open(SLOW, SERVICE);
  await slow.starttls(SERVICE, pki.pem[SLOW]);
  const features = await slow.open(SLOW, SERVICE);
  expect(features.getChild("bidi", "urn:xmpp:features:bidi")).toBeDefined();
  slow.send("<bidi xmlns='urn:xmpp:bidi'/>");
  slow.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`);
  expect((await slow.next()).name).toBe("success");
  await slow.open(SLOW, SERVICE);

  const admin = await login(pair.a, "admin", A.domain);
  const alice = await login(pair.a, "alice", A.domain);
  const bob = await login(pair.b, "bob", B.domain);
  for (const c of [alice, bob]) {
    c.send("<presence/>");
    await c.sync();
  }
  const created = await admin.iq(`<iq type='set' to='${SERVICE}' id='c'><pubsub xmlns='${NS_PUBSUB}'><create node='news'/></pubsub></iq>`, 20000);
  expect(created.attrs.type).toBe("result");
  const slowUsers = Array.from({ length: SLOW_USERS }, (_, i) => `u${i}@${SLOW}`);
  const subs = [`alice@${A.domain}`, `bob@${B.domain}`, ...slowUsers].map((jid) => `<subscription jid='${jid}' subscription='subscribed'/>`).join("");
  const set = await admin.iq(`<iq type='set' to='${SERVICE}' id='s'><pubsub xmlns='${NS_PUBSUB}#owner'><subscriptions node='news'>${subs}</subscriptions></pubsub></iq>`, 20000);
  expect(set.attrs.type).toBe("result");

  const got = { alice: new Map<string, string[]>(), bob: new Map<string, string[]>(), slow: new Map<string, string[]>() };
  const stop = { done: false };
  const readers = [collect(alice, got.alice, stop), collect(bob, got.bob, stop), collect(slow, got.slow, stop)];
  const count = (m: Map<string, string[]>) => [...m.values()].reduce((n, l) => n + l.length, 0);
  const published: string[] = [];
  const publish = async (id: string, payload = PAYLOAD) => {
    const r = await admin.iq(`<iq type='set' to='${SERVICE}' id='p-${id}'><pubsub xmlns='${NS_PUBSUB}'><publish node='news'><item id='${id}'><entry xmlns='urn:test'>${payload}</entry></item></publish></pubsub></iq>`, 60000);
    expect(r.attrs.type).toBe("result");
    published.push(id);
  };
  const until = async (cond: () => boolean, what: string, ms = 30000) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const close = async () => {
    stop.done = true;
    slow.socket.resume();
    await Promise.all(readers);
    for (const c of [admin, alice, bob]) c.close();
    slow.close();
  };
  return { slow, admin, alice, bob, slowUsers, got, count, published, publish, until, close };
}

describe("a slow federated server", () => {
  let pair: Pair;
  let pki: Pki;
  beforeAll(async () => {
    pki = makePki([A.domain, B.domain, SLOW]);
    pair = await startPair({ pki, extra: "s2s_send_buffer_pause = 16384" });
  }, 60000);
  afterAll(async () => {
    await pair?.stop();
  });

  it("holds back only its own notifications: local subscribers and other servers get theirs while it reads nothing, and it gets all of them once it reads", async () => {
    const { slow, slowUsers, got, count, published, publish, until, close } = await setUp(pair, pki);
    /** Bytes a.test has written to slow.test that slow.test has not taken. */
    const waitingForSlow = () => pair.a.server.s2s!.list().find((r) => r.remote === SLOW && r.direction === "in")?.buffered ?? 0;
    /**
     * slow.test reads until a.test has nothing left waiting for it, then stops again at once (what
     * it read was replaced in the kernel's buffers by what waited, so they stay about full).
     */
    let reads = 0;
    const readOnce = async () => {
      reads++;
      let check: () => void = () => {};
      const caughtUp = new Promise<void>((resolve) => {
        check = () => {
          if (waitingForSlow() !== 0) return;
          slow.socket.pause();
          resolve();
        };
      });
      slow.socket.on("data", check);
      slow.socket.resume();
      check();
      const timer = setInterval(check, 5);
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([caughtUp, new Promise((_, fail) => (timeout = setTimeout(() => fail(new Error("slow.test did not catch up")), 60000)))]);
      } finally {
        clearInterval(timer);
        clearTimeout(timeout);
        slow.socket.off("data", check);
      }
    };

    try {
      // Every route is up, and everyone reads.
      await publish("first");
      await until(() => count(got.alice) === 1 && count(got.bob) === 1 && count(got.slow) === SLOW_USERS, "the first notifications");

      // slow.test stops reading; publishes until more than s2s_send_buffer_pause waits for it
      // (the kernel's socket buffers take a few megabytes first).
      slow.socket.pause();
      for (let k = 0; waitingForSlow() <= 16384; k++) {
        expect(k).toBeLessThan(200);
        await publish(`fill${k}`);
      }
      // One read that leaves a.test nothing waiting (the kernel's buffers stay about full): from
      // here, each publish congests the connection to slow.test again.
      await readOnce();
      reads = 0;
      const filled = published.length;
      await until(() => count(got.alice) === filled && count(got.bob) === filled, "the notifications so far");

      // The measured part: publishes one after the other (each waits for its reply); slow.test
      // reads only when alice and bob have received nothing for QUIET_MS.
      const publishing = (async () => {
        for (let k = 0; k < PUBLISHES; k++) await publish(`m${k}`);
      })();
      const total = filled + PUBLISHES;
      let last = -1;
      let quietSince = Date.now();
      while (count(got.alice) < total || count(got.bob) < total) {
        const now = count(got.alice) + count(got.bob);
        if (now !== last) {
          last = now;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= QUIET_MS) {
          expect(reads).toBeLessThan(PUBLISHES * 3);
          await readOnce();
          quietSince = Date.now();
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await publishing;
      const readsNeeded = reads;
      const slowHadBeforeResume = [...got.slow.values()].flat().filter((id) => id.startsWith("m")).length;

      // Alice and bob got every notification, in publish order.
      expect(got.alice.get(`alice@${A.domain}`)).toEqual(published);
      expect(got.bob.get(`bob@${B.domain}`)).toEqual(published);
      // Without waiting for slow.test: held up behind it, each of the PUBLISHES would need a read.
      expect(readsNeeded).toBeLessThan(PUBLISHES / 2);
      // When it read nothing at all meanwhile, slow.test had none of them (they wait behind what
      // fills the kernel's buffers).
      if (readsNeeded === 0) expect(slowHadBeforeResume).toBe(0);

      // slow.test reads again: every notification, in publish order for each of its users.
      slow.socket.resume();
      await until(() => count(got.slow) === SLOW_USERS * published.length, "slow.test's notifications", 60000);
      for (const u of slowUsers) expect(got.slow.get(u)).toEqual(published);
      // The connection was never dropped (nothing lost at s2s_send_buffer_limit).
      expect(slow.closed).toBe(false);
    } finally {
      await close();
    }
  }, 180000);
});

describe("a federated server that reads nothing at all", () => {
  let pair: Pair;
  let pki: Pki;
  const warnings: string[] = [];
  beforeAll(async () => {
    pki = makePki([A.domain, B.domain, SLOW]);
    const limits = "s2s_send_buffer_pause = 16384\ns2s_send_buffer_limit = 65536\npubsub_remote_queue_limit = 65536";
    const modules = `modules_enabled = { ${[...MODULES, "http_openmetrics"].map((m) => `"${m}"`).join("; ")} }`;
    pair = await startPair({ pki, extra: `${limits}\n${modules}`, logSinksA: [{ level: "warn", write: (line) => warnings.push(line) }] });
  }, 60000);
  afterAll(async () => {
    await pair?.stop();
  });

  it("loses its connection at s2s_send_buffer_limit, with a warning and in /metrics; nobody else loses anything", async () => {
    const { slow, got, count, published, publish, until, close } = await setUp(pair, pki);
    const scrape = async () => (await fetch(`http://127.0.0.1:${pair.a.httpPort}/metrics`)).text();
    const value = (text: string, sample: string) => {
      for (const line of text.split("\n")) if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
      return 0;
    };
    const connected = () => pair.a.server.s2s!.list().some((r) => r.remote === SLOW && r.direction === "in");
    try {
      // Small notifications first (less than the limits in all), while slow.test reads.
      await publish("first", "small");
      await until(() => count(got.alice) === 1 && count(got.bob) === 1 && count(got.slow) === SLOW_USERS, "the first notifications");
      const before = await scrape();
      expect(value(before, "herald_s2s_send_buffer_overflows_total")).toBe(0);

      // slow.test reads nothing: once the kernel's buffers are full, what waits for it soon exceeds
      // pubsub_remote_queue_limit, then s2s_send_buffer_limit, and a.test drops the connection.
      slow.socket.pause();
      for (let k = 0; connected(); k++) {
        expect(k).toBeLessThan(100);
        await publish(`fill${k}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Publishing goes on; slow.test is unreachable now (its notifications bounce).
      for (const id of ["after1", "after2"]) await publish(id);
      await until(() => count(got.alice) === published.length && count(got.bob) === published.length, "alice's and bob's notifications");
      expect(got.alice.get(`alice@${A.domain}`)).toEqual(published);
      expect(got.bob.get(`bob@${B.domain}`)).toEqual(published);

      const after = await scrape();
      expect(value(after, "herald_s2s_send_buffer_overflows_total")).toBe(1);
      expect(value(after, "herald_s2s_send_buffer_lost_bytes_total")).toBeGreaterThan(65536);
      expect(value(after, `herald_pubsub_remote_queue_overflows_total{host="${SERVICE}"}`)).toBeGreaterThanOrEqual(1);
      expect(value(after, `herald_pubsub_remote_held_notifications_total{host="${SERVICE}"}`)).toBeGreaterThan(0);
      expect(warnings.some((l) => l.includes("s2s_send_buffer_limit") && l.includes(SLOW))).toBe(true);
      expect(warnings.some((l) => l.includes("pubsub_remote_queue_limit") && l.includes(SLOW))).toBe(true);
    } finally {
      await close();
    }
  }, 180000);
});
