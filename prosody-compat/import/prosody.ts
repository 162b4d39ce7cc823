// `herald import prosody <data_path>`: Prosody's internal file store into Herald's stores.
//
// Prosody keeps `<data_path>/<host>/<store>/<user>.dat` (keyval and map stores, `return {...};`),
// `<data_path>/<host>/<store>/<user>.list` (archives, `item({...});` records), and `<store>.dat` /
// `<store>.list` directly under the host for host-wide data; every name is %-encoded (`%2e` for
// "."). What is read, per host configured in Herald:
//   VirtualHost: accounts (internal_hashed SCRAM-SHA-1 keys, kept as they are), roster, vcard,
//                private, blocklist, offline (archive), pep (node records), pep_<node> (item
//                archives) and the message archive (mod_mam's `archive_store`, "archive");
//   Component "pubsub": pubsub_nodes (node records with affiliations and subscribers) and
//                pubsub_<node> (item archives).
// Everything is written through the account store and the modules' own store formats, so Herald's
// modules read it as if they had written it. Re-running gives the same result: existing accounts
// are kept, roster items, vCards, private XML, node records and items are written under their own
// keys and ids, archived messages keep their archive ids (an id already there is left alone),
// subscriptions are matched by JID, and offline messages already imported (and maybe delivered
// since) are remembered and not imported again.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createAccountStore } from "../../src/auth/accounts.js";
import type { ScramKeys } from "../../src/sasl/credentials.js";
import type { Json, StorageDriver } from "../../src/storage/types.js";
import { jidBare, jidPrep, nodePrep } from "../../src/util/jid.js";
import {
  COMPONENT_NODE_DEFAULTS,
  PEP_NODE_DEFAULTS,
  mergeNodeConfig,
  parseNodeConfigForm,
  type Affiliation,
  type NodeConfig,
  type NodeRecord,
  type PubsubStore,
  type SubscriptionRecord,
} from "../../src/util/pubsub/index.js";
import { AFFILIATIONS } from "../../src/util/pubsub/types.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS, parseSubscriptionOptionsForm } from "../../src/util/pubsub/options.js";
import { Element } from "../../src/xml/stanza.js";
import { elementToJson } from "../../src/xml/json.js";
import { mergeStoredRoster, ROSTER_STORE } from "../../modules/lib/roster/store.js";
import type { JsonElement, StoredItem } from "../../modules/lib/roster/roster.js";
import { pepStore } from "../../modules/lib/pubsub/pep-store.js";
import { archiveValue, DEFAULT_ARCHIVE_STORE, withoutStanzaIdsBy } from "../../modules/mod_mam/archiving.js";
import { Blocklist, type StoredBlocklist } from "../../modules/mod_blocklist/blocklist.js";
import { HeraldPubsubStore, STORE_NAMES } from "../../modules/lib/pubsub/store.js";
import { LuaTable, parseDat, parseList, type LuaValue } from "./lua-data.js";

export interface ImportHost {
  name: string;
  kind: "VirtualHost" | "Component";
  module?: string;
  /** The component's node defaults (its `node_defaults` option, already parsed). */
  nodeDefaults?: Partial<NodeConfig>;
  /** The host's `archive_store` (mod_mam's archive, in Prosody and in Herald); "archive" if unset. */
  archiveStore?: string;
}

export interface ImportOptions {
  dataPath: string;
  storage: StorageDriver;
  hosts: ImportHost[];
  /** Told after every file: files done, files in all, what was just read. */
  progress?: (done: number, total: number, what: string) => void;
}

/** Counts per kind of data: imported (written), unchanged (already there), skipped (not importable). */
export interface ImportRow {
  imported: number;
  unchanged: number;
  skipped: number;
}

export interface ImportSummary {
  rows: Map<string, ImportRow>;
  /** Problems with single files or records, and data Herald does not take (yet). */
  warnings: string[];
  files: number;
}

/** Prosody's store names: every byte but [A-Za-z0-9] as %xx. */
export function decodeProsodyName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

interface DataFile {
  host: ImportHost;
  store: string;
  /** undefined: host-wide (`<store>.dat` / `<store>.list` under the host). */
  user?: string;
  kind: "dat" | "list";
  path: string;
}

