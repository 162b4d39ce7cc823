// Server-Sent Events streams of pubsub nodes. Each node with open streams has one listener on the
// service's event bus; an event is serialized once and the same text is written to every stream of
// the node. Writes never wait: a stream whose unsent bytes exceed the buffer limit (a slow or
// stalled reader) is dropped, so no reader slows the service or the other readers. Events go out
// once the service's notifications for them have been posted, which is after their items are on
// disk (the broadcaster's durability gate): a reader never hears of an item that is not stored.

import type { ServerResponse } from "node:http";
import type { Logger } from "../../src/util/logger.js";
import type { DeleteEvent, ItemsEvent, PurgeEvent, RetractEvent } from "../../src/util/pubsub/index.js";
import type { PubsubComponent } from "../lib/pubsub/services.js";
import { publisherAttr } from "../lib/pubsub/xml.js";
import { feedItemOf, jsonItem } from "./feeds.js";

/** What a stream reads: a component's pubsub instance, or an account's PEP service. */
export interface StreamSource {
  service: PubsubComponent["service"];
  ctx: Pick<PubsubComponent["ctx"], "jid" | "exposePublisher">;
  /** Resolves once the service's notifications of the events so far are posted. */
  broadcaster: { idle(): Promise<void> };
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface EventStreamOptions {
  maxBuffered: number;
  maxStreams: number;
  keepaliveMs: number;
  service: string;
  instance: () => StreamSource | undefined;
  log: Pick<Logger, "debug" | "warn">;
}

export interface SseStats {
  opened: number;
  dropped: number;
  events: number;
}

export function formatEvent(e: SseEvent): string {
  const lines: string[] = [];
  if (e.id !== undefined) lines.push(`id: ${e.id.replace(/[\r\n]/g, "")}`);
  lines.push(`event: ${e.event}`);
  for (const line of e.data.split(/\r\n|\r|\n/)) lines.push(`data: ${line}`);
  return lines.join("\n") + "\n\n";
}

interface NodeStreams {
  streams: Set<ServerResponse>;
  off: Array<() => void>;
}

const registry = new Map<string, EventStreams>();

/** The event streams of a service (tests and benchmarks look at their statistics). */
export function eventStreamsOf(service: string): EventStreams | undefined {
  return registry.get(service);
}

export class EventStreams {
  readonly stats: SseStats = { opened: 0, dropped: 0, events: 0 };
  private readonly nodes = new Map<string, NodeStreams>();
  private count = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly opts: EventStreamOptions) {
    registry.set(opts.service, this);
    this.keepalive = setInterval(() => this.writeAll(": keepalive\n\n"), opts.keepaliveMs);
    this.keepalive.unref();
  }

  /** Streams open now. */
  get size(): number {
    return this.count;
  }

  admit(): boolean {
    return this.count < this.opts.maxStreams;
  }

  /** Start a stream of `node` on `res` (headers sent), after the events that resume it. */
  open(node: string, res: ServerResponse, replay: SseEvent[]): void {
    let entry = this.nodes.get(node);
    if (!entry) {
      entry = { streams: new Set(), off: this.listen(node) };
      this.nodes.set(node, entry);
    }
    entry.streams.add(res);
    this.count++;
    this.stats.opened++;
    const done = () => this.remove(node, res);
    res.once("close", done);
    res.write(": stream of " + node.replace(/[\r\n]/g, "") + "\n\n");
    for (const e of replay) this.write(node, res, formatEvent(e));
  }

  close(): void {
    clearInterval(this.keepalive);
    if (registry.get(this.opts.service) === this) registry.delete(this.opts.service);
    for (const [node, entry] of this.nodes) this.end(node, entry);
  }

  private listen(node: string): Array<() => void> {
    const inst = this.opts.instance();
    if (!inst) return [];
    const bus = inst.service.events;
    const later = (make: () => SseEvent[] | Promise<SseEvent[]>, endAfter = false) => this.later(node, inst, make, endAfter);
    return [
      bus.on(`item-published/${node}`, (e: ItemsEvent) => later(() => this.published(inst, e))),
      bus.on(`item-retracted/${node}`, (e: RetractEvent) => later(() => e.ids.map((id) => ({ event: "retract", data: JSON.stringify({ id }) })))),
      bus.on(`node-purged/${node}`, (_e: PurgeEvent) => later(() => [{ event: "purge", data: "{}" }])),
      bus.on(`node-deleted/${node}`, (e: DeleteEvent) =>
        later(() => [{ event: "delete", data: JSON.stringify(e.redirect ? { redirect: e.redirect } : {}) }], true)),
      // Who may read may have changed: readers reconnect (with Last-Event-ID) and are checked again.
      bus.on(`node-configured/${node}`, () => later(() => [], true)),
      bus.on(`affiliation-changed/${node}`, () => later(() => [], true)),
    ];
  }

  /** Deliver in event order, after the service's notifications of the event are posted. */
  private later(node: string, inst: StreamSource, make: () => SseEvent[] | Promise<SseEvent[]>, endAfter: boolean): void {
    const run = this.chain.then(async () => {
      await inst.broadcaster.idle();
      return make();
    });
    this.chain = run.then(
      (events) => this.deliver(node, events, endAfter),
      (err: unknown) => this.opts.log.warn(`pubsub_http event not delivered: ${(err as Error)?.message ?? err}`),
    );
  }

  private async published(inst: StreamSource, e: ItemsEvent): Promise<SseEvent[]> {
    const id = e.item.id;
    if (id === undefined) return [];
    let payload = e.item.payload;
    // Nodes that do not deliver payloads: the stored item, read as the service itself.
    if (payload === undefined && e.config.persistItems) {
      const got = await inst.service.getItem(e.node, inst.ctx.jid, id);
      if (got.ok) payload = got.value.payload;
    }
    const publisher = publisherAttr(inst.ctx.exposePublisher, e.config.itemreply, e.owners, e.item.publisher);
    const item = feedItemOf({ id, publisher: e.item.publisher, published: e.item.published, payload }, publisher);
    return [{ id, event: "publish", data: JSON.stringify(jsonItem({ service: this.opts.service, node: e.node }, item)) }];
  }

  /** One serialization per event, written to every stream of the node. */
  private deliver(node: string, events: SseEvent[], endAfter: boolean): void {
    const entry = this.nodes.get(node);
    if (!entry) return;
    this.stats.events += events.length;
    if (events.length > 0) {
      const text = events.map(formatEvent).join("");
      for (const res of entry.streams) this.write(node, res, text);
    }
    if (endAfter) this.end(node, entry);
  }

  private write(node: string, res: ServerResponse, text: string): void {
    if (res.destroyed || res.writableEnded) return;
    // Still holding more than the limit from earlier events: the reader does not keep up.
    if (res.writableLength > this.opts.maxBuffered) {
      this.stats.dropped++;
      this.opts.log.debug(`pubsub_http: slow event stream of ${node} dropped`);
      res.destroy();
      return;
    }
    res.write(text);
  }

  private writeAll(text: string): void {
    for (const [node, entry] of this.nodes) for (const res of entry.streams) this.write(node, res, text);
  }

  private remove(node: string, res: ServerResponse): void {
    const entry = this.nodes.get(node);
    if (!entry || !entry.streams.delete(res)) return;
    this.count--;
    if (entry.streams.size === 0) {
      for (const off of entry.off) off();
      this.nodes.delete(node);
    }
  }

  private end(node: string, entry: NodeStreams): void {
    for (const res of entry.streams) {
      res.end();
      this.remove(node, res);
    }
  }
}
