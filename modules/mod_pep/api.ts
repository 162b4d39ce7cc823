// How other modules reach an account's PEP service (mod_vcard_legacy, mod_vcard4): an event on the
// host bus, answered by mod_pep, so they never import mod_pep's wiring. Also the small helpers they
// share: publishing with "defaults only" options and reading one node's last payload.

import type { ModuleApi } from "../../src/modules/api.js";
import type { PubsubService, Result } from "../../src/util/pubsub/index.js";
import { Element } from "../../src/xml/stanza.js";
import type { EventSpec } from "../../src/events/bus.js";

export const PEP_SERVICE_EVENT = "pep-get-service";
/** Fired with a PepServiceHandle and the username when an account's service is made. */
export const PEP_SERVICE_ADDED_EVENT = "pep-service-added";

export interface PepServiceHandle {
  service: PubsubService;
  /** The account's bare JID (the owner). */
  jid: string;
}

/** The account's PEP service, or undefined when there is no such account (or mod_pep is not loaded). */
export async function pepService(module: ModuleApi, username: string): Promise<PepServiceHandle | undefined> {
  return (await module.fire(PEP_SERVICE_EVENT, { username })) as PepServiceHandle | undefined;
}

/**
 * Publish `payload` as item `id`. `defaults` (form variables) configure the node if this publish
 * creates it and are otherwise not checked (Prosody's `_defaults_only`): the owner may have changed
 * the node since, and that is no reason to refuse the item.
 */
export async function publishWithDefaults(
  pep: PepServiceHandle,
  actor: string,
  node: string,
  id: string,
  payload: Element,
  defaults: Record<string, string>,
): Promise<Result<unknown>> {
  const item = { payload, size: Buffer.byteLength(payload.toString(), "utf8"), namespace: payload.attrs.xmlns };
  const first = await pep.service.publish(node, actor, id, item, defaults);
  if (first.ok || first.error !== "precondition-not-met") return first;
  return pep.service.publish(node, actor, id, item);
}

/** The payload of a node's last item as `actor` may see it; undefined when none (or not allowed). */
export async function lastPayload(pep: PepServiceHandle, node: string, actor: string): Promise<Element | undefined> {
  const last = await pep.service.getLastItem(node, actor);
  return last.ok && last.value?.payload instanceof Element ? last.value.payload : undefined;
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    "pep-get-service": EventSpec<{ username: string }, PepServiceHandle>;
    "pep-service-added": EventSpec<PepServiceHandle & { username: string }, never>;
  }
}
