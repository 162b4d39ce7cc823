// kill -9 in the middle of write storms: a real Herald process (bin/herald start, LevelDB in a
// temporary data_path) takes a publish storm (32 publishes in flight), a roster storm and a
// registration storm at once, and is killed with SIGKILL at a random moment. Restarted on the same
// data, it must hold everything it acknowledged: every item whose publish got its IQ result, with
// its payload; every roster item whose roster set got its result; every account whose registration
// got its result; every subscription (and unsubscription) an owner made and got a result for. What was sent but not acknowledged may or may not be there (but if an item is
// there, its payload is the one sent). Three kills, then a last check.
//
// Needs `npm run build` (the child runs dist/). The kill moments come from a seeded generator; the
// seed is printed, and HERALD_CRASH_SEED=<seed> repeats a run's schedule.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports.js";
import { startHeraldProcess } from "../cli/herald-process.js";
// mulberry32, seeded: a failing schedule can be replayed.
import { rng as seeded } from "../helpers/hostile.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERALD = join(ROOT, "bin/herald");
const NS = "http://jabber.org/protocol/pubsub";
const NS_RSM = "http://jabber.org/protocol/rsm";
const NS_ROSTER = "jabber:iq:roster";
const NS_REGISTER = "jabber:iq:register";
const PAYLOAD_NS = "urn:test:crash";
const NODE = "storm";
const KILLS = 3;
const PUBLISHES_IN_FLIGHT = 32;
const ROSTER_SETS_IN_FLIGHT = 8;
const SUBSCRIBES_IN_FLIGHT = 8;
const REGISTRATIONS_IN_FLIGHT = 3;

let dir: string;
let port: number;

/** The newest modification time of the .ts files below `sub` (skipping tests). */
function newestSource(sub: string): number {
  let newest = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, sub));
  return newest;
}

type Running = Awaited<ReturnType<typeof startHeraldProcess>>;

const startHerald = (): Promise<Running> => startHeraldProcess(process.execPath, [HERALD, "start", "-c", "herald.cfg.lua"], { cwd: dir, timeoutMs: 60_000 });

/**
 * Many requests in flight on one connection: each waits for the iq answer with its id. When the
 * connection goes away, every request still waiting gets `undefined` (no answer: not acknowledged).
 */
class Pipeline {
  private readonly waiting = new Map<string, (el: Element | undefined) => void>();
  gone = false;
  readonly done: Promise<void>;

  constructor(private readonly c: RawClient) {
    this.done = this.read();
  }

  private async read(): Promise<void> {
    for (;;) {
      let ev;
      try {
        ev = await this.c.nextEvent(120_000);
      } catch {
        break;
      }
      if (ev.kind === "end" || ev.kind === "error") break;
      const el = ev.el;
      if (ev.kind !== "stanza" || !el || el.name !== "iq") continue;
      if (el.attrs.type !== "result" && el.attrs.type !== "error") continue;
      const answer = this.waiting.get(el.attrs.id ?? "");
      if (answer) {
        this.waiting.delete(el.attrs.id!);
        answer(el);
      }
    }
    this.gone = true;
    for (const answer of this.waiting.values()) answer(undefined);
    this.waiting.clear();
  }

  request(id: string, stanza: string): Promise<Element | undefined> {
    if (this.gone) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      try {
        this.c.send(stanza);
      } catch {
        /* the connection is gone; read() answers undefined */
      }
    });
  }
}

/** What was sent and what was acknowledged, over all rounds. */
const sentItems = new Map<string, string>();
const ackedItems = new Map<string, string>();
const ackedContacts = new Map<string, string>();
const ackedAccounts = new Map<string, string>();
/** JID -> true (subscribed) / false (unsubscribed), as acknowledged; a JID whose change was not acknowledged is dropped. */
const ackedSubscriptions = new Map<string, boolean>();
const unexpected: string[] = [];

