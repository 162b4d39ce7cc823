// The admin shell (`herald shell`): Prosody's shell commands, run inside the server. The CLI only
// relays lines over the admin socket; parsing and execution happen here. Each command prints lines
// and ends with a result, "OK: …" or "Error: …", as Prosody's mod_admin_shell answers.

import type { Server } from "../server.js";
import type { C2SConnection } from "../net/c2s.js";
import { jidBare, jidSplit, namePrep, nodePrep } from "../util/jid.js";
import { render as renderConfigValue } from "../config/options.js";
import { parseShellLine, ShellSyntaxError, type ShellValue } from "./shell-parse.js";
import { reloadConfig } from "./reload.js";
import { VERSION } from "../version.js";

export interface ShellOutput {
  /** Lines printed by the command. */
  lines: string[];
  /** The closing line: "OK: …", "Result: …" or "Error: …" (empty for help). */
  result: string;
  error: boolean;
}

/** What a module answering shell commands of its section gets (event "admin-shell/<section>"). */
export interface ShellCommandEvent {
  command: string;
  args: ShellValue[];
  print: (...parts: unknown[]) => void;
}
export type ShellCommandAnswer = { ok: boolean; message?: string };

type Print = (...parts: unknown[]) => void;
type Handler = (server: Server, print: Print, args: ShellValue[]) => Promise<ShellCommandAnswer> | ShellCommandAnswer;

const SECTIONS: Array<[string, string, Array<[string, string]>]> = [
  ["c2s", "Commands to manage local client-to-server sessions", [
    ["c2s:show(jid, columns)", "Show all client sessions with the specified JID (or all if no JID given)"],
    ["c2s:count()", "Count sessions without listing them"],
    ["c2s:close(jid, text, condition)", "Close all sessions for the specified JID (with a stream error)"],
    ["c2s:closeall(text, condition)", "Close all active c2s connections"],
  ]],
  ["s2s", "Commands to manage sessions between this server and others", [
    ["s2s:show(domain)", "Show s2s connections, all or those with a domain, with their traffic and waiting stanzas"],
    ["s2s:count()", "Count s2s connections and the stanzas waiting for one"],
  ]],
  ["module", "Commands to load/reload/unload modules/plugins", [
    ["module:load(module, host)", "Load the specified module on the specified host (or all VirtualHosts if none given)"],
    ["module:reload(module, host)", "The same, but unloads and loads the module"],
    ["module:unload(module, host)", "The same, but just unloads the module"],
    ["module:list(host)", "List the modules loaded on the specified host"],
  ]],
  ["host", "Commands to list virtual hosts", [["host:list()", "List the currently-activated hosts"]]],
  ["user", "Commands to create and delete users, and change their passwords", [
    ["user:create(jid, password)", "Create the specified user account"],
    ["user:password(jid, password)", "Set the password for the specified user account"],
    ["user:delete(jid)", "Permanently remove the specified user account"],
    ["user:list(hostname, pattern)", "List users on the specified host, optionally filtering with a pattern"],
  ]],
  ["pubsub", "Manage publish/subscribe nodes", [
    ["pubsub:list_nodes(service_jid)", "List nodes on a pubsub service"],
    ["pubsub:create_node(service_jid, node_name)", "Create a new node"],
    ["pubsub:delete_node(service_jid, node_name)", "Delete a node entirely"],
    ["pubsub:list_items(service_jid, node_name)", "List items on a pubsub node"],
    ["pubsub:get_item(service_jid, node_name, item_name)", "Show item content on a pubsub node"],
    ["pubsub:delete_item(service_jid, node_name, item_name)", "Delete a single item from a node"],
    ["pubsub:delete_all_items(service_jid, node_name, notify_subscribers)", "Delete all items from a node"],
    ["pubsub:get_node_config(service_jid, node_name, option_name)", "Get the current configuration for a node"],
    ["pubsub:set_node_config_option(service_jid, node_name, option_name, option_value)", "Set a config option on a pubsub node"],
  ]],
  ["server", "Uptime, version, memory", [
    ["server:version()", "Show the server's version number"],
    ["server:uptime()", "Show how long the server has been running"],
    ["server:memory()", "Show details about the server's memory usage"],
  ]],
  ["config", "Reloading the configuration, etc.", [
    ["config:reload()", "Reload the configuration file: log settings, admins and module lists apply at once; the rest is reported"],
    ["config:get([host,] option)", "Show the value of a config option"],
  ]],
  ["console", "Help regarding the console itself", [
    ["help SECTION", "Commands of a section (for example 'help c2s')"],
    ["quit", "Leave the shell (also 'exit', 'bye' or Ctrl-D)"],
  ]],
];

