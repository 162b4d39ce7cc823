// The running pubsub services by host, for tests and benchmarks that look inside (broadcast
// statistics, the service object). The module registers itself on load and removes itself on unload.

import type { PubsubService } from "../../src/util/pubsub/index.js";
import type { StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";
import type { PubsubContext } from "../lib/pubsub/context.js";

export interface PubsubInstance {
  service: PubsubService;
  broadcaster: StanzaBroadcaster;
  ctx: PubsubContext;
}

const instances = new Map<string, PubsubInstance>();

export function registerInstance(host: string, instance: PubsubInstance | undefined): void {
  if (instance) instances.set(host, instance);
  else instances.delete(host);
}

export function pubsubInstance(host: string): PubsubInstance | undefined {
  return instances.get(host);
}