async function publishStorm(p: Pipeline, round: number, stop: { now: boolean }): Promise<void> {
  let seq = 0;
  const worker = async () => {
    while (!p.gone && !stop.now) {
      const id = `r${round}-${seq++}`;
      const payload = `${id}:${Math.random().toString(36).slice(2)}`;
      sentItems.set(id, payload);
      const r = await p.request(
        id,
        `<iq type='set' to='pubsub.localhost' id='${id}'><pubsub xmlns='${NS}'><publish node='${NODE}'><item id='${id}'><entry xmlns='${PAYLOAD_NS}'>${payload}</entry></item></publish></pubsub></iq>`,
      );
      if (!r) return;
      if (r.attrs.type === "result") ackedItems.set(id, payload);
      else unexpected.push(`publish ${id}: ${r}`);
    }
  };
  await Promise.all(Array.from({ length: PUBLISHES_IN_FLIGHT }, worker));
}

async function rosterStorm(p: Pipeline, round: number, stop: { now: boolean }): Promise<void> {
  let seq = 0;
  const worker = async () => {
    while (!p.gone && !stop.now) {
      const n = seq++;
      const jid = `c${round}-${n}@example.net`;
      const name = `Contact ${round}/${n}`;
      const id = `ro${round}-${n}`;
      const r = await p.request(id, `<iq type='set' id='${id}'><query xmlns='${NS_ROSTER}'><item jid='${jid}' name='${name}'/></query></iq>`);
      if (!r) return;
      if (r.attrs.type === "result") ackedContacts.set(jid, name);
      else unexpected.push(`roster set ${jid}: ${r}`);
    }
  };
  await Promise.all(Array.from({ length: ROSTER_SETS_IN_FLIGHT }, worker));
}

/** The owner subscribes other JIDs to the node and unsubscribes some of those it subscribed (every fourth request). */
async function subscriptionStorm(p: Pipeline, round: number, stop: { now: boolean }): Promise<void> {
  let seq = 0;
  const worker = async () => {
    while (!p.gone && !stop.now) {
      const n = seq++;
      const subscribed = [...ackedSubscriptions].filter(([, on]) => on).map(([jid]) => jid);
      const unsubscribe = n % 4 === 3 && subscribed.length > 0;
      const jid = unsubscribe ? subscribed[n % subscribed.length] : `s${round}-${n}@example.net`;
      // Until its answer, what the store holds for this JID is not known.
      ackedSubscriptions.delete(jid);
      const id = `su${round}-${n}`;
      const op = unsubscribe ? `<unsubscribe node='${NODE}' jid='${jid}'/>` : `<subscribe node='${NODE}' jid='${jid}'/>`;
      const r = await p.request(id, `<iq type='set' to='pubsub.localhost' id='${id}'><pubsub xmlns='${NS}'>${op}</pubsub></iq>`);
      if (!r) return;
      if (r.attrs.type === "result") ackedSubscriptions.set(jid, !unsubscribe);
      else unexpected.push(`${unsubscribe ? "unsubscribe" : "subscribe"} ${jid}: ${r}`);
    }
  };
  await Promise.all(Array.from({ length: SUBSCRIBES_IN_FLIGHT }, worker));
}

async function registrationStorm(round: number, stop: { now: boolean }): Promise<void> {
  let seq = 0;
  const worker = async () => {
    while (!stop.now) {
      const user = `reg${round}x${seq++}`;
      const password = `pw-${user}`;
      let c: RawClient | undefined;
      try {
        c = await RawClient.connect(port);
        await c.stream();
        const r = await c.iq(
          `<iq type='set' id='${user}'><query xmlns='${NS_REGISTER}'><username>${user}</username><password>${password}</password></query></iq>`,
          60_000,
        );
        if (r.attrs.type === "result") ackedAccounts.set(user, password);
        else unexpected.push(`registration ${user}: ${r}`);
      } catch {
        return; // the server is gone (refused, closed): this registration was not acknowledged
      } finally {
        c?.close();
      }
    }
  };
  await Promise.all(Array.from({ length: REGISTRATIONS_IN_FLIGHT }, worker));
}

