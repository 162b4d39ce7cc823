// Tombstones for deleted accounts (Prosody's mod_tombstones): when an account is deleted (in-band,
// XEP-0077, or `herald deluser`) its name is recorded, so that nobody can register it again and
// pose as the former user to their contacts, who may still trust the address.
//
// - registration of a buried name (in-band, `herald adduser`) is refused with `conflict`;
// - presence to the deleted account: a probe gets a `gone` error and `unsubscribed`, available or
//   unavailable presence a `gone` error and `unsubscribe`, so contacts drop the subscription.
//
// Options: user_tombstone_expiry (default: never; Prosody keeps tombstones for ever, since there
// is no telling when every contact has forgotten the address), e.g. "1y"; tombstone_cache_size
// (1024): names whose answer (tombstone or none) is kept in memory, as presence asks for each.

import { defineModule } from "../../src/modules/api.js";
import { jidNode } from "../../src/util/jid.js";
import { Element, errorReply } from "../../src/xml/stanza.js";
import { Graveyard, TOMBSTONE_STORE } from "./graveyard.js";

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const ttl = module.options.period("user_tombstone_expiry", Infinity);
    const cacheSize = module.options.integer("tombstone_cache_size", 1024, { min: 1, max: 10_000_000 });
    const graveyard = new Graveyard(module.openMap<number>(TOMBSTONE_STORE), ttl, cacheSize);

    module.hookGlobal("user-deleted", async (ev) => {
      if (ev.host !== module.host) return undefined;
      try {
        await graveyard.bury(ev.username);
      } catch (err) {
        module.log.error(`Could not store the tombstone of ${ev.username}: ${(err as Error).message}`);
      }
      return undefined;
    });

    // Asked before an account is created: an answer refuses it.
    module.hook("user-registering", async (ev) => {
      const when = await graveyard.tombstone(ev.username);
      if (when === undefined) return undefined;
      module.log.info(`Refused to create ${ev.username}@${module.host} (${ev.source}): the account was deleted on ${new Date(when * 1000).toISOString()}`);
      return { type: "cancel" as const, condition: "conflict", text: "The requested username is not available." };
    });

    module.hook(
      "presence/bare",
      async (ev) => {
        const { stanza } = ev;
        const to = stanza.attrs.to;
        const from = stanza.attrs.from;
        const type = stanza.attrs.type;
        if (to === undefined || from === undefined) return undefined;
        const username = jidNode(to);
        if (username === undefined) return undefined;
        const answer = type === "probe" ? "unsubscribed" : type === undefined || type === "unavailable" ? "unsubscribe" : undefined;
        if (answer === undefined) return undefined;
        if ((await graveyard.tombstone(username)) === undefined) return undefined;
        module.reply(ev, errorReply(stanza, "cancel", "gone", "User deleted"));
        module.reply(ev, new Element("presence", { type: answer, to: from, from: to }));
        return true;
      },
      1,
    );
  },
});
