// mod_muc: XEP-0045 multi-user chat as a component, as Prosody configures it:
//   Component "conference.example.com" "muc"
//
// The rooms' logic is pure code in ../lib/muc (room.ts); this module routes stanzas to rooms,
// creates and destroys rooms, persists them and keeps their archives.
//
// Options (Prosody's names):
//   restrict_room_creation (false)  who may create rooms: false (anyone), true or "admin" (server
//                                   admins), "local" (accounts of the parent domain: example.com for
//                                   conference.example.com)
//   admins, component_admins_as_room_owners (true): the component's admins own every room, as the
//                                   server's admins do
//   allow_unaffiliated_register (false): entities without an affiliation may register a nickname
//   muc_occupant_id (true)          XEP-0421 occupant ids on presence and messages
//   muc_room_allow_persistent, muc_room_allow_public (true): owners who are not server admins may
//                                   make rooms persistent / public
//   muc_room_default_public (false), muc_room_default_persistent (false),
//   muc_room_default_members_only (false), muc_room_default_moderated (false),
//   muc_room_default_public_jids (false), muc_room_default_change_subject (false),
//   muc_room_default_history_length (20), muc_room_default_language (""),
//   muc_room_default_allow_member_invites (false)     a new room's configuration
//   max_history_messages (20)       the most messages of history a room keeps for joining occupants
//                                   (Prosody has no bound by default; Herald keeps memory bounded)
//   muc_room_locking (true)         a new room is locked until its owner configures it (§10.1)
//   muc_room_lock_timeout (300 s)   a room still locked after this long is destroyed
//   muc_tombstones (true), muc_tombstone_expiry (31 days): a destroyed persistent room answers
//                                   `gone` (with its alternate venue) for this long
//   muc_log_by_default (true)       rooms archive their messages unless configured otherwise
//   muc_log_all_rooms (false)       every room archives, whatever its configuration
//   muc_log_presences (false)       joins and leaves are archived too
//   muc_log_expires_after ("1w")    archived messages older than this are removed ("never" keeps them)
//   muc_max_rooms (unset)           the most rooms the service holds at once
//   max_archive_query_results (50)  the largest page of a room archive query
//   name ("Chatrooms")              the service's disco identity name
//
// Storage: room records in the keyval store muc_rooms (user = room name), archives in muc_log.

import { randomBytes } from "node:crypto";
import { defineModule, type IqHandler } from "../../src/modules/api.js";
import type { StanzaEvent } from "../../src/router/router.js";
import { jidBare, jidHost, jidNode, jidPrep, jidResource } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import type { Json } from "../../src/storage/types.js";
import { BUILTIN_DEFAULTS, type RoomConfig } from "../lib/muc/config.js";
import { Room, type Outcome, type RoomRecord } from "../lib/muc/room.js";
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MAM, NS_MUC, NS_REGISTER, NS_SELF_PING_OPT, NS_MUC_USER } from "../lib/muc/xml.js";
import { elementFromJson, elementToJson } from "../../src/xml/json.js";
import { queryPage } from "../lib/mam/pager.js";
import { finElement, parseQuery, queryFormReply, resultMessage } from "../lib/mam/protocol.js";
import { NS_CLIENT, NS_PING } from "../../src/xml/ns.js";

interface Tombstone {
  tombstone: { alternate?: string; reason?: string; expires: number };
}