/** Run one line typed by an admin. */
export async function runShellLine(server: Server, line: string): Promise<ShellOutput> {
  const lines: string[] = [];
  const print: Print = (...parts) => {
    for (const l of parts.map((p) => (typeof p === "string" ? p : String(p))).join("\t").split("\n")) lines.push(l);
  };
  let parsed;
  try {
    parsed = parseShellLine(line);
  } catch (err) {
    if (err instanceof ShellSyntaxError) return { lines, result: `Sorry, I couldn't understand that... ${err.message}`, error: true };
    throw err;
  }
  if (parsed.kind === "empty") return { lines, result: "", error: false };
  if (parsed.kind === "help") {
    help(print, parsed.section);
    return { lines, result: "", error: false };
  }
  const { object, method, args } = parsed;
  server.log.debug(`Admin shell: ${object}:${method}()`); // arguments may hold passwords: not logged
  const handler = (HANDLERS[object] as Record<string, Handler> | undefined)?.[method];
  let answer: ShellCommandAnswer;
  try {
    if (object === "pubsub") answer = await pubsubCommand(server, print, method, args);
    else if (handler) answer = await handler(server, print, args);
    else if (HANDLERS[object] || object === "pubsub") answer = { ok: false, message: `${object}:${method}() is not a command; type 'help ${object}'` };
    else answer = { ok: false, message: `'${object}' is not a section of the shell; type 'help'` };
  } catch (err) {
    answer = { ok: false, message: (err as Error).message };
  }
  if (answer.message === undefined) return { lines, result: answer.ok ? "" : "Error", error: !answer.ok };
  return { lines, result: `${answer.ok ? "OK" : "Error"}: ${answer.message}`, error: !answer.ok };
}

function help(print: Print, section?: string): void {
  if (section === undefined) {
    print("Commands are divided into multiple sections. For help on a particular section,");
    print("type: help SECTION (for example, 'help c2s'). Sections are:");
    print("");
    const row = table([{ title: "Section", width: 7 }, { title: "Description", width: 60 }]);
    print(row());
    for (const [name, desc] of SECTIONS) print(row([name, desc]));
    return;
  }
  const s = SECTIONS.find(([name]) => name === section);
  if (!s) {
    print(`There is no section '${section}'; type 'help' for the list`);
    return;
  }
  for (const [cmd, desc] of s[2]) print(`${cmd} - ${desc}`);
}

// ---- output helpers ----

interface Column {
  title: string;
  width: number;
  align?: "right";
}

/** Prosody's table rows: fixed-width columns separated by " | "; no argument gives the titles. */
function table(columns: Column[]): (row?: Array<string | number | undefined>) => string {
  const widths = columns.map((c) => Math.max(c.width, c.title.length + 1));
  return (row) => {
    const cells = columns.map((c, i) => {
      let v = row ? String(row[i] ?? "") : c.title;
      const w = widths[i];
      if (v.length > w) v = v.slice(0, w - 1) + "…";
      return c.align === "right" ? v.padStart(w) : v.padEnd(w);
    });
    return cells.join(" | ").trimEnd();
  };
}

function str(v: ShellValue, what: string): string {
  if (typeof v !== "string" || v === "") throw new Error(`${what} expected (a string in quotes)`);
  return v;
}

function optStr(v: ShellValue): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// ---- c2s ----

function sessionJid(c: C2SConnection): string {
  if (c.fullJid) return c.fullJid;
  if (c.bareJid) return c.bareJid;
  return `[${c.remoteAddress}]@${c.host || "?"}`;
}

/** What a column shows of a session: the session, and what the host's modules say of it. */
type C2SColumn = Column & { value: (c: C2SConnection, info: { status: string }) => string | undefined };

const C2S_COLUMNS: Record<string, C2SColumn> = {
  id: { title: "Session ID", width: 20, value: (c) => c.id },
  jid: { title: "JID", width: 32, value: sessionJid },
  host: { title: "Host", width: 22, value: (c) => c.host },
  type: { title: "Type", width: 12, value: (c) => c.type },
  method: { title: "Method", width: 10, value: (c) => (c.transportKind === "websocket" ? "WebSocket" : "TCP") },
  ipv: { title: "IPv", width: 4, value: (c) => (c.remoteAddress.includes(":") && !c.remoteAddress.startsWith("::ffff:") ? "IPv6" : "IPv4") },
  ip: { title: "IP address", width: 40, value: (c) => c.remoteAddress },
  status: { title: "Status", width: 6, value: (_c, info) => info.status },
  secure: { title: "Security", width: 8, value: (c) => (!c.secure ? "insecure" : c.transportKind === "websocket" ? "secure" : "TLS") },
};

