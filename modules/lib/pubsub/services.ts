// The live pubsub services the family's modules offer each other (ARCHITECTURE §3: through
// module.provides / module.depends, never by importing another module's files):
//   "pubsub" (mod_pubsub, on a component): the component's service, broadcaster and protocol context;
//   "pep" (mod_pep, on a VirtualHost): the accounts' PEP services.
// Their events on the host bus are declared here too.

import type { EventSpec } from "../../../src/events/bus.js";
import type { PubsubService } from "../../../src/util/pubsub/index.js";
import type { StanzaBroadcaster } from "./broadcaster.js";
import type { PubsubContext } from "./context.js";

/** mod_pubsub's service ("pubsub"). */
export interface PubsubComponent {
  service: PubsubService;
  broadcaster: StanzaBroadcaster;
  ctx: PubsubContext;
}

/** One account's PEP service. */
export interface PepServiceHandle {
  service: PubsubService;
  /** The account's bare JID (the owner). */
  jid: string;
}

/** mod_pep's service ("pep"). */
export interface PepProvider {
  /** The account's PEP service, or undefined when there is no such account. */
  service(username: string): Promise<PepServiceHandle | undefined>;
}

/** "pep-service-added" on the host bus: an account's service was made, before its first use. */
export interface PepServiceAdded extends PepServiceHandle {
  username: string;
}

declare module "../../../src/modules/api.js" {
  interface ServiceMap {
    pubsub: PubsubComponent;
    pep: PepProvider;
  }
}

declare module "../../../src/events/bus.js" {
  interface EventMap {
    "pep-service-added": EventSpec<PepServiceAdded, never>;
  }
}
