// The pubsub service's metrics (served by mod_http_openmetrics): items published and notification
// messages sent, counted as they happen, and subscriptions per service, read at each scrape; and the
// notifications held for remote servers that read slowly (lib/pubsub/peer-queues.ts).

import type { ModuleApi } from "../../src/modules/api.js";
import type { PubsubService } from "../../src/util/pubsub/index.js";
import type { StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";

export function registerPubsubMetrics(module: ModuleApi, service: PubsubService, broadcaster: StanzaBroadcaster, actor: string): void {
  const labels = [module.host];
  const published = module.metrics.counter("herald_pubsub_published_items", "Items published to the pubsub service", ["host"]);
  const notifications = module.metrics.counter("herald_pubsub_notifications", "Notification messages sent by the pubsub service", ["host"]);
  const subscribers = module.metrics.gauge("herald_pubsub_subscriptions", "Subscriptions to the service's nodes (pending ones excluded)", ["host"]);
  const nodes = module.metrics.gauge("herald_pubsub_nodes", "Nodes of the pubsub service", ["host"]);
  const waiting = module.metrics.gauge("herald_pubsub_remote_waiting_notifications", "Notifications waiting for a remote server that reads slowly", ["host"]);
  const held = module.metrics.counter("herald_pubsub_remote_held_notifications", "Notifications that waited for a remote server that reads slowly", ["host"]);
  const overflows = module.metrics.counter("herald_pubsub_remote_queue_overflows", "Times the notifications waiting for one remote server exceeded pubsub_remote_queue_limit", ["host"]);
  published.inc(labels, 0);
  notifications.inc(labels, 0);
  held.inc(labels, 0);
  overflows.inc(labels, 0);
  const counted = { held: 0, overflows: 0 };
  module.onUnload(service.events.on("item-published", () => published.inc(labels)));
  const tap = (messages: readonly unknown[]) => notifications.inc(labels, messages.length);
  broadcaster.taps.push(tap);
  module.onUnload(() => {
    const at = broadcaster.taps.indexOf(tap);
    if (at >= 0) broadcaster.taps.splice(at, 1);
  });
  module.onCollect(async () => {
    const peers = broadcaster.peers;
    waiting.set(labels, peers.waiting);
    held.inc(labels, peers.stats.held - counted.held);
    overflows.inc(labels, peers.stats.overflows - counted.overflows);
    counted.held = peers.stats.held;
    counted.overflows = peers.stats.overflows;
    const list = await service.listNodes(actor);
    if (!list.ok) return;
    let count = 0;
    for (const { node } of list.value.nodes) {
      const meta = await service.getNodeMeta(node, actor);
      if (meta.ok) count += meta.value.numSubscribers;
    }
    subscribers.set(labels, count);
    nodes.set(labels, list.value.nodes.length);
  });
}
