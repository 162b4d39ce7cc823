// Storage entry point: pick a driver by Prosody's storage name.
//   "internal" (Prosody's default file storage) and "leveldb" -> LevelStorage (needs opts.path)
//   "memory"                                                  -> MemoryStorage

import { LevelStorage } from "./leveldb.js";
import { makePrivateDir } from "../util/file-modes.js";
import { MemoryStorage } from "./memory.js";
import type { StorageDriver } from "./types.js";

export type StorageKind = "internal" | "leveldb" | "memory";

export interface CreateStorageOptions {
  /** Database directory (LevelDB drivers). */
  path?: string;
}

export function createStorage(kind: StorageKind, opts: CreateStorageOptions = {}): StorageDriver {
  switch (kind) {
    case "internal":
    case "leveldb":
      if (typeof opts.path !== "string" || opts.path === "") {
        throw new Error(`storage "${kind}" needs a path (the database directory)`);
      }
      // The database holds every account's secrets: its directory 0700, LevelDB's files 0600.
      makePrivateDir(opts.path);
      return new LevelStorage(opts.path);
    case "memory":
      return new MemoryStorage();
    default:
      throw new Error(`unknown storage "${String(kind)}" (expected "internal", "leveldb" or "memory")`);
  }
}

export { LevelStorage } from "./leveldb.js";
export { MemoryStorage } from "./memory.js";
export * from "./types.js";
