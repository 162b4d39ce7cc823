// XEP-0160: offline messages, with XEP-0203 delay stamps.
//
// mod_message fires `message/offline/handle` { username, origin, stanza } when an existing
// account has no resource to take a normal or chat message; this module keeps it in the archive
// store "offline" (LevelDB by default: it survives restarts) and answers truthy. When the account
// is full (`offline_max_messages`, default 1000; 0: no limit) or the message must not be stored,
// it answers undefined and the sender gets service-unavailable (XEP-0160 §2).
//
// Delivery: on `presence-available` { session, stanza, initial } (fired by mod_presence on the
// host bus whenever a session sends available presence), if the session's priority (asked of
// mod_presence's service) is not negative, every stored message goes to that session with a <delay/> and is then deleted
// (XEP-0160 §2: "when the recipient next sends non-negative available presence").

import type { ModuleApi } from "../../src/modules/api.js";
import { defineModule } from "../../src/modules/api.js";
import type { ClientSession } from "../../src/sessions/session.js";
import type { Element } from "../../src/xml/stanza.js";
import type { ArchiveStore, Json } from "../../src/storage/types.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { elementFromJson, elementToJson } from "../../src/xml/json.js";
import { delayElement, offlineVerdict } from "../lib/im/stored.js";
import { NS_DELAY } from "../../src/xml/ns.js";
import type { StanzaEvent } from "../../src/router/router.js";
import type { EventSpec } from "../../src/events/bus.js";

/** Data of `message/offline/handle` (fired by mod_message). */
interface OfflineHandleEvent {
  username: string;
  stanza: Element;
}

const BATCH = 100;

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const store = module.openArchive<Json>("offline");
    const max = module.options.integer("offline_max_messages", 1000, { min: 0 });
    // Storing and delivering must not interleave for one user.
    const userLock = new KeyedLock<string>();
    const serial = <T>(username: string, task: () => Promise<T>): Promise<T> => userLock.run(username, task);

    // XEP-0160 §4
    module.addFeature("msgoffline");

    module.hook(
      "message/offline/handle",
      ({ username, stanza }) => {
        const verdict = offlineVerdict(stanza);
        if (verdict === "discard") return true;
        if (verdict === "refuse") return undefined;
        return serial(username, async () => {
          // XEP-0160 §2: the queue is full: service-unavailable.
          if (max > 0 && (await store.count(username)) >= max) return undefined;
          await store.append(username, elementToJson(stanza), stanza.attrs.from === undefined ? {} : { with: stanza.attrs.from });
          return true;
        });
      },
      -1,
    );

    module.hook("presence-available", async ({ session }) => {
      const username = session.username;
      // mod_presence fired this, so its service is there (a session gone unavailable since counts as 0, as before).
      const priority = module.serviceOn(module.host, "presence")?.priority(session) ?? 0;
      if (username === undefined || priority < 0) return undefined;
      await serial(username, () => deliver(module, store, username, session));
      return undefined; // others listen to this event too
    });
  },
});

/** Send the stored messages of `username` to `session`, oldest first, deleting what was sent. */
async function deliver(module: ModuleApi, store: ArchiveStore<Json>, username: string, session: ClientSession): Promise<void> {
  for (;;) {
    const items = await store.find(username, { limit: BATCH });
    if (items.length === 0) return;
    const sent: string[] = [];
    for (const item of items) {
      const msg = elementFromJson(item.value);
      if (!msg) {
        module.log.warn(`Dropping an unreadable offline message of ${username}`);
        sent.push(item.id);
        continue;
      }
      // XEP-0203 §3 / XEP-0160 §2: mark when the server received it (unless this server already
      // did: stream management hands on what a client never acknowledged, stamped when first sent).
      if (!msg.childElements("delay", NS_DELAY).some((d) => d.attrs.from === module.host)) {
        msg.children.push(delayElement(module.host, item.when));
      }
      if (!session.send(msg)) break; // the session went away: keep the rest
      sent.push(item.id);
    }
    if (sent.length) await store.delete(username, { ids: sent });
    if (sent.length < items.length) return;
  }
}

declare module "../../src/events/bus.js" {
  interface EventMap {
    /** A message for an account with no resource to take it: answer true when stored. */
    "message/offline/handle": EventSpec<OfflineHandleEvent & { origin: StanzaEvent["origin"] }, true>;
  }
}
