// mod_vcard_legacy: vcard-temp (XEP-0054) kept in PEP, as Prosody's module of that name does. A
// vCard set with vcard-temp is stored as the account's vCard4 item (XEP-0292) and its photo as a
// User Avatar (XEP-0084), both in open nodes ("readable by anyone", as vcard-temp always was);
// reading a vcard-temp builds it back from those items (convert.ts). Presence carries the avatar's
// hash (XEP-0153 §3.2), and a vCard left in mod_vcard's store is moved into PEP at the account's
// next login (upgrade_legacy_vcards, default true). Loads mod_pep (module.depends("pep")); replaces mod_vcard.

import { defineModule } from "../../src/modules/api.js";
import { addressedAccount, isClientSession, type StanzaEvent } from "../../src/router/router.js";
import { ELEMENT_JSON_VERSION, elementFromJson, upgradeElementJson, type ElementJson } from "../../src/xml/json.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { lastPayload, publishWithDefaults } from "../lib/pubsub/pep.js";
import type { PepServiceHandle } from "../lib/pubsub/services.js";
import {
  NODE_AVATAR_DATA,
  NODE_AVATAR_METADATA,
  NODE_VCARD4,
  NS_VCARD_TEMP,
  pepToVcardTemp,
  vcardTempToPep,
  type Avatar,
} from "./convert.js";

const NS_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";
const NS_VCARD_UPDATE = "vcard-temp:x:update";

