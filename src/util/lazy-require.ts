// Dependencies loaded on first use rather than at start: an idle server does not pay the memory of
// what its configuration never uses (node-forge for a self-signed certificate, LevelDB with
// memory storage, ws without HTTP listeners, Argon2 until an account is created).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** A function returning the CommonJS module `name`, loaded at its first call. */
export function lazyRequire<T>(name: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= require(name) as T);
}
