// Herald's data directory holds SCRAM keys, password hashes, rosters, messages, items and the
// private keys of generated certificates: nobody but the server's user may read it. Directories
// are created 0700 and files 0600 whatever the umask (LevelDB creates its files itself, so the
// process umask is narrowed), and wider modes found on disk are reported.

import { lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Narrow the process umask so every file Herald (or LevelDB) creates is private. */
export function restrictUmask(): void {
  try {
    const old = process.umask(0o077);
    process.umask(old | 0o077);
  } catch {
    // Worker threads cannot change the umask; files are then as private as the umask makes them.
  }
}

/** Create a private directory (and its missing parents), mode 0700 whatever the umask. */
export function makePrivateDir(path: string): void {
  restrictUmask();
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

export interface OpenMode {
  path: string;
  /** Octal, e.g. "0755". */
  mode: string;
  directory: boolean;
}

/**
 * Entries of the data directory (itself and two levels down: herald.db/*, certs/*) that group
 * or others may read, write or enter.
 */
export function openModes(dataPath: string): OpenMode[] {
  const found: OpenMode[] = [];
  const visit = (path: string, depth: number) => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) found.push({ path, mode: `0${(st.mode & 0o777).toString(8)}`, directory: st.isDirectory() });
    if (st.isDirectory() && depth < 2) {
      for (const name of readdirSync(path)) visit(join(path, name), depth + 1);
    }
  };
  visit(dataPath, 0);
  return found;
}

export function describeOpenMode(m: OpenMode): string {
  return `${m.path}: mode ${m.mode} lets other local users ${m.directory ? "into this directory" : "read this file"}; it should be ${m.directory ? "0700" : "0600"} (chmod ${m.directory ? "700" : "600"})`;
}