function login(user: string, password: string, resource = "crash"): Promise<RawClient> {
  return RawClient.login(port, user, password, { noTls: true, resource });
}

/** Every item of the node, id -> payload text, through XEP-0059 pages. */
async function allItems(c: RawClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | undefined;
  for (let page = 0; ; page++) {
    const set = `<set xmlns='${NS_RSM}'><max>1000</max>${after === undefined ? "" : `<after>${after}</after>`}</set>`;
    const r = await c.iq(`<iq type='get' to='pubsub.localhost' id='items${page}'><pubsub xmlns='${NS}'><items node='${NODE}'/>${set}</pubsub></iq>`, 60_000);
    if (r.attrs.type !== "result") throw new Error(`items: ${r}`);
    const pubsub = r.getChild("pubsub", NS)!;
    const items = pubsub.getChild("items")!.childElements("item");
    for (const item of items) out.set(item.attrs.id!, item.getChild("entry", PAYLOAD_NS)?.getText() ?? "");
    const last = pubsub.getChild("set", NS_RSM)?.getChildText("last");
    if (items.length === 0 || last === undefined) return out;
    after = last;
  }
}

/** Check everything acknowledged so far against the restarted server. */
async function verify(round: number): Promise<void> {
  const admin = await login("admin", "admin-pw");
  const rosa = await login("rosa", "rosa-pw");
  try {
    const items = await allItems(admin);
    const missingItems = [...ackedItems].filter(([id, payload]) => items.get(id) !== payload).map(([id]) => `${id}: ${items.get(id) ?? "missing"}`);
    expect(missingItems, `after kill ${round}: acknowledged items lost or changed`).toEqual([]);
    // Nothing that was never sent, and nothing sent with another payload.
    const foreign = [...items].filter(([id, payload]) => sentItems.get(id) !== payload).map(([id]) => id);
    expect(foreign, `after kill ${round}: items not as published`).toEqual([]);

    const subs = await admin.iq(`<iq type='get' to='pubsub.localhost' id='subs${round}'><pubsub xmlns='${NS}#owner'><subscriptions node='${NODE}'/></pubsub></iq>`, 60_000);
    expect(subs.attrs.type, String(subs)).toBe("result");
    const subscribedNow = new Set(
      subs
        .getChild("pubsub", `${NS}#owner`)!
        .getChild("subscriptions")!
        .childElements("subscription")
        .filter((s) => s.attrs.subscription === "subscribed")
        .map((s) => s.attrs.jid!),
    );
    const wrongSubscriptions = [...ackedSubscriptions].filter(([jid, on]) => subscribedNow.has(jid) !== on).map(([jid, on]) => `${jid} (${on ? "lost" : "back"})`);
    expect(wrongSubscriptions, `after kill ${round}: acknowledged subscription changes lost`).toEqual([]);

    const roster = await rosa.iq(`<iq type='get' id='roster${round}'><query xmlns='${NS_ROSTER}'/></iq>`, 60_000);
    expect(roster.attrs.type).toBe("result");
    const have = new Map(roster.getChild("query", NS_ROSTER)!.childElements("item").map((i) => [i.attrs.jid!, i.attrs.name]));
    const missingContacts = [...ackedContacts].filter(([jid, name]) => have.get(jid) !== name).map(([jid]) => jid);
    expect(missingContacts, `after kill ${round}: acknowledged roster items lost`).toEqual([]);
  } finally {
    admin.close();
    rosa.close();
  }
  // Every acknowledged account logs in with its password (SCRAM: the stored keys are intact).
  const lostAccounts: string[] = [];
  for (const [user, password] of ackedAccounts) {
    try {
      (await login(user, password)).close();
    } catch (err) {
      lostAccounts.push(`${user}: ${(err as Error).message.slice(0, 120)}`);
    }
  }
  expect(lostAccounts, `after kill ${round}: acknowledged registrations lost`).toEqual([]);
  expect(unexpected).toEqual([]);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/bin/cli.js"))) throw new Error("run `npm run build` first");
  // The child runs the compiled code: make sure it is the code under test.
  const built = statSync(join(ROOT, "dist/bin/cli.js")).mtimeMs;
  for (const sub of ["src", "modules", "bin"]) {
    if (newestSource(sub) > built) throw new Error(`dist/ is older than ${sub}/: run \`npm run build\` first`);
  }
  dir = mkdtempSync(join(tmpdir(), "herald-crash-"));
  port = await freePort();
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `-- kill -9 test
data_path = "data"
storage = "internal"
admins = { "admin@localhost" }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
roster_max_items = 1000000
log = "info"
modules_enabled = { "roster", "register" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
pubsub_max_items = 1000000
`,
  );
  for (const [jid, password] of [
    ["admin@localhost", "admin-pw"],
    ["rosa@localhost", "rosa-pw"],
  ]) {
    const r = spawnSync(process.execPath, [HERALD, "adduser", jid, "-c", "herald.cfg.lua"], { cwd: dir, input: `${password}\n`, encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`adduser ${jid}: ${r.stdout}${r.stderr}`);
  }
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("kill -9 during write storms (LevelDB)", () => {
  it("every acknowledged publish, roster set, subscription change and registration survives SIGKILL at a random moment", async () => {
    const seed = Number(process.env.HERALD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = seeded(seed);
    console.log(`kill -9 test: seed ${seed} (HERALD_CRASH_SEED=${seed} repeats the kill schedule)`);
    let server = await startHerald();
    try {
      const admin = await login("admin", "admin-pw");
      const created = await admin.iq(
        `<iq type='set' to='pubsub.localhost' id='create'><pubsub xmlns='${NS}'><create node='${NODE}'/><configure><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS}#node_config</value></field><field var='pubsub#max_items'><value>max</value></field></x></configure></pubsub></iq>`,
      );
      expect(created.attrs.type, String(created)).toBe("result");
      admin.close();

      for (let round = 1; round <= KILLS; round++) {
        const publisher = await login("admin", "admin-pw");
        const rosa = await login("rosa", "rosa-pw");
        const owner = await login("admin", "admin-pw", "owner");
        const pubs = new Pipeline(publisher);
        const rosterPipe = new Pipeline(rosa);
        const subsPipe = new Pipeline(owner);
        const stop = { now: false };
        const before = ackedItems.size;
        const storms = Promise.all([
          publishStorm(pubs, round, stop),
          rosterStorm(rosterPipe, round, stop),
          subscriptionStorm(subsPipe, round, stop),
          registrationStorm(round, stop),
        ]);
        // Kill once the storm is under way, at a random moment in the next 0.2-1.5 s.
        const underWay = Date.now() + 60_000;
        while (ackedItems.size < before + PUBLISHES_IN_FLIGHT && !pubs.gone && unexpected.length === 0 && Date.now() < underWay) {
          await new Promise((r) => setTimeout(r, 5));
        }
        const delay = 200 + Math.floor(random() * 1300);
        await new Promise((r) => setTimeout(r, delay));
        server.child.kill("SIGKILL");
        await server.exited;
        stop.now = true;
        await storms;
        await Promise.all([pubs.done, rosterPipe.done, subsPipe.done]);
        console.log(
          `kill ${round} after ${delay} ms: ${ackedItems.size} items, ${ackedContacts.size} roster items, ${ackedSubscriptions.size} subscription changes, ${ackedAccounts.size} accounts acknowledged so far`,
        );
        expect(server.child.signalCode).toBe("SIGKILL");
        server = await startHerald();
        await verify(round);
      }
      // The storms really stormed: publishes were acknowledged in every round.
      for (let round = 1; round <= KILLS; round++) expect([...ackedItems.keys()].some((id) => id.startsWith(`r${round}-`))).toBe(true);
      expect([...ackedSubscriptions.values()].filter((on) => on).length).toBeGreaterThan(0);
      expect([...ackedSubscriptions.values()].filter((on) => !on).length).toBeGreaterThan(0);
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGTERM");
        await server.exited;
      }
    }
  }, 180_000);
});
