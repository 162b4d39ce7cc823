// XEP-0357: Push Notifications, with the module and option names of Prosody's mod_cloud_notify.
//
// A client registers an app server (XEP-0357 §5) with <enable jid='push.example' node='…'/> and an
// optional publish-options form, and removes it with <disable jid='…' [node='…']/>. Registrations
// are kept per account in the keyval store "cloud_notify" (they survive restarts), at most
// `push_max_devices` (5) per account, the oldest dropped first. The account's disco#info lists
// urn:xmpp:push:0.
//
// Notifications: a pubsub publish from this host to the app server's node, with the summary form
// urn:xmpp:push:summary (message-count; last-message-sender with `push_notification_with_sender`;
// last-message-body: the body with `push_notification_with_body`, else for important messages the
// text `push_notification_important_body`, "New Message!"). They go
//  - to every registration of an account when a message for it goes to offline storage
//    (`message/offline/handle`, fired by mod_message, hooked before mod_offline);
//  - with mod_mam, to the registrations not held by any of the account's sessions when a message
//    for an account with sessions online is archived (`archive-message-added`, as Prosody): a
//    phone whose session is gone hears of what the desktop receives, and syncs from the archive;
//  - to the registration of a session that stream management has hibernated (Prosody's events
//    `smacks-hibernation-start` { origin | session, queue? }, `smacks-hibernation-stanza-queued`
//    { origin | session, stanza }, `smacks-hibernation-end` { resumed | origin | session }), for the
//    messages it queued and the messages routed to it meanwhile: at most one notification for
//    important and one for other messages per second, as Prosody does.
// With mod_mam loaded, a message goes to the app server only once it is in the account's archive
// (synced): each of these paths comes after mod_mam's archive step on the message's way (offline
// storage and stream management's queue are at delivery; the routed messages hook below it), so a
// phone woken by the notification finds the message when it asks its archive. Messages mod_mam
// does not archive, or without mod_mam, are notified as soon as they are routed.
// An account's notifications go out one at a time, each waiting for the app server's answer (or
// `push_timeout`); an error other than type "wait" counts against the registration, a result resets
// the count, and after `push_max_errors` (16) errors in a row the registration is removed.

import { randomBytes } from "node:crypto";
import { defineModule, type ModuleApi, type Timer } from "../../src/modules/api.js";
import { isClientSession, type StanzaEvent } from "../../src/router/router.js";
import type { ClientSession } from "../../src/sessions/session.js";
import type { Json } from "../../src/storage/types.js";
import { jidBare, jidNode, jidPrep, jidResource } from "../../src/util/jid.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { Element, StanzaError, getError } from "../../src/xml/stanza.js";
import { messageType, routeToAccount } from "../lib/im/delivery.js";
import { NOBODY_AVAILABLE } from "../lib/im/presence.js";
import { elementFromJson, elementToJson, type ElementJson } from "../../src/xml/json.js";
import { offlineVerdict } from "../lib/im/stored.js";
import { isImportant, NS_PUSH, publishIq, summaryForm, type SummaryOptions } from "./notification.js";
import { NS_DATA } from "../../src/xml/ns.js";

interface Registration {
  jid: string;
  node?: string;
  /** The publish-options form the client gave. */
  options?: ElementJson;
  /** When it was enabled (ms). */
  timestamp: number;
  resource?: string;
}

/** By identifier `jid<node`, oldest first. */
type Registrations = Record<string, Registration>;

interface Hibernated {
  batch: Element[];
  timer?: Timer;
}

/**
 * Where the hibernated-session notifications hook the message events: below mod_mam's archiving (0)
 * and mod_carbons (-0.5), above mod_message's delivery (-1).
 */
const AFTER_ARCHIVING = -0.75;

const identifierOf = (jid: string, node: string | undefined) => `${jid}<${node ?? ""}`;

