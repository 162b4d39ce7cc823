// The pubsub service's metrics (served by mod_http_openmetrics): items published and notification
// messages sent, counted as they happen, and subscriptions per service, read at each scrape.

import type { ModuleApi } from "../../src/modules/api.js";
import type { PubsubService } from "../../src/util/pubsub/index.js";
import type { StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";

export function registerPubsubMetrics(module: ModuleApi, service: PubsubService, broadcaster: StanzaBroadcaster, actor: string): void {
  const labels = [module.host];
  const published = module.metrics.counter("herald_pubsub_published_items", "Items published to the pubsub service", ["host"]);
  const notifications = module.metrics.counter("herald_pubsub_notifications", "Notification messages sent by the pubsub service", ["host"]);
  const subscribers = module.metrics.gauge("herald_pubsub_subscriptions", "Subscriptions to the service's nodes (pending ones excluded)", ["host"]);
  const nodes = module.metrics.gauge("herald_pubsub_nodes", "Nodes of the pubsub service", ["host"]);
  published.inc(labels, 0);
  notifications.inc(labels, 0);
  module.onUnload(service.events.on("item-published", () => published.inc(labels)));
  const tap = (messages: readonly unknown[]) => notifications.inc(labels, messages.length);
  broadcaster.taps.push(tap);
  module.onUnload(() => {
    const at = broadcaster.taps.indexOf(tap);
    if (at >= 0) broadcaster.taps.splice(at, 1);
  });
  module.onCollect(async () => {
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
