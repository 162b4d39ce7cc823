// mod_bookmarks: old and new clients see the same bookmarks (Prosody's module of that name).
//
// The account's bookmarks live in PEP as XEP-0402 items (`urn:xmpp:bookmarks:1`, whitelist: the
// owner alone). Clients of the older kinds are answered from there:
//   - XEP-0048 in private XML storage (XEP-0049, `<storage xmlns='storage:bookmarks'/>`): a get
//     is built from the items, a set is turned into publishes and retractions;
//   - XEP-0048 in PEP (node `storage:bookmarks`): the same for items requests and publishes; and
//     every change of the XEP-0402 items is published there too (one item "current", owner only),
//     so clients with `storage:bookmarks+notify` get it as a notification.
// Bookmarks left in private storage (or in the legacy PEP node) from before are moved into
// XEP-0402 at the account's next login (upgrade_legacy_bookmarks, default true).
// The account advertises urn:xmpp:bookmarks:1#compat, #compat-pep and urn:xmpp:bookmarks-conversion:0.
// Loads mod_pep (module.depends("pep")) and uses its accounts' services.

import { defineModule } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { IqEvent } from "../../src/modules/api.js";
import type { ClientSession } from "../../src/sessions/session.js";
import { ELEMENT_JSON_VERSION, elementFromJson, upgradeElementJson, type ElementJson } from "../../src/xml/json.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import type { PubsubService, Result } from "../../src/util/pubsub/index.js";
import { publishWithDefaults } from "../lib/pubsub/pep.js";
import type { PepServiceHandle } from "../lib/pubsub/services.js";
import { NS_BOOKMARKS2, NS_LEGACY, fromItem, fromLegacy, sameBookmark, toLegacy, toPayload, type Bookmark } from "./convert.js";
import { NS_PRIVATE, NS_PUBSUB } from "../../src/xml/ns.js";

/** XEP-0402 §3: the node's configuration. */
const BOOKMARKS2_OPTIONS = {
  "pubsub#persist_items": "true",
  "pubsub#max_items": "max",
  "pubsub#send_last_published_item": "never",
  "pubsub#access_model": "whitelist",
};
/** XEP-0048 in PEP: one item, the owner alone, sent at login to clients that want it. */
const LEGACY_OPTIONS = {
  "pubsub#persist_items": "true",
  "pubsub#max_items": "1",
  "pubsub#send_last_published_item": "on_sub_and_presence",
  "pubsub#access_model": "whitelist",
};

type Failure = { ok: false; error: string; text?: string };