export default defineModule({
  async load(module) {
    const o = module.options;
    const restrictRaw = o.raw("restrict_room_creation");
    const restrict: "none" | "admin" | "local" =
      restrictRaw === true || restrictRaw === "admin" ? "admin" : restrictRaw === "local" ? "local" : "none";
    const maxHistory = o.integer("max_history_messages", 20, { min: 0, max: 10_000 });
    const defaults: RoomConfig = {
      ...BUILTIN_DEFAULTS,
      public: o.boolean("muc_room_default_public", false),
      persistent: o.boolean("muc_room_default_persistent", false),
      membersOnly: o.boolean("muc_room_default_members_only", false),
      moderated: o.boolean("muc_room_default_moderated", false),
      whois: o.boolean("muc_room_default_public_jids", false) ? "anyone" : "moderators",
      changeSubject: o.boolean("muc_room_default_change_subject", false),
      historyLength: Math.min(o.integer("muc_room_default_history_length", 20, { min: 0, max: 10_000 }), maxHistory),
      language: o.string("muc_room_default_language", ""),
      allowInvites: o.boolean("muc_room_default_allow_member_invites", false),
      archiving: o.boolean("muc_log_by_default", true),
    };
    const locking = o.boolean("muc_room_locking", true);
    const lockTimeoutMs = o.period("muc_room_lock_timeout", 300, { min: 0.05 }) * 1000;
    const tombstones = o.boolean("muc_tombstones", true);
    const tombstoneExpiryMs = o.period("muc_tombstone_expiry", 31 * 86400, { min: 0 }) * 1000;
    const logAll = o.boolean("muc_log_all_rooms", false);
    const logExpiry = o.period("muc_log_expires_after", 7 * 86400, { min: 1 });
    const maxRooms = o.integer("muc_max_rooms", undefined, { min: 1 });
    const maxArchiveResults = o.integer("max_archive_query_results", 50, { min: 1, max: 10_000 });
    const serviceName = o.string("name", "Chatrooms");
    const componentAdmins = new Set(
      o.boolean("component_admins_as_room_owners", true)
        ? o.ownArray("admins").flatMap((a) => {
            const j = jidPrep(a);
            return j === undefined ? [] : [jidBare(j)];
          })
        : [],
    );
    const isServiceAdmin = (bare: string) => module.isAdmin(bare) || componentAdmins.has(bare);

    const roomStore = module.openKeyval<Json>("muc_rooms");
    const archive = module.openArchive<Json>("muc_log");
    const idPrefix = randomBytes(6).toString("base64url");
    let counter = 0;
    const env = {
      now: () => Date.now(),
      newId: () => `${idPrefix}${(++counter).toString(36)}`,
      maxHistory,
      archiving: true,
      archiveAll: logAll,
      isServiceAdmin,
      allowUnaffiliatedRegister: o.boolean("allow_unaffiliated_register", false),
      occupantIds: o.boolean("muc_occupant_id", true),
      allowPersistent: o.boolean("muc_room_allow_persistent", true),
      allowPublic: o.boolean("muc_room_allow_public", true),
      logPresences: o.boolean("muc_log_presences", false),
    };

    const rooms = new Map<string, Room>();
    const tombs = new Map<string, Tombstone["tombstone"]>();
    /** Writes of one room, in order. */
    const writes = new Map<string, Promise<void>>();
    const chain = (node: string, fn: () => Promise<unknown>): Promise<void> => {
      const prev = writes.get(node) ?? Promise.resolve();
      const next = prev.then(fn).then(
        () => undefined,
        (err: unknown) => module.log.error(`muc storage of ${node}: ${(err as Error)?.stack ?? err}`),
      );
      writes.set(node, next);
      void next.then(() => {
        if (writes.get(node) === next) writes.delete(node);
      });
      return next;
    };
    module.provides("muc", { rooms, flush: () => Promise.all(writes.values()).then(() => undefined) });

    // ---- loading ----
    for (const node of await roomStore.users()) {
      const rec = (await roomStore.get(node)) as unknown as (RoomRecord & Partial<Tombstone>) | undefined;
      if (!rec) continue;
      if (rec.tombstone) {
        if (rec.tombstone.expires > Date.now()) tombs.set(node, rec.tombstone);
        else await roomStore.set(node, undefined);
        continue;
      }
      const room = new Room(`${node}@${module.host}`, { ...defaults, ...rec.config }, env, rec);
      rooms.set(node, room);
      if (room.archived) {
        const recent = await archive.find(node, { reverse: true, limit: Math.min(room.config.historyLength, maxHistory) });
        room.history = recent.reverse().flatMap((item) => {
          const v = item.value as unknown as { x?: Json } | null;
          const stanza = elementFromJson(v?.x);
          if (!stanza) return [];
          // Archived joins and leaves (muc_log_presences) are not chat history.
          if (stanza.name !== "message") return [];
          return [{ when: item.when, chars: stanza.toString().length, value: stanza }];
        });
      }
    }
    module.log.debug(`${rooms.size} rooms loaded`);

    const persist = (node: string, room: Room): Promise<void> =>
      chain(node, () => (room.config.persistent ? roomStore.set(node, room.record() as unknown as Json) : roomStore.set(node, undefined)));

    const deliver = async (out: Element[]): Promise<void> => {
      if (out.length === 0) return;
      const seen = new Set<string>();
      let distinct = true;
      for (const s of out) {
        const to = s.attrs.to ?? "";
        if (seen.has(to)) {
          distinct = false;
          break;
        }
        seen.add(to);
      }
      if (distinct) {
        await Promise.all(out.map((s) => module.post(s).catch((err: unknown) => module.log.warn(`muc delivery: ${(err as Error).message}`))));
        return;
      }
      for (const s of out) await module.post(s).catch((err: unknown) => module.log.warn(`muc delivery: ${(err as Error).message}`));
    };

    const apply = async (node: string, room: Room, outcome: Outcome): Promise<void> => {
      if (outcome.destroyed) {
        rooms.delete(node);
        const wasPersistent = room.config.persistent;
        const d = outcome.destroyed;
        await chain(node, async () => {
          if (wasPersistent && d.tombstone && tombstones) {
            const t: Tombstone["tombstone"] = { expires: Date.now() + tombstoneExpiryMs };
            if (d.alternate !== undefined) t.alternate = d.alternate;
            if (d.reason !== undefined) t.reason = d.reason;
            tombs.set(node, t);
            await roomStore.set(node, { tombstone: t } as unknown as Json);
          } else await roomStore.set(node, undefined);
          await archive.delete(node);
        });
      } else if (outcome.save) {
        await persist(node, room);
      }
      if (outcome.archive) {
        const a = outcome.archive;
        void chain(node, () => archive.append(node, { x: elementToJson(a.stanza) } as unknown as Json, { id: a.id, when: a.when, with: a.with }));
      }
      await deliver(outcome.out);
    };

    const mayCreate = (from: string): boolean => {
      const bare = jidBare(from);
      if (isServiceAdmin(bare)) return true;
      if (restrict === "admin") return false;
      // Prosody's "local": the user's domain is the component's parent domain.
      if (restrict === "local") return jidHost(bare) === module.host.replace(/^[^.]+\./, "");
      return true;
    };

    const lockTimer = (node: string, room: Room) => {
      module.addTimer(lockTimeoutMs, async () => {
        if (rooms.get(node) !== room || !room.locked) return;
        await apply(node, room, { out: room.destroyPresences(undefined, "The room was not configured in time"), destroyed: { tombstone: false } });
      });
    };

    // XEP-0045 §10.9: a destroyed room answers `gone`, with its alternate venue as the condition's URI.
    const gone = (t: Tombstone["tombstone"], payload?: Element[]): StanzaError =>
      new StanzaError("cancel", "gone", {
        text: t.reason ?? "This room has been destroyed",
        uri: t.alternate ? `xmpp:${t.alternate}?join` : undefined,
        payload,
      });

    const tombstoneOf = (node: string): Tombstone["tombstone"] | undefined => {
      const t = tombs.get(node);
      if (t && t.expires <= Date.now()) {
        tombs.delete(node);
        void chain(node, () => roomStore.set(node, undefined));
        return undefined;
      }
      return t;
    };

    // ---- presence ----
    module.hook("presence/full", async (ev) => {
      const { stanza } = ev;
      const node = jidNode(stanza.attrs.to ?? "")!;
      let room = rooms.get(node);
      let created = false;
      if (!room) {
        if (stanza.attrs.type !== undefined) return true;
        const t = tombstoneOf(node);
        if (t) return gone(t, mucX());
        const from = stanza.attrs.from ?? "";
        if (!mayCreate(from)) return new StanzaError("cancel", "not-allowed", { text: "Room creation is restricted", payload: mucX() });
        if (maxRooms !== undefined && rooms.size >= maxRooms) {
          return new StanzaError("wait", "resource-constraint", { text: "Too many rooms", payload: mucX() });
        }
        room = new Room(`${node}@${module.host}`, defaults, env);
        room.affiliations.set(jidBare(from), "owner");
        // §10.1.1: locked until configured; a gc-1.0 join (no MUC element) gets an instant room.
        room.locked = locking && stanza.getChild("x", NS_MUC) !== undefined;
        rooms.set(node, room);
        created = true;
        if (room.locked) lockTimer(node, room);
      }
      const outcome = room.presence(stanza, created);
      if (created && !room.occupants.size) rooms.delete(node);
      else if (created) outcome.save = true;
      await apply(node, room, outcome);
      return true;
    });
    module.hook("presence/bare", (ev) => {
      const { stanza } = ev;
      // §7.2.1: entering needs a nickname.
      if (stanza.attrs.type === undefined) return new StanzaError("modify", "jid-malformed", { text: "A nickname is required", payload: mucX() });
      return true;
    });

    // ---- messages ----
    const onMessage = async (ev: StanzaEvent) => {
      const { stanza } = ev;
      const node = jidNode(stanza.attrs.to ?? "")!;
      const room = rooms.get(node);
      // (An error to a room that is not there is dropped: errors are never answered.)
      if (!room) return new StanzaError("cancel", "item-not-found", "No such room");
      await apply(node, room, room.message(stanza));
      return true;
    };
    module.hook("message/bare", onMessage);
    module.hook("message/full", onMessage);

    // ---- iq ----
    // Every iq to a room goes to the room, except the room archive's (roomArchiveQuery, below); an
    // iq to a room that is not there gets item-not-found, or `gone` with the room's new address.
    const onIq = async (ev: StanzaEvent) => {
      const { stanza } = ev;
      const node = jidNode(stanza.attrs.to ?? "")!;
      const room = rooms.get(node);
      const type = stanza.attrs.type;
      if (!room) {
        if (type !== "get" && type !== "set") return true;
        const t = tombstoneOf(node);
        return t ? gone(t) : new StanzaError("cancel", "item-not-found", "No such room");
      }
      const payload = stanza.firstElement();
      if (jidResource(stanza.attrs.to ?? "") === undefined && payload?.name === "query" && payload.attrs.xmlns === NS_MAM) return undefined;
      await apply(node, room, room.iq(stanza));
      return true;
    };
    module.hook("iq/bare", onIq, 10);
    module.hook("iq/full", onIq, 10);

    const roomArchiveQuery: IqHandler = async (ev) => {
      const { stanza, payload: query } = ev;
      const node = jidNode(stanza.attrs.to ?? "")!;
      const room = rooms.get(node);
      if (!room) return undefined; // (onIq answered it)
      // XEP-0313 §4.2: the result messages go straight back to the requester, before the iq's result.
      const send = (m: Element) => module.reply(ev, m);
      if (stanza.attrs.type === "get") return queryFormReply();
      const from = stanza.attrs.from ?? "";
      if (!room.archived) return new StanzaError("cancel", "service-unavailable", "This room is not archived");
      if (!room.mayReadArchive(from)) return new StanzaError("auth", "forbidden", "You may not read this room's archive");
      const parsed = parseQuery(query);
      if (!parsed.ok) return new StanzaError("modify", "bad-request", parsed.text);
      const q = parsed.query;
      // XEP-0313 §4.1.1: in a room archive `with` matches the publisher, the occupant's in-room JID
      // (room@service/nick). Real JIDs are not matched, so the filter reveals nothing in any room.
      if (q.with !== undefined) {
        const w = jidPrep(q.with);
        if (w === undefined || jidBare(w) !== room.jid || jidResource(w) === undefined) {
          return new StanzaError("modify", "bad-request", "In a room archive, 'with' is an occupant's room@service/nick JID");
        }
        q.with = w;
      }
      await writes.get(node);
      const page = await queryPage(
        {
          find: (aq) => archive.find(node, aq),
          get: (id) => archive.get(node, id),
          count: (aq) => archive.count(node, aq),
        },
        q,
        { limit: Math.min(q.max ?? 20, maxArchiveResults), includeTotal: true },
      );
      if (!page.ok) return new StanzaError("cancel", "item-not-found", page.text);
      const items = q.flip ? [...page.items].reverse() : page.items;
      for (const item of items) {
        const v = item.value as unknown as { x?: Json } | null;
        const m = elementFromJson(v?.x);
        if (!m) continue;
        delete m.attrs.to;
        m.attrs.xmlns = NS_CLIENT;
        send(resultMessage(from, room.jid, q.queryid, item.id, item.when, m));
      }
      return finElement(q.queryid, page.info);
    };
    module.iq.get(NS_MAM, "query", roomArchiveQuery, { to: "bare" });
    module.iq.set(NS_MAM, "query", roomArchiveQuery, { to: "bare" });

    // ---- the service itself: disco ----
    module.iq.get(
      NS_DISCO_INFO,
      "query",
      (ev) => {
        const q = new Element("query", { xmlns: NS_DISCO_INFO });
        if (ev.payload.attrs.node !== undefined) return new StanzaError("cancel", "item-not-found");
        q.children.push(new Element("identity", { category: "conference", type: "text", name: serviceName }));
        const features = new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_REGISTER, NS_SELF_PING_OPT, NS_PING, ...module.discoInfo().features]);
        for (const f of features) q.children.push(new Element("feature", { var: f }));
        return q;
      },
      { priority: 10 },
    );
    module.iq.get(
      NS_DISCO_ITEMS,
      "query",
      () => {
        const q = new Element("query", { xmlns: NS_DISCO_ITEMS });
        for (const room of rooms.values()) {
          if (!room.config.public || room.locked) continue;
          q.children.push(new Element("item", { jid: room.jid, name: room.config.name || jidNode(room.jid)! }));
        }
        return q;
      },
      { priority: 10 },
    );
    module.iq.get("urn:xmpp:ping", "ping", () => null, { priority: 10 });

    // ---- archive expiry ----
    if (Number.isFinite(logExpiry)) {
      const sweepMs = Math.min(logExpiry * 1000, 3600_000);
      module.addTimer(sweepMs, async () => {
        const end = Date.now() - logExpiry * 1000;
        for (const node of await archive.users()) await chain(node, () => archive.delete(node, { end }));
        return sweepMs;
      });
    }

    // §7.2 / 332: occupants hear that the service goes away.
    module.onUnload(() => {
      for (const room of rooms.values()) {
        for (const occ of room.occupants.values()) {
          for (const s of occ.sessions.keys()) {
            const x = new Element("x", { xmlns: NS_MUC_USER }, [
              new Element("item", { affiliation: room.affiliationOf(occ.bare), role: "none" }),
              new Element("status", { code: "332" }),
            ]);
            module.send(new Element("presence", { from: `${room.jid}/${occ.nick}`, to: s, type: "unavailable" }, [x]));
          }
        }
      }
    });
  },
});

/** XEP-0045 §7.2: presence errors of the service carry the MUC element. */
function mucX(): Element[] {
  return [new Element("x", { xmlns: NS_MUC })];
}

/** What the MUC service offers others on its host (tests and benchmarks look inside). */
export interface MucService {
  rooms: Map<string, Room>;
  /** Resolves once every pending room and archive write is done. */
  flush(): Promise<void>;
}

declare module "../../src/modules/api.js" {
  interface ServiceMap {
    muc: MucService;
  }
}
