// The service's own event bus: every change is announced under its name and under "<name>/<node>"
// (e.g. "item-published/urn:xmpp:avatar:data"), whether or not notifications go out.

import type {
  AffiliationEvent,
  AuthorizationRequestEvent,
  ConfigurationEvent,
  DeleteEvent,
  ItemsEvent,
  PurgeEvent,
  RetractEvent,
  SubscriptionEvent,
} from "./types.js";

export interface NodeCreatedEvent {
  node: string;
  creator: string;
}

export interface PubsubBusEvents {
  "node-created": NodeCreatedEvent;
  "node-deleted": DeleteEvent;
  "node-configured": ConfigurationEvent;
  "node-purged": PurgeEvent;
  "item-published": ItemsEvent;
  "item-retracted": RetractEvent;
  "subscription-changed": SubscriptionEvent;
  "subscription-pending": AuthorizationRequestEvent;
  "affiliation-changed": AffiliationEvent;
}

export type PubsubBusEventName = keyof PubsubBusEvents;

type Listener = (event: never) => void;

export class PubsubEventBus {
  private readonly listeners = new Map<string, Listener[]>();

  /** Listen to `name` or `name/<node>`; returns the function that removes the listener. */
  on<K extends PubsubBusEventName>(
    name: K | `${K}/${string}`,
    listener: (event: PubsubBusEvents[K]) => void,
  ): () => void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener as Listener);
    this.listeners.set(name, list);
    return () => {
      const current = this.listeners.get(name);
      if (!current) return;
      const at = current.indexOf(listener as Listener);
      if (at >= 0) current.splice(at, 1);
      if (current.length === 0) this.listeners.delete(name);
    };
  }

  /** Call the listeners of `name`, then those of `name/<node>`, in registration order. */
  emit<K extends PubsubBusEventName>(name: K, node: string, event: PubsubBusEvents[K]): void {
    for (const key of [name, `${name}/${node}`]) {
      for (const listener of (this.listeners.get(key) ?? []).slice()) {
        (listener as (e: PubsubBusEvents[K]) => void)(event);
      }
    }
  }
}
