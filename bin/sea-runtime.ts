// The single-file herald's runtime support (only used inside the executable `npm run package` builds).
//
// The executable carries, as assets, the native addons Herald needs (LevelDB through classic-level,
// argon2 through @node-rs/argon2) and the few data files it reads from its own tree (package.json for
// the version, scansion's expected-failures list). On first use they are written to a private cache
// directory named after their content hash, and reused by every later run of the same build:
//   $XDG_CACHE_HOME/herald/<hash>/, else ~/.cache/herald/<hash>/, else <tmpdir>/herald-<uid>/<hash>/
// The directory mirrors the repository layout, so code that finds its files relative to its own
// module (import.meta.url, rewritten at bundle time into seaFileUrl("src/version.js") and so on)
// finds them there. Native addons are loaded from it with process.dlopen.

import { createHash } from "node:crypto";
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { getAsset } from "node:sea";

/** Written by bin/package.mjs as the asset "manifest.json". */
export interface SeaManifest {
  /** Hash over every asset below: names the cache directory. */
  hash: string;
  /** Asset name (a relative path in the extracted tree) → its SHA-256 in hex. */
  files: Record<string, string>;
}

export const MANIFEST_ASSET = "manifest.json";

let root: string | undefined;
const natives = new Map<string, unknown>();

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The directory is ours alone: a real directory (not a link), owned by us, not writable by others. */
function isPrivateDir(dir: string): boolean {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return false;
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) return false;
  return (st.mode & 0o022) === 0;
}

function candidateDirs(hash: string): string[] {
  const uid = typeof process.getuid === "function" ? process.getuid() : "user";
  const dirs: string[] = [];
  if (process.env.XDG_CACHE_HOME) dirs.push(join(process.env.XDG_CACHE_HOME, "herald", hash));
  let home: string | undefined;
  try {
    home = homedir();
  } catch {
    home = undefined;
  }
  if (home) dirs.push(join(home, ".cache", "herald", hash));
  dirs.push(join(tmpdir(), `herald-${uid}`, hash));
  return dirs;
}

/** Writes `data` to `file` unless a file with that exact content is already there (atomically: temp + rename). */
function ensureFile(file: string, data: Uint8Array, hash: string): void {
  try {
    if (sha256(readFileSync(file)) === hash) return;
  } catch {
    // not there yet
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function extract(dir: string, manifest: SeaManifest): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isPrivateDir(dir) || !isPrivateDir(dirname(dir))) throw new Error(`${dir} is not a private directory of this user`);
  for (const [name, hash] of Object.entries(manifest.files)) {
    const data = new Uint8Array(getAsset(name));
    if (sha256(data) !== hash) throw new Error(`the executable's asset ${name} is corrupt`);
    ensureFile(join(dir, name), data, hash);
  }
}

/** The extracted tree (extracting it on first use). */
export function runtimeRoot(): string {
  if (root !== undefined) return root;
  const manifest = JSON.parse(getAsset(MANIFEST_ASSET, "utf8")) as SeaManifest;
  const errors: string[] = [];
  for (const dir of candidateDirs(manifest.hash)) {
    try {
      extract(dir, manifest);
      root = dir;
      return dir;
    } catch (err) {
      errors.push(`${dir}: ${(err as Error).message}`);
    }
  }
  throw new Error(`herald: cannot unpack the native modules into a cache directory:\n  ${errors.join("\n  ")}`);
}

/** The file: URL a bundled module's import.meta.url stands for (`rel` is its path in the build tree). */
export function seaFileUrl(rel: string): string {
  return pathToFileURL(join(runtimeRoot(), rel)).href;
}

/** Loads a native addon carried in the executable (an asset named native/<name>). */
export function loadNative(name: string): unknown {
  const cached = natives.get(name);
  if (cached !== undefined) return cached;
  const mod = { exports: {} as unknown };
  process.dlopen(mod, join(runtimeRoot(), "native", name));
  natives.set(name, mod.exports);
  return mod.exports;
}
