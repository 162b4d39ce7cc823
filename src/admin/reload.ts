// config:reload() in the admin shell: read the configuration file again and apply what can change
// while running — log settings, `admins`, and each host's module list (modules now enabled are
// loaded, modules no longer enabled are unloaded, both with the new options). Every other changed
// option is reported as needing a restart (or a module:reload for options a loaded module reads).

import type { Server } from "../server.js";
import { render, type Config, type OptionReader } from "../config/options.js";
import { jidPrep } from "../util/jid.js";

/** Options config:reload applies itself. */
const LIVE = new Set(["log", "admins", "modules_enabled", "modules_disabled"]);

function changedOptions(before: OptionReader, after: OptionReader): string[] {
  const names = new Set([...before.names(), ...after.names()]);
  const changed: string[] = [];
  for (const n of [...names].sort()) {
    const a = before.raw(n);
    const b = after.raw(n);
    if ((a === undefined ? undefined : render(a)) !== (b === undefined ? undefined : render(b))) changed.push(n);
  }
  return changed;
}

export async function reloadConfig(server: Server, print: (...p: unknown[]) => void): Promise<{ ok: boolean; message: string }> {
  let next: { config: Config; logSinks?: import("../util/logger.js").LogSink[] };
  try {
    next = server.loadConfigAgain();
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  const before = server.config;
  const after = next.config;
  const restart: string[] = [];
  let applied = 0;

  const globalChanges = changedOptions(before.global, after.global);
  if (next.logSinks && globalChanges.includes("log")) {
    await server.logRouter.replace(next.logSinks);
    print("log: applied");
    applied++;
  }
  if (globalChanges.includes("admins")) {
    server.setAdmins(after.global.array("admins", []).flatMap((a) => jidPrep(a) ?? []));
    print("admins: applied");
    applied++;
  }
  for (const o of globalChanges) if (!LIVE.has(o)) restart.push(o);

  const oldHosts = new Set(before.hosts.map((h) => h.name));
  const newHosts = new Set(after.hosts.map((h) => h.name));
  for (const h of newHosts) if (!oldHosts.has(h)) restart.push(`new host ${h}`);
  for (const h of oldHosts) if (!newHosts.has(h)) restart.push(`removed host ${h}`);

  server.replaceConfig(after);
  for (const host of server.hosts.values()) {
    if (!newHosts.has(host.name)) continue;
    const hostChanges = changedOptions(before.host(host.name), after.host(host.name)).filter((o) => !globalChanges.includes(o) || LIVE.has(o));
    host.options = after.host(host.name);
    for (const o of hostChanges) if (!LIVE.has(o) && !globalChanges.includes(o)) restart.push(`${o} (${host.name})`);
    const { load } = server.moduleListFor(host);
    const wanted = new Set(load);
    for (const m of Array.from(host.modules)) { // unloading changes host.modules
      if (wanted.has(m) || server.modules.neededBy(host.name, m).some((d) => wanted.has(d))) continue; // kept for a module that depends on it
      await server.modules.unload(host, m);
      print(`${host.name}: unloaded ${m}`);
      applied++;
    }
    for (const m of load) {
      if (server.modules.isLoaded(host.name, m)) continue;
      try {
        await server.modules.load(host, m);
        print(`${host.name}: loaded ${m}`);
        applied++;
      } catch (err) {
        print(`${host.name}: could not load ${m}: ${(err as Error).message}`);
      }
    }
  }
  if (restart.length > 0) print(`Changed, takes effect after a restart (or module:reload for module options): ${restart.join(", ")}`);
  return {
    ok: true,
    message: `Config reloaded: ${applied === 0 ? "nothing to apply" : `${applied} change${applied === 1 ? "" : "s"} applied`}${restart.length ? `, ${restart.length} need${restart.length === 1 ? "s" : ""} a restart` : ""}`,
  };
}
