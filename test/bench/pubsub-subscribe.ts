// Subscribing many JIDs to one node: the pubsub protocol layer and service as mod_pubsub runs them
// (handlePubsubIq -> PubsubService -> HeraldPubsubStore writing behind, replies through
// DurableReplies: each answered once what it wrote is durable), in this process, on Herald's memory
// storage and on LevelDB (synced writes, as in production). For each count, a new node; that many
// distinct full JIDs subscribe one after another (`--inflight` requests outstanding, the node's lock
// orders them); then each JID's subscription is read back (§6.3.2 options get) and the first tenth
// unsubscribe. Prints subscribes/s over the whole run and over its last tenth (where a per-request
// walk over the node's subscribers shows most), and options gets and unsubscribes per second.
// A benchmark: it prints figures and never fails on them.
//
//   npm run build && node dist/test/bench/pubsub-subscribe.js [--counts 1000,10000,20000]
//       [--stores memory,leveldb] [--inflight 16]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PubsubService } from "../../src/util/pubsub/index.js";
import { LevelStorage } from "../../src/storage/leveldb.js";
import { MemoryStorage } from "../../src/storage/memory.js";
import type { StorageDriver } from "../../src/storage/types.js";
import { HeraldPubsubStore, STORE_NAMES } from "../../modules/lib/pubsub/store.js";
import { handlePubsubIq } from "../../modules/lib/pubsub/protocol.js";
import { DurableReplies } from "../../modules/lib/pubsub/replies.js";
import type { PubsubContext } from "../../modules/lib/pubsub/context.js";
import { Element } from "../../src/xml/stanza.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const HOST = "pubsub.localhost";
const OWNER = "owner@localhost/bench";

interface Options {
  counts: number[];
  stores: Array<"memory" | "leveldb">;
  inflight: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { counts: [1000, 10000, 20000], stores: ["memory", "leveldb"], inflight: 16 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ""), argv[i + 1]];
    if (k === "counts") o.counts = v.split(",").map(Number);
    else if (k === "stores") o.stores = v.split(",") as Options["stores"];
    else if (k === "inflight") o.inflight = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  return o;
}

interface Bench {
  ctx: PubsubContext;
  replies: DurableReplies;
}

/** The service as mod_pubsub sets it up: the store writes behind, replies wait until durable. */
function contextOver(storage: StorageDriver): Bench {
  const store = new HeraldPubsubStore(
    {
      nodes: storage.keyval(HOST, STORE_NAMES.nodes),
      subscriptions: storage.map(HOST, STORE_NAMES.subscriptions),
      items: storage.archive(HOST, STORE_NAMES.items),
    },
    { writeBehind: true },
  );
  let n = 0;
  const service = new PubsubService({
    store,
    broadcaster: { notify: () => undefined },
    access: { isSubscribedToPresence: async () => false, rosterGroups: async () => null },
    generateId: () => `s${(++n).toString(36)}`,
  });
  const ctx: PubsubContext = {
    service,
    jid: HOST,
    broadcast: async () => undefined,
    send: async () => undefined,
    identity: { category: "pubsub", type: "service" },
    presenceEvents: false,
    presenceAware: false,
    adhocCommands: false,
  };
  const replies = new DurableReplies({
    store,
    broadcaster: { pending: false, idle: async () => undefined, waitsFor: () => false },
    failure: (request, err) => {
      throw new Error(`not stored: ${String(err)} (${request})`);
    },
    onError: (err) => {
      throw err;
    },
  });
  return { ctx, replies };
}

let ids = 0;
function iq(from: string, type: "get" | "set", child: Element): Element {
  return new Element("iq", { type, from, to: HOST, id: `b${++ids}` }, [new Element("pubsub", { xmlns: NS_PUBSUB }, [child])]);
}

/** One request, answered as mod_pubsub answers it: once what it wrote is durable. */
async function expectResult({ ctx, replies }: Bench, stanza: Element): Promise<void> {
  const r = await replies.reply(stanza, () => handlePubsubIq(ctx, stanza));
  let reply: Element;
  if ("now" in r) reply = r.now.reply;
  else {
    reply = (await r.later).reply;
    await r.afterSent();
  }
  if (reply.attrs.type !== "result") throw new Error(`request failed: ${reply}`);
}

/** Run `count` requests, `inflight` at a time; resolves with the ms each tenth ended at. */
async function run(count: number, inflight: number, request: (i: number) => Promise<void>): Promise<number[]> {
  const start = performance.now();
  const marks: number[] = [];
  let next = 0;
  let done = 0;
  const tenth = Math.max(1, Math.floor(count / 10));
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await request(i);
      done++;
      if (done % tenth === 0) marks.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, count) }, worker));
  if (marks.length === 0 || done % tenth !== 0) marks.push(performance.now() - start);
  return marks;
}

async function bench(kind: "memory" | "leveldb", count: number, o: Options): Promise<string> {
  const dir = kind === "leveldb" ? mkdtempSync(join(tmpdir(), "herald-bench-subscribe-")) : undefined;
  const storage: StorageDriver = dir ? new LevelStorage(join(dir, "herald.db")) : new MemoryStorage();
  await storage.open();
  try {
    const ctx = contextOver(storage);
    const node = `bench-${kind}-${count}`;
    await expectResult(ctx, iq(OWNER, "set", new Element("create", { node })));
    const jid = (i: number) => `user${i}@localhost/r${i % 7}`;
    const subscribe = await run(count, o.inflight, (i) => expectResult(ctx, iq(jid(i), "set", new Element("subscribe", { node, jid: jid(i) }))));
    const options = await run(count, o.inflight, (i) => expectResult(ctx, iq(jid(i), "get", new Element("options", { node, jid: jid(i) }))));
    const leaving = Math.max(1, Math.floor(count / 10));
    const unsubscribe = await run(leaving, o.inflight, (i) => expectResult(ctx, iq(jid(i), "set", new Element("unsubscribe", { node, jid: jid(i) }))));
    const total = subscribe[subscribe.length - 1];
    const lastTenth = total - (subscribe.length > 1 ? subscribe[subscribe.length - 2] : 0);
    const rate = (n: number, ms: number) => Math.round((n * 1000) / ms).toLocaleString("en-US");
    return [
      kind.padEnd(8),
      String(count).padStart(6),
      rate(count, total).padStart(10),
      rate(count / 10, lastTenth).padStart(12),
      (total / 1000).toFixed(2).padStart(8),
      rate(count, options[options.length - 1]).padStart(11),
      rate(leaving, unsubscribe[unsubscribe.length - 1]).padStart(12),
    ].join(" | ");
  } finally {
    await storage.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(`subscribers to one node, ${o.inflight} requests in flight (node ${process.version})`);
  console.log("store    | count  | subscr./s  | last 10 %/s  | total s  | options/s   | unsubscr./s");
  for (const kind of o.stores) {
    for (const count of o.counts) console.log(await bench(kind, count, o));
  }
}

await main();