export default defineModule({
  async load(module) {
    if (module.hostKind !== "local") return;
    const peps = await module.depends("pep");
    module.hook("account-disco-info", (data) => {
      if (data.node !== undefined) return undefined;
      for (const f of [`${NS_BOOKMARKS2}#compat`, `${NS_BOOKMARKS2}#compat-pep`, "urn:xmpp:bookmarks-conversion:0"]) {
        data.reply.add(new Element("feature", { var: f }));
      }
      return undefined;
    });

    const current = async (pep: PepServiceHandle): Promise<Bookmark[]> => {
      const got = await pep.service.getItems(NS_BOOKMARKS2, pep.jid);
      if (!got.ok) return [];
      const out: Bookmark[] = [];
      for (const item of got.value.items) {
        const b = fromItem(item.id, item.payload);
        if (b) out.push(b);
      }
      return out;
    };

    /** Make the XEP-0402 items say what `wanted` says; `synchronise`: also retract the others. */
    const syncToPep = async (pep: PepServiceHandle, actor: string, wanted: Bookmark[], synchronise: boolean): Promise<Result<unknown>> => {
      const existing = new Map((await current(pep)).map((b) => [b.jid, b]));
      for (const b of wanted) {
        const before = existing.get(b.jid);
        existing.delete(b.jid);
        if (before && sameBookmark(before, b)) continue;
        const published = await publishWithDefaults(pep, actor, NS_BOOKMARKS2, b.jid, toPayload({ ...b, extensions: before?.extensions }), BOOKMARKS2_OPTIONS);
        if (!published.ok) return published;
      }
      if (synchronise) {
        for (const jid of existing.keys()) {
          const retracted = await pep.service.retract(NS_BOOKMARKS2, actor, jid, true);
          if (!retracted.ok) return retracted;
        }
      }
      return { ok: true, value: undefined };
    };

    // ---- XEP-0402 changes -> the legacy PEP node (notifications for XEP-0048 clients) ----

    const refreshing = new Map<string, Promise<void>>();
    const refreshLegacy = (username: string, service: PubsubService, jid: string): Promise<void> => {
      const run = async () => {
        const pep = { service, jid };
        const item = toLegacy(await current(pep));
        const published = await publishWithDefaults(pep, jid, NS_LEGACY, "current", item, LEGACY_OPTIONS);
        if (!published.ok) module.log.warn(`Could not update the XEP-0048 bookmarks of ${jid}: ${published.error}`);
      };
      // One at a time per account, in order; errors are logged, not thrown.
      const next = (refreshing.get(username) ?? Promise.resolve()).then(run).catch((err: Error) => module.log.error(`bookmarks of ${jid}: ${err.stack ?? err}`));
      refreshing.set(username, next);
      void next.then(() => {
        if (refreshing.get(username) === next) refreshing.delete(username);
      });
      return next;
    };
    module.hook("pep-service-added", ({ username, service, jid }) => {
      const refresh = () => void refreshLegacy(username, service, jid);
      for (const ev of ["item-published", "item-retracted", "node-purged", "node-deleted"] as const) service.events.on(`${ev}/${NS_BOOKMARKS2}`, refresh);
      return undefined;
    });

    const failure = (result: Failure, who: string) => {
      module.log.error(`Could not store the bookmarks of ${who} in PEP: ${result.error}${result.text ? ` (${result.text})` : ""}`);
      return new StanzaError("wait", "internal-server-error", "Failed to store bookmarks to PEP");
    };

    const ownSession = (ev: StanzaEvent): ClientSession | undefined => {
      const o = ev.origin;
      return ev.toSelf && isClientSession(o) && o.username !== undefined && o.fullJid !== undefined ? o : undefined;
    };

    // ---- XEP-0048 in private XML storage ----

    const privateXml = async (ev: IqEvent) => {
      const session = ownSession(ev);
      if (!session) return undefined;
      const children = ev.payload.childElements();
      if (children.length !== 1 || children[0].name !== "storage" || children[0].attrs.xmlns !== NS_LEGACY) return undefined;
      const pep = await peps.service(session.username!);
      if (!pep) return undefined;
      if (ev.stanza.attrs.type === "get") return new Element("query", { xmlns: NS_PRIVATE }, [toLegacy(await current(pep))]);
      const synced = await syncToPep(pep, session.fullJid!, fromLegacy(children[0]), true);
      return synced.ok ? null : failure(synced, pep.jid);
    };
    module.iq.get(NS_PRIVATE, "query", privateXml, { to: "self", priority: 10 });
    module.iq.set(NS_PRIVATE, "query", privateXml, { to: "self", priority: 10 });

    // ---- XEP-0048 in PEP ----

    const legacyPep = async (ev: IqEvent) => {
      const session = ownSession(ev);
      if (!session) return undefined;
      const op = ev.payload.childElements().find((c) => c.name === "items" || c.name === "publish");
      if (!op || op.attrs.node !== NS_LEGACY) return undefined;
      const pep = await peps.service(session.username!);
      if (!pep) return undefined;
      if (ev.stanza.attrs.type === "get" && op.name === "items") {
        const items = new Element("items", { node: NS_LEGACY });
        items.add(new Element("item", { id: "current" }, [toLegacy(await current(pep))]));
        return new Element("pubsub", { xmlns: NS_PUBSUB }, [items]);
      }
      if (ev.stanza.attrs.type !== "set" || op.name !== "publish") return undefined;
      const storage = op.getChild("item")?.getChild("storage", NS_LEGACY);
      if (!storage) return undefined;
      const synced = await syncToPep(pep, session.fullJid!, fromLegacy(storage), true);
      if (!synced.ok) return failure(synced, pep.jid);
      // The legacy node itself, for the account's other XEP-0048 clients (errors are logged there).
      ev.afterReply(() => void refreshLegacy(session.username!, pep.service, pep.jid));
      return new Element("pubsub", { xmlns: NS_PUBSUB }).tag("publish", { node: NS_LEGACY }).tag("item", { id: "current" }).up().up();
    };
    module.iq.get(NS_PUBSUB, "pubsub", legacyPep, { to: "self", priority: 10 });
    module.iq.set(NS_PUBSUB, "pubsub", legacyPep, { to: "self", priority: 10 });

    // ---- bookmarks from before: into XEP-0402 at login ----

    if (module.options.boolean("upgrade_legacy_bookmarks", true)) {
      await module.upgradeStore("map", "private", ELEMENT_JSON_VERSION, upgradeElementJson);
      const privateStore = module.openMap<ElementJson>("private");
      const PRIVATE_KEY = `storage:${NS_LEGACY}`;
      module.hook("resource-bind", async ({ session }) => {
        const username = session.username;
        if (!username) return;
        try {
          const pep = await peps.service(username);
          if (!pep) return;
          const stored = elementFromJson(await privateStore.get(username, PRIVATE_KEY));
          if (stored) {
            const moved = await syncToPep(pep, pep.jid, fromLegacy(stored), false);
            if (!moved.ok) {
              module.log.warn(`Could not move the private XML bookmarks of ${pep.jid} into PEP: ${moved.error}`);
              return;
            }
            await privateStore.set(username, PRIVATE_KEY, undefined);
            module.log.info(`Moved the private XML bookmarks of ${pep.jid} into PEP (XEP-0402)`);
          }
          // A legacy PEP node written before this module was enabled, and no XEP-0402 items yet.
          if ((await current(pep)).length === 0) {
            const legacy = await pep.service.getLastItem(NS_LEGACY, pep.jid);
            const payload = legacy.ok ? legacy.value?.payload : undefined;
            if (payload instanceof Element && payload.name === "storage" && payload.attrs.xmlns === NS_LEGACY) {
              const rooms = fromLegacy(payload);
              if (rooms.length > 0 && (await syncToPep(pep, pep.jid, rooms, false)).ok) {
                module.log.info(`Moved the PEP (XEP-0048) bookmarks of ${pep.jid} into XEP-0402`);
              }
            }
          }
        } catch (err) {
          module.log.error(`Bookmarks upgrade of ${username}: ${(err as Error)?.stack ?? err}`);
        }
      });
    }
  },
});