/**
 * The session's status as the host's modules see it (`session-status` on the host bus: mod_presence
 * answers with the <show/> of an available session, "online" without one); "" when none answers.
 */
async function sessionStatus(server: Server, c: C2SConnection): Promise<string> {
  const answer = c.host ? await server.hosts.get(c.host)?.bus.fire("session-status", { session: c }) : undefined;
  return typeof answer === "string" ? answer : "";
}

function columnsFrom(spec: ShellValue): C2SColumn[] {
  const names = spec === undefined ? ["id", "jid", "ipv", "status", "secure"] : Array.isArray(spec) ? spec.map(String) : String(spec).split(/\s+/).filter(Boolean);
  return names.map((n) => {
    const col = C2S_COLUMNS[n];
    if (!col) throw new Error(`Unknown column '${n}'; columns are: ${Object.keys(C2S_COLUMNS).join(", ")}`);
    return col;
  });
}

function sortedSessions(server: Server): C2SConnection[] {
  return [...server.connections].sort((a, b) => (a.host === b.host ? sessionJid(a).localeCompare(sessionJid(b)) : a.host.localeCompare(b.host)));
}

function matches(c: C2SConnection, jid: string | undefined): boolean {
  if (jid === undefined) return true;
  const j = sessionJid(c);
  return j === jid || jidBare(j) === jid || c.host === jid;
}

function closeSessions(server: Server, jid: string | undefined, text: ShellValue, condition: ShellValue): number {
  let n = 0;
  for (const c of sortedSessions(server)) {
    if (jid !== undefined && !(sessionJid(c) === jid || jidBare(sessionJid(c)) === jid)) continue;
    c.close({ condition: optStr(condition) ?? "policy-violation", text: optStr(text) ?? "Closed by the server's administrator" });
    n++;
  }
  return n;
}

// ---- modules ----

/** The hosts a module command applies to: the named one(s), or every VirtualHost. */
function targetHosts(server: Server, hosts: ShellValue, name?: string): string[] {
  if (typeof hosts === "string") {
    if (!server.hosts.has(hosts)) throw new Error(`${hosts} is not a host of this server`);
    return [hosts];
  }
  if (Array.isArray(hosts)) return hosts.map((h) => targetHosts(server, h, name)[0]);
  const all = [...server.hosts.values()];
  if (name !== undefined) return all.filter((h) => server.modules.isLoaded(h.name, name)).map((h) => h.name);
  return all.filter((h) => h.kind === "local").map((h) => h.name);
}

function checkModuleName(server: Server, name: string): void {
  if (server.builtinModules.has(name)) throw new Error(`mod_${name} is built into Herald's core; it is not loaded or unloaded`);
  if (!server.modules.has(name)) throw new Error(`Herald has no module named '${name}'`);
}

// ---- users ----