/** Prosody's node defaults for converted data: readable by anyone. */
const OPEN = { "pubsub#access_model": "open" };

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const peps = await module.depends("pep");
    module.addFeature(NS_VCARD_TEMP);
    module.hook("account-disco-info", (data) => {
      if (data.node === undefined) data.reply.add(new Element("feature", { var: NS_CONVERSION }));
      return undefined;
    });

    const failed = (error: string, text?: string): StanzaError => {
      if (error === "forbidden") return new StanzaError("auth", "forbidden");
      if (error === "internal-server-error") return new StanzaError("wait", "internal-server-error");
      return new StanzaError("modify", "undefined-condition", text ?? error);
    };

    /** XEP-0054 §3.2 -> PEP: old avatars out, new ones in (data before metadata, XEP-0084 §4), then the vCard4. */
    const saveToPep = async (pep: PepServiceHandle, actor: string, vcard4: Element, avatars: Avatar[]) => {
      const purged = await pep.service.purge(NODE_AVATAR_METADATA, actor);
      if (purged.ok) await pep.service.purge(NODE_AVATAR_DATA, actor);
      const avatarDefaults: Record<string, string> = avatars.length > 1 ? { ...OPEN, "pubsub#max_items": String(avatars.length) } : OPEN;
      for (const a of avatars) {
        const data = await publishWithDefaults(pep, actor, NODE_AVATAR_DATA, a.hash, a.data, avatarDefaults);
        if (!data.ok) return data;
        const meta = await publishWithDefaults(pep, actor, NODE_AVATAR_METADATA, a.hash, a.metadata, avatarDefaults);
        if (!meta.ok) return meta;
      }
      return publishWithDefaults(pep, actor, NODE_VCARD4, "current", vcard4, OPEN);
    };

    // XEP-0054 §3.1 / §3.3: own vCard or another account's, as the requester may see the items.
    module.iq.get(
      NS_VCARD_TEMP,
      "vCard",
      async (ev) => {
        const { stanza } = ev;
        const username = addressedAccount(ev);
        if (username === undefined) return undefined;
        const pep = await peps.service(username);
        // RFC 6121 §8.5.1: no such account.
        if (!pep) return new StanzaError("cancel", "service-unavailable");
        const requester = stanza.attrs.from ?? pep.jid;
        const vcard4 = await lastPayload(pep, NODE_VCARD4, requester);
        const data = await pep.service.getItems(NODE_AVATAR_DATA, requester);
        const meta = await pep.service.getItems(NODE_AVATAR_METADATA, requester);
        const avatars: Array<{ data?: Element; metadata?: Element }> = [];
        if (data.ok) {
          for (const item of data.value.items) {
            const metadata = meta.ok ? meta.value.items.find((m) => m.id === item.id)?.payload : undefined;
            avatars.push({
              data: item.payload instanceof Element ? item.payload : undefined,
              metadata: metadata instanceof Element ? metadata : undefined,
            });
          }
        }
        return pepToVcardTemp(vcard4, avatars);
      },
      { to: "bare", priority: 10 },
    );

    // XEP-0054 §3.2: one's own vCard.
    module.iq.set(
      NS_VCARD_TEMP,
      "vCard",
      async (ev) => {
        const { origin } = ev;
        if (!ev.toSelf || !isClientSession(origin) || !origin.username || !origin.fullJid) {
          return new StanzaError("auth", "forbidden", "You may only set your own vCard");
        }
        const pep = await peps.service(origin.username);
        if (!pep) return new StanzaError("cancel", "service-unavailable");
        const { vcard4, avatars } = vcardTempToPep(ev.payload);
        const saved = await saveToPep(pep, origin.fullJid, vcard4, avatars);
        return saved.ok ? null : failed(saved.error, saved.text);
      },
      { to: "bare", priority: 10 },
    );

    // XEP-0153 §3.2: available presence carries the current avatar's hash (or, with none, an empty
    // <x/>); what the client put there is replaced.
    const injectPhoto = async (ev: StanzaEvent) => {
      const { stanza, origin } = ev;
      if (stanza.attrs.type !== undefined || !isClientSession(origin) || !origin.username) return undefined;
      const pep = await peps.service(origin.username);
      if (!pep) return undefined;
      const last = await pep.service.getLastItem(NODE_AVATAR_METADATA, pep.jid);
      // A copy goes on (the router routes ev.stanza); the client's own stanza is left as it was.
      const copy = stanza.shallowClone();
      copy.children = stanza.children.filter((c) => typeof c === "string" || !(c.name === "x" && c.attrs.xmlns === NS_VCARD_UPDATE));
      const x = new Element("x", { xmlns: NS_VCARD_UPDATE });
      if (last.ok && last.value) x.textTag("photo", last.value.id);
      copy.children.push(x);
      ev.stanza = copy;
      return undefined;
    };
    for (const t of ["full", "bare", "host"] as const) module.hook(`pre-presence/${t}`, injectPhoto, 1);

    // A vCard stored by mod_vcard before: moved into PEP unless PEP already has a profile.
    if (module.options.boolean("upgrade_legacy_vcards", true)) {
      await module.upgradeStore("keyval", "vcard", ELEMENT_JSON_VERSION, upgradeElementJson);
      const legacy = module.openKeyval<ElementJson>("vcard");
      module.hook("resource-bind", async ({ session }) => {
        const username = session.username;
        if (!username) return;
        try {
          const stored = await legacy.get(username);
          if (stored === undefined) return;
          const pep = await peps.service(username);
          if (!pep) return;
          const has = async (node: string) => {
            const last = await pep.service.getLastItem(node, pep.jid);
            return last.ok && last.value !== undefined;
          };
          if ((await has(NODE_VCARD4)) || (await has(NODE_AVATAR_METADATA)) || (await has(NODE_AVATAR_DATA))) {
            await legacy.set(username, undefined);
            return;
          }
          const vcard = elementFromJson(stored);
          if (!vcard) return;
          const { vcard4, avatars } = vcardTempToPep(vcard);
          const saved = await saveToPep(pep, pep.jid, vcard4, avatars);
          if (saved.ok) {
            await legacy.set(username, undefined);
            module.log.info(`moved the vcard-temp of ${username} into PEP`);
          } else module.log.warn(`could not move the vcard-temp of ${username} into PEP: ${saved.error}`);
        } catch (err) {
          module.log.error(`vCard upgrade of ${username}: ${(err as Error)?.stack ?? err}`);
        }
      });
    }
  },
});
