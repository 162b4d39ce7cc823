// The running MUC services by host, for tests and benchmarks that look inside (rooms, pending writes).

import type { Room } from "../lib/muc/room.js";

export interface MucInstance {
  rooms: Map<string, Room>;
  /** Resolves once every pending room and archive write is done. */
  flush(): Promise<void>;
}

const instances = new Map<string, MucInstance>();

export function registerMucInstance(host: string, instance: MucInstance | undefined): void {
  if (instance) instances.set(host, instance);
  else instances.delete(host);
}

export function mucInstance(host: string): MucInstance | undefined {
  return instances.get(host);
}
