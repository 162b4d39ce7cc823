// The shared material beside the repository (`../shared`): Prosody's scansion scripts, real Prosody
// configurations, the reference Prosody setup. A clone on its own has none of it; the tests that read
// it are skipped then, and say so on stderr (vitest prints it with the test file's name).

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root (this file is test/helpers/shared.ts; tests run it from source). */
const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * `../shared/<sub>` beside the repository, or `override` (an environment variable) when set, and
 * whether it is there. When it is not, one line on stderr names what is skipped.
 */
export function sharedDir(sub: string, skipped: string, override?: string): { path: string; available: boolean } {
  const path = override ?? resolve(REPO, "..", "shared", sub);
  const available = existsSync(path);
  if (!available) console.warn(`${path} not found beside the repository: ${skipped} skipped`);
  return { path, available };
}