/** Every data file of the configured hosts; files of other hosts are reported, not read. */
function listFiles(dataPath: string, hosts: ImportHost[], warnings: string[]): DataFile[] {
  const files: DataFile[] = [];
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const entries = (dir: string) => readdirSync(dir).sort();
  const split = (f: string): [string, "dat" | "list"] | undefined => {
    const m = /^(.*)\.(dat|list)$/.exec(f);
    return m ? [m[1], m[2] as "dat" | "list"] : undefined;
  };
  for (const hostDir of entries(dataPath)) {
    const hostPath = join(dataPath, hostDir);
    if (!statSync(hostPath).isDirectory()) continue;
    const hostName = decodeProsodyName(hostDir);
    const host = byName.get(hostName);
    if (!host) {
      warnings.push(`${hostName}: not a host in Herald's configuration, not imported`);
      continue;
    }
    for (const entry of entries(hostPath)) {
      const p = join(hostPath, entry);
      if (statSync(p).isDirectory()) {
        for (const f of entries(p)) {
          const parts = split(f);
          if (parts) files.push({ host, store: decodeProsodyName(entry), user: decodeProsodyName(parts[0]), kind: parts[1], path: join(p, f) });
        }
      } else {
        const parts = split(entry);
        if (parts) files.push({ host, store: decodeProsodyName(parts[0]), kind: parts[1], path: p });
      }
    }
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Prosody's values
// ---------------------------------------------------------------------------------------------

/** A preserialised stanza (`{ name = ..., attr = {...}, child, "text", ... }`) as an Element. */
export function luaToElement(t: LuaValue | undefined, opts: { dropStamp?: boolean } = {}): Element | undefined {
  if (!(t instanceof LuaTable)) return undefined;
  const name = t.string("name");
  if (name === undefined || name === "") return undefined;
  const attrs: Record<string, string> = {};
  for (const [k, v] of t.table("attr")?.stringEntries() ?? []) {
    if (typeof v === "string") attrs[k] = v;
  }
  // The internal archive adds the time it stored an item as stamp (and stamp_legacy) attributes.
  if (opts.dropStamp) {
    delete attrs.stamp;
    delete attrs.stamp_legacy;
  }
  const el = new Element(name, attrs);
  for (const c of t.array()) {
    if (typeof c === "string") el.children.push(c);
    else {
      const child = luaToElement(c);
      if (child) el.children.push(child);
    }
  }
  return el;
}

/** An archive record's time in milliseconds: `when` (seconds, maybe fractional), or, in older
 * data, the stamp attribute the internal store adds to every item. */
function whenMs(t: LuaTable): number {
  const w = t.number("when");
  if (w !== undefined && Number.isFinite(w) && w >= 0) return Math.round(w * 1000);
  const stamp = Date.parse(t.table("attr")?.string("stamp") ?? "");
  return Number.isFinite(stamp) && stamp >= 0 ? stamp : Date.now();
}

/** An archive record's id: its key, or (records written without one) its position, as Prosody reads it. */
function recordKey(t: LuaTable, index: number): string {
  return t.string("key") ?? String(index + 1);
}

/** Form values for parseNodeConfigForm from Prosody's stored node config (its option names). */
const PROSODY_CONFIG_VARS: Record<string, string> = {
  payload_type: "pubsub#type",
  notify_items: "pubsub#deliver_notifications",
  include_payload: "pubsub#deliver_payloads",
};

function formValue(v: LuaValue): string | string[] | undefined {
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : undefined;
  if (typeof v === "string") return v;
  if (v instanceof LuaTable) {
    const arr = v.array();
    // Sets ({ [x] = true }) as well as lists.
    const list = arr.length > 0 ? arr : v.stringEntries().filter(([, x]) => x === true).map(([k]) => k);
    return list.filter((x): x is string => typeof x === "string");
  }
  return undefined;
}

function nodeConfig(t: LuaTable | undefined, base: Readonly<NodeConfig>, where: string, warnings: string[]): NodeConfig {
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of t?.stringEntries() ?? []) {
    const value = formValue(v);
    const variable = k.startsWith("pubsub#") ? k : (PROSODY_CONFIG_VARS[k] ?? `pubsub#${k}`);
    if (value !== undefined) fields[variable] = value;
  }
  // One bad value must not lose the rest: parse field by field.
  let partial: Partial<NodeConfig> = {};
  for (const [variable, value] of Object.entries(fields)) {
    const r = parseNodeConfigForm({ [variable]: value }, { unknown: "reject" });
    if (r.ok) partial = { ...partial, ...r.value };
    else warnings.push(`${where}: node option ${variable.replace(/^pubsub#/, "")} not imported (${r.text ?? r.error})`);
  }
  return mergeNodeConfig(base, partial);
}

/** A stable subid for an imported subscription, so that a re-run finds the same record. */
function importedSubid(jid: string): string {
  return `prosody-${createHash("sha256").update(jid).digest("hex").slice(0, 16)}`;
}

function subscriptionOptions(v: LuaValue): SubscriptionRecord["options"] {
  const base = { ...DEFAULT_SUBSCRIPTION_OPTIONS };
  if (!(v instanceof LuaTable)) return base;
  const fields: Record<string, string | string[]> = {};
  for (const [k, x] of v.stringEntries()) {
    const value = formValue(x);
    if (value !== undefined && k.startsWith("pubsub#")) fields[k] = value;
  }
  const r = parseSubscriptionOptionsForm(fields);
  return r.ok ? { ...base, ...r.value } : base;
}

// ---------------------------------------------------------------------------------------------
// The import
// ---------------------------------------------------------------------------------------------

/** Where re-runs remember the offline messages already imported (map store, user = account). */
const LEDGER_STORE = "prosody_import";

export async function importProsody(opts: ImportOptions): Promise<ImportSummary> {
  const warnings: string[] = [];
  const rows = new Map<string, ImportRow>();
  const row = (name: string): ImportRow => {
    let r = rows.get(name);
    if (!r) rows.set(name, (r = { imported: 0, unchanged: 0, skipped: 0 }));
    return r;
  };
  const files = listFiles(opts.dataPath, opts.hosts, warnings);
  const { storage } = opts;
  const componentStores = new Map<string, PubsubStore>();
  const componentStore = (host: string): PubsubStore => {
    let s = componentStores.get(host);
    if (!s) {
      s = new HeraldPubsubStore({
        nodes: storage.keyval<Json>(host, STORE_NAMES.nodes),
        subscriptions: storage.map<Json>(host, STORE_NAMES.subscriptions),
        items: storage.archive<Json>(host, STORE_NAMES.items),
      });
      componentStores.set(host, s);
    }
    return s;
  };
  const pepStores = (host: string, user: string): PubsubStore =>
    pepStore({ openMap: (n) => storage.map<Json>(host, n), openArchive: (n) => storage.archive<Json>(host, n) }, user);

  let done = 0;
  for (const file of files) {
    const where = `${file.host.name}/${file.store}${file.user === undefined ? "" : `/${file.user}`}`;
    try {
      await importFile(file, where);
    } catch (err) {
      warnings.push(`${where}: ${(err as Error).message}`);
    }
    opts.progress?.(++done, files.length, where);
  }
  return { rows, warnings, files: files.length };

  async function importFile(file: DataFile, where: string): Promise<void> {
    const text = readFileSync(file.path, "utf8");
    const host = file.host;
    const { store, user } = file;
    if (host.kind === "Component") {
      if (host.module !== "pubsub") {
        row(`${store} (component ${host.module ?? "?"})`).skipped++;
        return;
      }
      if (store === "pubsub_nodes" && user !== undefined && file.kind === "dat") {
        const value = parseDat(text, file.path);
        if (value instanceof LuaTable) await importNode(componentStore(host.name), value, user, { pep: false, host, where });
        return;
      }
      if (store.startsWith("pubsub_") && user === undefined && file.kind === "list") {
        await importItems(componentStore(host.name), store.slice("pubsub_".length), parseList(text, file.path), "pubsub items");
        return;
      }
      row(`${store} (not imported)`).skipped++;
      return;
    }
    // A VirtualHost: every store here is per account.
    const username = user === undefined ? undefined : nodePrep(user);
    if (username === undefined) {
      if (user !== undefined) warnings.push(`${where}: '${user}' is not a valid username`);
      row(`${store} (not imported)`).skipped++;
      return;
    }
    if (file.kind === "dat") {
      const value = parseDat(text, file.path);
      if (!(value instanceof LuaTable)) return;
      switch (store) {
        case "accounts":
          return importAccount(host.name, username, value, where);
        case "roster":
          return importRoster(host.name, username, value, where);
        case "vcard":
          return importVcard(host.name, username, value);
        case "private":
          return importPrivate(host.name, username, value);
        case "blocklist":
          return importBlocklist(host.name, username, value);
        case "pep": {
          const pep = pepStores(host.name, username);
          for (const [node, data] of value.stringEntries()) {
            // Older Prosody kept just `true` (persist_items) for a node: a node with the defaults.
            const record = data === true ? new LuaTable() : data;
            if (record instanceof LuaTable) await importNode(pep, record, node, { pep: true, host, where: `${where} ${node}`, owner: `${username}@${host.name}` });
          }
          return;
        }
      }
    } else {
      if (store === "offline") return importOffline(host.name, username, parseList(text, file.path));
      if (store.startsWith("pep_")) {
        return importItems(pepStores(host.name, username), store.slice("pep_".length), parseList(text, file.path), "PEP items");
      }
      if (store === (host.archiveStore ?? DEFAULT_ARCHIVE_STORE)) return importArchive(host.name, store, username, parseList(text, file.path));
    }
    row(`${store} (not imported)`).skipped++;
  }

  async function importAccount(host: string, username: string, t: LuaTable, where: string): Promise<void> {
    const salt = t.string("salt");
    const iterations = t.number("iteration_count");
    const storedKey = t.string("stored_key");
    const serverKey = t.string("server_key");
    const hex = (s: string | undefined) => (s !== undefined && /^[0-9a-f]{40}$/i.test(s) ? Buffer.from(s, "hex").toString("base64") : undefined);
    const keys: Partial<ScramKeys> = { iterations, storedKey: hex(storedKey), serverKey: hex(serverKey) };
    const accounts = createAccountStore(storage, host);
    if (salt === undefined || salt === "" || keys.storedKey === undefined || keys.serverKey === undefined || !Number.isSafeInteger(iterations) || iterations! < 1) {
      // authentication = "internal_plain" keeps the password itself: Herald derives its own
      // credentials from it (and keeps no password).
      const password = t.string("password");
      if (password !== undefined && password !== "") {
        if (await accounts.exists(username)) row("accounts").unchanged++;
        else {
          await accounts.create(username, password);
          row("accounts").imported++;
        }
        return;
      }
      row("accounts").skipped++;
      warnings.push(`${where}: neither SCRAM-SHA-1 keys (internal_hashed) nor a password (internal_plain) in the account, not imported`);
      return;
    }
    keys.salt = Buffer.from(salt, "utf8").toString("base64");
    const r = await accounts.importAccount(username, keys as ScramKeys);
    if (r === "created") row("accounts").imported++;
    else row("accounts").unchanged++;
  }

  async function importRoster(host: string, username: string, t: LuaTable, where: string): Promise<void> {
    const items = new Map<string, StoredItem>();
    const pending = new Map<string, JsonElement>();
    let ver = 0;
    for (const [key, v] of t.entries) {
      if (!(v instanceof LuaTable)) continue;
      if (key === false) {
        ver = v.number("version") ?? 0;
        for (const [jid, st] of v.table("pending")?.entries ?? []) {
          if (typeof jid !== "string") continue;
          const stanza = luaToElement(st) ?? new Element("presence", { from: jid, to: `${username}@${host}`, type: "subscribe" });
          pending.set(jid, elementToJson(stanza));
        }
        continue;
      }
      if (typeof key !== "string") continue;
      const jid = jidPrep(key);
      const sub = v.string("subscription") ?? "none";
      if (jid === undefined || jidBare(jid) !== jid || !["none", "to", "from", "both"].includes(sub)) {
        warnings.push(`${where}: roster item ${key} not imported`);
        row("roster items").skipped++;
        continue;
      }
      const groups = v.table("groups");
      const item: StoredItem = {
        subscription: sub as StoredItem["subscription"],
        // A set ({ [group] = true }) in Prosody, so in no particular order: sorted here.
        groups: groups ? [...new Set([...groups.stringEntries()].filter(([, x]) => x === true).map(([g]) => g).concat(groups.array().filter((g): g is string => typeof g === "string")))].sort() : [],
      };
      const name = v.string("name");
      if (name !== undefined) item.name = name;
      if (v.string("ask") === "subscribe") item.ask = "subscribe";
      if (v.get("approved") === true) item.approved = true;
      items.set(jid, item);
    }
    const store = storage.map<never>(host, ROSTER_STORE);
    const changed = await mergeStoredRoster(store, username, items, pending, Number.isSafeInteger(ver) && ver > 0 ? ver : 0);
    row("roster items").imported += changed;
    row("roster items").unchanged += items.size - changed;
  }

  async function importVcard(host: string, username: string, t: LuaTable): Promise<void> {
    const vcard = luaToElement(t);
    if (!vcard) {
      row("vCards").skipped++;
      return;
    }
    vcard.attrs.xmlns ??= "vcard-temp";
    const store = storage.keyval<Json>(host, "vcard");
    const value = elementToJson(vcard);
    if (JSON.stringify(await store.get(username)) === JSON.stringify(value)) row("vCards").unchanged++;
    else {
      await store.set(username, value);
      row("vCards").imported++;
    }
  }

  async function importPrivate(host: string, username: string, t: LuaTable): Promise<void> {
    const store = storage.map<Json>(host, "private");
    const entries: Array<[string, Json]> = [];
    for (const [, v] of t.stringEntries()) {
      const el = luaToElement(v);
      if (!el || el.attrs.xmlns === undefined) {
        row("private XML").skipped++;
        continue;
      }
      const key = `${el.name}:${el.attrs.xmlns}`;
      const value = elementToJson(el);
      if (JSON.stringify(await store.get(username, key)) === JSON.stringify(value)) row("private XML").unchanged++;
      else {
        entries.push([key, value]);
        row("private XML").imported++;
      }
    }
    if (entries.length) await store.setMany(username, entries);
  }

  async function importBlocklist(host: string, username: string, t: LuaTable): Promise<void> {
    const store = storage.keyval<StoredBlocklist>(host, "blocklist");
    const old = Blocklist.from(await store.get(username));
    const meta = t.get(false);
    const created = meta instanceof LuaTable ? meta.number("created") : undefined;
    const since = created !== undefined && Number.isFinite(created) ? Math.round(created * 1000) : Date.now();
    // Entries are `[jid] = <when blocked>` (older versions: `true`).
    let list = old;
    let added = 0;
    for (const [jid, v] of t.stringEntries()) {
      const prepped = jidPrep(jid);
      if ((v !== true && typeof v !== "number") || prepped === undefined) row("blocked JIDs").skipped++;
      else if (list.has(prepped)) row("blocked JIDs").unchanged++;
      else {
        list = list.edit("block", [prepped], typeof v === "number" && Number.isFinite(v) ? Math.round(v * 1000) : since);
        added++;
      }
    }
    if (added === 0) return;
    await store.set(username, list.toStored());
    row("blocked JIDs").imported += added;
  }

  async function importOffline(host: string, username: string, records: LuaValue[]): Promise<void> {
    const store = storage.archive<Json>(host, "offline");
    const ledger = storage.map<Json>(host, LEDGER_STORE);
    for (const [i, r] of records.entries()) {
      if (!(r instanceof LuaTable)) continue;
      const stanza = luaToElement(r, { dropStamp: true });
      const key = recordKey(r, i);
      if (!stanza || stanza.name !== "message") {
        row("offline messages").skipped++;
        continue;
      }
      if ((await ledger.get(username, `offline:${key}`)) !== undefined) {
        row("offline messages").unchanged++;
        continue;
      }
      const opts: { id: string; when: number; with?: string } = { id: key, when: whenMs(r) };
      if (stanza.attrs.from !== undefined) opts.with = stanza.attrs.from;
      await store.append(username, elementToJson(stanza), opts);
      await ledger.set(username, `offline:${key}`, true);
      row("offline messages").imported++;
    }
  }

  /**
   * mod_mam's records: the message with `key` (the archive id clients saw as stanza-id), `when`
   * (seconds) and `with` (the bare JID of the other party), as mod_mam writes them.
   */
  async function importArchive(host: string, storeName: string, username: string, records: LuaValue[]): Promise<void> {
    const store = storage.archive<Json>(host, storeName);
    const own = `${username}@${host}`;
    for (const [i, r] of records.entries()) {
      if (!(r instanceof LuaTable)) continue;
      const stanza = luaToElement(r, { dropStamp: true });
      if (!stanza || stanza.name !== "message") {
        row("archived messages (MAM)").skipped++;
        continue;
      }
      const id = recordKey(r, i);
      if ((await store.get(username, id)) !== undefined) {
        row("archived messages (MAM)").unchanged++;
        continue;
      }
      const opts: { id: string; when: number; with?: string } = { id, when: whenMs(r) };
      const peer = r.string("with");
      const peerJid = peer === undefined ? undefined : jidPrep(peer);
      if (peerJid !== undefined) opts.with = jidBare(peerJid);
      await store.append(username, archiveValue(withoutStanzaIdsBy(stanza, own)), opts);
      row("archived messages (MAM)").imported++;
    }
  }

  async function importNode(
    ps: PubsubStore,
    t: LuaTable,
    nameFromFile: string,
    ctx: { pep: boolean; host: ImportHost; where: string; owner?: string },
  ): Promise<void> {
    const kind = ctx.pep ? "PEP" : "pubsub";
    const name = t.string("name") ?? nameFromFile;
    const base = ctx.pep ? PEP_NODE_DEFAULTS : mergeNodeConfig(COMPONENT_NODE_DEFAULTS, ctx.host.nodeDefaults ?? {});
    const config = nodeConfig(t.table("config"), base, ctx.where, warnings);
    const affiliations: Record<string, Affiliation> = {};
    if (ctx.owner) affiliations[ctx.owner] = "owner";
    let affCount = 0;
    for (const [jid, aff] of t.table("affiliations")?.stringEntries() ?? []) {
      const bare = jidPrep(jid);
      if (bare === undefined || jidBare(bare) !== bare || typeof aff !== "string" || !AFFILIATIONS.includes(aff as Affiliation) || aff === "none") {
        row(`${kind} affiliations`).skipped++;
        continue;
      }
      if (bare !== ctx.owner) affiliations[bare] = aff as Affiliation;
      affCount++;
    }
    const old = await ps.loadNode(name);
    const creator = ctx.owner ?? Object.keys(affiliations).find((j) => affiliations[j] === "owner");
    const record: NodeRecord = { name, config, affiliations, created: old?.created ?? Date.now() };
    if (creator !== undefined) record.creator = creator;
    if (old && JSON.stringify({ ...old, created: 0 }) === JSON.stringify({ ...record, created: 0 })) {
      row(`${kind} nodes`).unchanged++;
      row(`${kind} affiliations`).unchanged += affCount;
    } else {
      await ps.saveNode(record);
      row(`${kind} nodes`).imported++;
      row(`${kind} affiliations`).imported += affCount;
    }
    const existing = new Set((await ps.loadSubscriptions(name)).map((s) => s.jid));
    for (const [jid, opts] of t.table("subscribers")?.stringEntries() ?? []) {
      const full = jidPrep(jid);
      if (full === undefined || opts === false) {
        row(`${kind} subscriptions`).skipped++;
        continue;
      }
      if (existing.has(full)) {
        row(`${kind} subscriptions`).unchanged++;
        continue;
      }
      await ps.saveSubscription(name, { jid: full, subid: importedSubid(full), state: "subscribed", options: subscriptionOptions(opts), created: Date.now() });
      row(`${kind} subscriptions`).imported++;
    }
  }

  async function importItems(ps: PubsubStore, node: string, records: LuaValue[], rowName: string): Promise<void> {
    for (const [i, r] of records.entries()) {
      if (!(r instanceof LuaTable)) continue;
      const id = recordKey(r, i);
      const payload = luaToElement(r, { dropStamp: true });
      const publisher = r.string("with") ?? "";
      const published = whenMs(r);
      const old = await ps.getItem(node, id);
      if (old && old.published === published && old.publisher === publisher && String(old.payload ?? "") === String(payload ?? "")) {
        row(rowName).unchanged++;
        continue;
      }
      await ps.appendItem(node, payload ? { id, publisher, published, payload } : { id, publisher, published });
      row(rowName).imported++;
    }
  }
}

/** The summary as a table (what, imported, unchanged, skipped). */
export function formatSummary(summary: ImportSummary): string {
  const rows = [...summary.rows].sort(([a], [b]) => a.localeCompare(b));
  const w = Math.max(4, ...rows.map(([n]) => n.length));
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(w)}  ${b.padStart(8)}  ${c.padStart(9)}  ${d.padStart(7)}`;
  const out = [line("data", "imported", "unchanged", "skipped"), line("-".repeat(w), "--------", "---------", "-------")];
  for (const [name, r] of rows) out.push(line(name, String(r.imported), String(r.unchanged), String(r.skipped)));
  return out.join("\n");
}