export default defineModule({
  load(module) {
    if (module.hostKind !== "local") return;
    const summary: SummaryOptions = {
      withBody: module.options.boolean("push_notification_with_body", false),
      withSender: module.options.boolean("push_notification_with_sender", false),
      importantBody: module.options.string("push_notification_important_body", "New Message!"),
    };
    const maxErrors = module.options.integer("push_max_errors", 16, { min: 1 });
    const maxDevices = module.options.integer("push_max_devices", 5, { min: 1 });
    const timeoutMs = module.options.number("push_timeout", 30, { min: 1 }) * 1000;

    const store = module.openKeyval<Json>("cloud_notify");
    const regLock = new KeyedLock<string>();
    const pushChain = new KeyedLock<string>();
    const errors = new Map<string, number>();
    /** Identifiers a message was already pushed to (a message may reach us by two paths). */
    const pushed = new WeakMap<Element, Set<string>>();
    const hibernated = new Map<ClientSession, Hibernated>();

    const load = async (username: string): Promise<Registrations> => ((await store.get(username)) as unknown as Registrations | undefined) ?? {};
    const save = (username: string, regs: Registrations) =>
      store.set(username, Object.keys(regs).length ? (regs as unknown as Json) : undefined);

    /** Forget a registration on the account's sessions. */
    const clearSessions = (username: string, id: string) => {
      for (const s of module.sessionsOf(username)) if (s.data.get(module.name) === id) s.data.delete(module.name);
    };

    // XEP-0357 §3: the account supports push.
    module.hook("account-disco-info", (data) => {
      if (data.node === undefined) data.reply.add(new Element("feature", { var: NS_PUSH }));
      return undefined;
    });

    // XEP-0357 §5: enabling.
    module.iq.set(NS_PUSH, "enable", async ({ origin, payload: enable }) => {
      if (!isClientSession(origin) || origin.username === undefined) return undefined;
      const jidAttr = enable.attrs.jid;
      if (jidAttr === undefined) return new StanzaError("modify", "bad-request", "Missing jid");
      const jid = jidPrep(jidAttr);
      if (jid === undefined) return new StanzaError("modify", "jid-malformed", "Invalid jid");
      if (jidBare(jid) === origin.bareJid) return new StanzaError("modify", "bad-request", "The app server's JID must not be yours");
      const node = enable.attrs.node;
      const form = enable.getChild("x", NS_DATA);
      const id = identifierOf(jid, node);
      const username = origin.username;
      try {
        await regLock.run(username, async () => {
          const regs = await load(username);
          delete regs[id]; // re-enabling makes it the newest
          const reg: Registration = { jid, timestamp: Date.now(), resource: origin.resource };
          if (node !== undefined) reg.node = node;
          if (form) reg.options = elementToJson(form);
          regs[id] = reg;
          const ids = Object.keys(regs);
          for (const old of ids.slice(0, Math.max(0, ids.length - maxDevices))) {
            delete regs[old];
            clearSessions(username, old);
            module.log.info(`Push registration ${old} of ${username} removed: more than push_max_devices (${maxDevices})`);
          }
          await save(username, regs);
        });
      } catch (err) {
        module.log.error(`Could not store a push registration of ${username}: ${(err as Error).message}`);
        return new StanzaError("wait", "internal-server-error");
      }
      origin.data.set(module.name, id);
      origin.log.info(`Push notifications enabled (${id})`);
      return null;
    }, { to: "self" });

    // XEP-0357 §6: disabling one node, or every node of an app server.
    module.iq.set(NS_PUSH, "disable", async ({ origin, payload: disable }) => {
      if (!isClientSession(origin) || origin.username === undefined) return undefined;
      if (disable.attrs.jid === undefined) return new StanzaError("modify", "bad-request", "Missing jid");
      const jid = jidPrep(disable.attrs.jid) ?? disable.attrs.jid;
      const node = disable.attrs.node;
      const username = origin.username;
      try {
        await regLock.run(username, async () => {
          const regs = await load(username);
          let changed = false;
          for (const [id, reg] of Object.entries(regs)) {
            if (reg.jid !== jid || (node !== undefined && reg.node !== node)) continue;
            delete regs[id];
            errors.delete(`${username}\0${id}`);
            clearSessions(username, id);
            changed = true;
            origin.log.info(`Push notifications disabled (${id})`);
          }
          if (changed) await save(username, regs);
        });
      } catch (err) {
        module.log.error(`Could not remove a push registration of ${username}: ${(err as Error).message}`);
        return new StanzaError("wait", "internal-server-error");
      }
      return null;
    }, { to: "self" });

    /** Publish one notification and count the app server's answer. */
    const pushOne = async (username: string, id: string, reg: Registration, stanza: Element | undefined) => {
      const options = reg.options ? elementFromJson(reg.options) : undefined;
      const iq = publishIq(module.host, reg.jid, reg.node, summaryForm(stanza, summary), options, `push-${randomBytes(8).toString("hex")}`);
      module.log.debug(`Push notification for ${username} to ${id}`);
      let answer: Element;
      try {
        answer = await module.sendIq(iq, timeoutMs);
      } catch (err) {
        module.log.debug(`No answer from the app server ${reg.jid} for ${username}: ${(err as Error).message}`);
        return;
      }
      const key = `${username}\0${id}`;
      if (answer.attrs.type !== "error") {
        errors.delete(key);
        return;
      }
      const err = getError(answer);
      if (err?.type === "wait") return; // a temporary failure does not count (as in Prosody)
      const count = (errors.get(key) ?? 0) + 1;
      module.log.info(`The app server ${reg.jid} answered a push for ${username} with <${err?.condition ?? "?"}/> (${count} of push_max_errors ${maxErrors})`);
      if (count < maxErrors) {
        errors.set(key, count);
        return;
      }
      errors.delete(key);
      module.log.warn(`Disabling push notifications of ${username} to ${id} after ${count} errors`);
      await regLock.run(username, async () => {
        const regs = await load(username);
        if (!(id in regs)) return;
        delete regs[id];
        clearSessions(username, id);
        await save(username, regs);
      });
    };

    /** Notify the account's registrations (or those `only` accepts) of a message, one at a time, in order. */
    const notify = (username: string, stanza: Element | undefined, only?: (id: string) => boolean) => {
      void pushChain
        .run(username, async () => {
          const regs = await load(username);
          for (const [id, reg] of Object.entries(regs)) {
            if (only !== undefined && !only(id)) continue;
            if (stanza) {
              const done = pushed.get(stanza) ?? new Set<string>();
              if (done.has(id)) continue;
              done.add(id);
              pushed.set(stanza, done);
            }
            await pushOne(username, id, reg, stanza);
          }
        })
        .catch((err) => module.log.error(`Push notification for ${username} failed: ${(err as Error).stack ?? err}`));
    };

    // A message for an account with nobody online, before mod_offline stores it.
    module.hook(
      "message/offline/handle",
      ({ username, stanza }) => {
        // Chat states alone are dropped by offline storage; nothing to tell the phone.
        if (offlineVerdict(stanza) !== "discard") notify(username, stanza);
        return undefined;
      },
      1,
    );

    // A message archived for an account with someone online (mod_mam's `archive-message-added`,
    // fired once the message is written and before it is delivered): the devices whose session is
    // gone (the phone, while the desktop is online) are woken to fetch it from the archive, as
    // Prosody does. Not the registrations of the account's current sessions: a connected one gets
    // the message, a hibernated one is notified of what is queued for it (below). With nobody
    // online, or nobody to take the message now, offline storage's path above notifies.
    module.hook("archive-message-added", ({ username, stanza, incoming }) => {
      if (!incoming || stanza.name !== "message") return undefined;
      const sessions = module.sessionsOf(username);
      if (sessions.length === 0) return undefined;
      const to = stanza.attrs.to;
      if (recipients(module, stanza, sessions, username, to !== undefined && jidResource(to) !== undefined).length === 0) return undefined;
      const attached = new Set<string>();
      for (const s of sessions) {
        const id = s.data.get(module.name);
        if (typeof id === "string") attached.add(id);
      }
      notify(username, stanza, (id) => !attached.has(id));
      return undefined;
    });

    // ---- sessions hibernated by stream management ----


    /** One notification for the first important and one for the first other message of the list. */
    const notifyQueue = (session: ClientSession, stanzas: readonly Element[]) => {
      const id = session.data.get(module.name);
      if (typeof id !== "string" || session.username === undefined) return;
      let important = false;
      let other = false;
      for (const s of stanzas) {
        if (s.name !== "message" || s.attrs.type === "error") continue;
        const imp = summary.importantBody !== "" && isImportant(s);
        if (imp ? important : other) continue;
        if (imp) important = true;
        else other = true;
        notify(session.username, s, (reg) => reg === id);
        if (important && other) break;
      }
    };

    const queueFor = (session: ClientSession, stanza: Element) => {
      const h = hibernated.get(session);
      if (!h) return;
      h.batch.push(stanza);
      h.timer ??= module.addTimer(1000, () => {
        const batch = h.batch;
        h.batch = [];
        h.timer = undefined;
        notifyQueue(session, batch);
      });
    };

    module.hook("smacks-hibernation-start", (ev) => {
      const session = ev.session;
      if (typeof session.data.get(module.name) !== "string") return undefined;
      hibernated.set(session, { batch: [] });
      notifyQueue(session, ev.queue);
      return undefined;
    });

    module.hook("smacks-hibernation-stanza-queued", (ev) => {
      queueFor(ev.session, ev.stanza);
      return undefined;
    });

    const forget = (session: ClientSession | undefined) => {
      if (!session) return;
      hibernated.get(session)?.timer?.cancel();
      hibernated.delete(session);
    };
    module.hook("smacks-hibernation-end", (ev) => {
      forget(ev.session);
      return undefined;
    });
    module.hook("resource-unbind", ({ session }) => {
      forget(session);
      return undefined;
    });

    // Messages routed to a hibernated session (whether or not stream management reports them), in
    // the form they are delivered in: after mod_mam's archive step (priority 0, which goes on only
    // once the message is written and synced), so that a phone woken by the notification finds the
    // message in its archive; after policy gates (blocking) and carbons, before delivery (-1).
    const routed = (ev: StanzaEvent, toFull: boolean) => {
      if (hibernated.size === 0) return undefined;
      const to = ev.stanza.attrs.to;
      const username = to === undefined ? undefined : jidNode(to);
      if (to === undefined || username === undefined) return undefined;
      const sessions = module.sessionsOf(username);
      if (!sessions.some((s) => hibernated.has(s))) return undefined;
      for (const s of recipients(module, ev.stanza, sessions, username, toFull)) queueFor(s, ev.stanza);
      return undefined;
    };
    module.hook("message/bare", (ev) => routed(ev, false), AFTER_ARCHIVING);
    module.hook("message/full", (ev) => routed(ev, true), AFTER_ARCHIVING);

    module.onUnload(() => {
      for (const h of hibernated.values()) h.timer?.cancel();
      hibernated.clear();
    });
  },
});

/** The sessions that get a message under RFC 6121 §8.5 (as mod_message delivers it). */
function recipients(module: ModuleApi, stanza: Element, sessions: ClientSession[], username: string, toFull: boolean): ClientSession[] {
  if (toFull) {
    const resource = jidResource(stanza.attrs.to!);
    const direct = resource === undefined ? undefined : module.session(username, resource);
    if (direct) return [direct];
  }
  const presence = module.serviceOn(module.host, "presence") ?? NOBODY_AVAILABLE;
  const route = routeToAccount(messageType(stanza.attrs.type), sessions, toFull, (s) => presence.priority(s));
  return route.action === "deliver" ? route.to : [];
}
