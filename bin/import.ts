// `herald import prosody <data_path> -c herald.cfg.lua`: Prosody's internal file store into the
// store of a Herald that is not running. A one-line progress bar on a terminal (plain lines
// otherwise, on stderr), then a summary table and the warnings on stdout.

import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { createStorage } from "../src/storage/index.js";
import { readNodeDefaults } from "../modules/lib/pubsub/settings.js";
import { DEFAULT_ARCHIVE_STORE } from "../modules/mod_mam/archiving.js";
import { formatSummary, importProsody, type ImportHost } from "../prosody-compat/import/prosody.js";
import type { LoadedConfig } from "./load-config.js";

export async function importProsodyCommand(loaded: LoadedConfig, prosodyDataPath: string): Promise<number> {
  const { config } = loaded;
  const source = resolve(prosodyDataPath);
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new Error(`${prosodyDataPath} is not a directory (Prosody's data_path)`);
  if (config.global.string("storage", "internal") === "memory") throw new Error('storage = "memory" keeps nothing: configure the LevelDB store to import into');
  const hosts: ImportHost[] = config.hosts.map((h) => {
    const host: ImportHost = { name: h.name, kind: h.kind === "Component" ? "Component" : "VirtualHost" };
    if (h.module) host.module = h.module;
    const archiveStore = config.host(h.name).string("archive_store", DEFAULT_ARCHIVE_STORE);
    if (archiveStore !== DEFAULT_ARCHIVE_STORE) host.archiveStore = archiveStore;
    if (h.kind === "Component" && h.module === "pubsub") {
      const d = readNodeDefaults(config.host(h.name).table("node_defaults"));
      if (d.ok) host.nodeDefaults = d.value;
    }
    return host;
  });
  const dataPath = resolve(loaded.baseDir, config.global.string("data_path", "./data"));
  const dbPath = join(dataPath, "herald.db");
  const storage = createStorage("leveldb", { path: dbPath });
  try {
    await storage.open();
  } catch (err) {
    throw new Error(`Cannot open Herald's database ${dbPath} (stop Herald before importing): ${(err as Error).message}`);
  }
  const tty = process.stderr.isTTY === true;
  let lastStep = -1;
  const progress = (done: number, total: number, what: string) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (tty) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      const label = what.length > 40 ? `…${what.slice(-39)}` : what;
      process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total} ${label.padEnd(40)}`);
      if (done === total) process.stderr.write("\n");
    } else {
      const step = Math.floor(pct / 10);
      if (step !== lastStep || done === total) {
        lastStep = step;
        process.stderr.write(`${pct}% (${done}/${total} files)\n`);
      }
    }
  };
  try {
    console.log(`Importing Prosody's data from ${source} into ${dbPath}`);
    const summary = await importProsody({ dataPath: source, storage, hosts, progress });
    console.log(formatSummary(summary));
    for (const w of summary.warnings) console.log(`warning: ${w}`);
    console.log(`${summary.files} file(s) read${summary.warnings.length ? `, ${summary.warnings.length} warning(s)` : ""}`);
  } finally {
    await storage.close();
  }
  return 0;
}