function accountOf(server: Server, jid: ShellValue): { host: string; username: string } {
  const parts = jidSplit(str(jid, "a JID"));
  const username = parts?.node === undefined ? undefined : nodePrep(parts.node);
  const host = parts === undefined ? undefined : namePrep(parts.domain);
  if (!parts || username === undefined || host === undefined || parts.resource !== undefined) throw new Error(`'${String(jid)}' is not an account JID (user@host)`);
  if (server.hosts.get(host)?.kind !== "local") throw new Error(`${host} is not a VirtualHost of this server`);
  return { host, username };
}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const HANDLERS: Record<string, Record<string, Handler>> = {
  c2s: {
    async show(server, print, [jid, colspec]) {
      const columns = columnsFrom(colspec);
      const row = table(columns);
      const all = sortedSessions(server);
      const shown = all.filter((c) => matches(c, optStr(jid)));
      const grouped = !columns.some((c) => c === C2S_COLUMNS.jid || c === C2S_COLUMNS.host);
      if (!grouped) print(row());
      let current: string | undefined;
      for (const c of shown) {
        if (grouped && c.host !== current) {
          current = c.host;
          print(`# ${c.host || "(no host yet)"}`);
          print(row());
        }
        const info = { status: columns.includes(C2S_COLUMNS.status) ? await sessionStatus(server, c) : "" };
        print(row(columns.map((col) => col.value(c, info))));
      }
      if (shown.length !== all.length) return { ok: true, message: `${shown.length} out of ${all.length} c2s sessions shown` };
      return { ok: true, message: `${all.length} c2s sessions shown` };
    },
    count(server) {
      return { ok: true, message: `Total: ${server.connections.size} clients` };
    },
    close(server, _print, [jid, text, condition]) {
      return { ok: true, message: `Total: ${closeSessions(server, str(jid, "a JID"), text, condition)} sessions closed` };
    },
    closeall(server, _print, [text, condition]) {
      return { ok: true, message: `Total: ${closeSessions(server, undefined, text, condition)} sessions closed` };
    },
  },
  s2s: {
    show(server, print, [domain]) {
      const filter = typeof domain === "string" ? domain : undefined;
      const rows = (server.s2s?.list() ?? []).filter((r) => filter === undefined || r.remote === filter || r.local === filter);
      if (!server.s2s) print("No s2s sessions: federation is off (\"s2s\" in modules_disabled)");
      else if (rows.length === 0) print("No s2s sessions");
      for (const r of rows) {
        const traffic = `in: ${plural(r.stanzasIn, "stanza")}, ${formatBytes(r.bytesIn)}; out: ${plural(r.stanzasOut, "stanza")}, ${formatBytes(r.bytesOut)}`;
        const waiting = [r.queued ? `${r.queued} queued` : "", r.buffered ? `${formatBytes(r.buffered)} not yet sent` : ""].filter(Boolean).join(", ");
        print(`${r.local} ${r.direction === "out" ? "->" : "<-"} ${r.remote}\t${r.ready ? "authenticated" : "connecting"} (${r.auth})${r.secure ? " encrypted" : ""}${r.bidi ? " bidi" : ""}\t${traffic}${waiting ? `; ${waiting}` : ""}`);
      }
      return { ok: true, message: `${rows.length} s2s connections shown` };
    },
    count(server) {
      if (!server.s2s) return { ok: true, message: "Federation is off (\"s2s\" in modules_disabled)" };
      const rows = server.s2s.list();
      const out = rows.filter((r) => r.direction === "out" && r.ready).length;
      const connecting = rows.filter((r) => r.direction === "out" && !r.ready).length;
      const inbound = server.s2s.inbound.size;
      return { ok: true, message: `${out} outgoing and ${inbound} incoming s2s connections, ${connecting} connecting; ${plural(server.s2s.queued(), "stanza")} waiting for a connection` };
    },
  },
  host: {
    list(server, print) {
      for (const h of server.hosts.values()) print(`${h.name}\t${h.kind === "local" ? "VirtualHost" : `Component (${h.componentModule ?? "?"})`}`);
      return { ok: true, message: plural(server.hosts.size, "host") };
    },
  },
  module: {
    list(server, print, [hosts]) {
      const names = hosts === undefined ? [...server.hosts.keys()] : Array.isArray(hosts) ? hosts.map(String) : [String(hosts)];
      for (const name of names) {
        print(`${name}:`);
        const host = server.hosts.get(name);
        if (!host) print("    Host not found");
        else if (host.modules.size === 0) print("    No modules loaded");
        else for (const m of [...host.modules].sort()) print(`    ${m}`);
      }
      return { ok: true };
    },
    async load(server, print, [name, hosts]) {
      const mod = str(name, "a module name");
      checkModuleName(server, mod);
      let count = 0;
      let lastError: string | undefined;
      for (const h of targetHosts(server, hosts)) {
        if (server.modules.isLoaded(h, mod)) continue;
        try {
          await server.modules.load(server.hosts.get(h)!, mod);
          count++;
          print(`Loaded for ${h}`);
        } catch (err) {
          lastError = (err as Error).message;
          print(lastError);
        }
      }
      if (lastError !== undefined) return { ok: false, message: `Last error: ${lastError}` };
      return { ok: true, message: `Module loaded onto ${plural(count, "host")}` };
    },
    async unload(server, print, [name, hosts]) {
      const mod = str(name, "a module name");
      checkModuleName(server, mod);
      let count = 0;
      for (const h of targetHosts(server, hosts, mod)) {
        if (!server.modules.isLoaded(h, mod)) continue;
        await server.modules.unload(server.hosts.get(h)!, mod);
        count++;
        print(`Unloaded from ${h}`);
      }
      return { ok: true, message: `Module unloaded from ${plural(count, "host")}` };
    },
    async reload(server, print, [name, hosts]) {
      const mod = str(name, "a module name");
      checkModuleName(server, mod);
      let count = 0;
      for (const h of targetHosts(server, hosts, mod)) {
        if (!server.modules.isLoaded(h, mod)) continue;
        const host = server.hosts.get(h)!;
        await server.modules.unload(host, mod);
        try {
          await server.modules.load(host, mod);
        } catch (err) {
          print(`${h}: ${(err as Error).message}`);
          return { ok: false, message: `Last error: ${(err as Error).message}` };
        }
        count++;
        print(`Reloaded on ${h}`);
      }
      return { ok: true, message: `Module reloaded on ${plural(count, "host")}` };
    },
  },
  user: {
    async create(server, _print, [jid, password]) {
      const { host, username } = accountOf(server, jid);
      await server.accounts(host).create(username, str(password, "a password"));
      await server.globalBus.fire("user-registered", { host, username, source: "admin" });
      return { ok: true, message: "User created" };
    },
    async delete(server, _print, [jid]) {
      const { host, username } = accountOf(server, jid);
      await server.accounts(host).delete(username);
      return { ok: true, message: "User deleted" };
    },
    async password(server, _print, [jid, password]) {
      const { host, username } = accountOf(server, jid);
      await server.accounts(host).setPassword(username, str(password, "a password"));
      return { ok: true, message: "User password changed" };
    },
    async list(server, print, [hostArg, pattern]) {
      const host = str(hostArg, "a host name");
      if (server.hosts.get(host)?.kind !== "local") throw new Error(`${host} is not a VirtualHost of this server`);
      const users = (await server.accounts(host).list()).sort();
      const pat = optStr(pattern);
      const shown = pat === undefined ? users : users.filter((u) => `${u}@${host}`.includes(pat));
      for (const u of shown) print(`${u}@${host}`);
      return { ok: true, message: `Showing ${pat === undefined ? "all " : `${shown.length} of `}${users.length} users` };
    },
  },
  server: {
    version() {
      return { ok: true, message: `Herald ${VERSION}` };
    },
    uptime(server) {
      let t = Math.floor((Date.now() - server.started) / 1000);
      t = Math.floor(t / 60);
      const minutes = t % 60;
      t = Math.floor(t / 60);
      const hours = t % 24;
      const days = Math.floor(t / 24);
      return {
        ok: true,
        message: `This server has been running for ${plural(days, "day")}, ${plural(hours, "hour")} and ${plural(minutes, "minute")} (since ${new Date(server.started).toUTCString()})`,
      };
    },
    memory(_server, print) {
      const m = process.memoryUsage();
      print(`Process: ${formatBytes(m.rss)}`);
      print(`   Heap: ${formatBytes(m.heapUsed)} used of ${formatBytes(m.heapTotal)}`);
      print(`  Other: ${formatBytes(m.external)} external (${formatBytes(m.arrayBuffers)} in buffers)`);
      return { ok: true, message: "OK" };
    },
  },
  config: {
    reload(server, print) {
      return reloadConfig(server, print);
    },
    get(server, _print, [a, b]) {
      const [host, key] = b === undefined ? ["*", str(a, "an option name")] : [str(a, "a host name"), str(b, "an option name")];
      const reader = host === "*" ? server.config.global : server.config.host(host);
      const v = reader.raw(key);
      return { ok: true, message: v === undefined ? "nil" : renderConfigValue(v) };
    },
  },
};


async function pubsubCommand(server: Server, print: Print, command: string, args: ShellValue[]): Promise<ShellCommandAnswer> {
  const service = str(args[0], "a pubsub service JID");
  const host = server.hosts.get(service);
  if (!host) return { ok: false, message: `${service} is not a host of this server` };
  const known = SECTIONS.find(([s]) => s === "pubsub")![2].some(([cmd]) => cmd.startsWith(`pubsub:${command}(`));
  if (!known) return { ok: false, message: `pubsub:${command}() is not a command; type 'help pubsub'` };
  const answer = await host.bus.fire("admin-shell/pubsub", { command, args: args.slice(1), print } satisfies ShellCommandEvent);
  if (answer === undefined) return { ok: false, message: `${service} is not a pubsub service (no mod_pubsub loaded there)` };
  if (typeof answer === "symbol") return { ok: false, message: "The command failed; see the server's log" };
  return answer as ShellCommandAnswer;
}
