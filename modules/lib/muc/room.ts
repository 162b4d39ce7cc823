// One XEP-0045 room as pure state: presence, messages and admin/owner requests go in, the stanzas
// to send come out (with what to persist or archive). No I/O here: mod_muc routes and stores.

import { createHash, randomBytes } from "node:crypto";
import { Element, errorReply, freezeSerialization, reply, type ErrorType } from "../../../src/xml/stanza.js";
import { jidBare, jidPrep, jidResource } from "../../../src/util/jid.js";
import { findForm, parseForm, renderForm, type FormDef } from "../../../src/util/dataforms.js";
import {
  AFFILIATION_RANK,
  canChangeAffiliation,
  canChangeRole,
  canReadAffiliationList,
  canReadRoleList,
  defaultRole,
  isAffiliation,
  isRole,
  type Affiliation,
  type Role,
} from "./permissions.js";
import { applyConfigForm, renderConfigForm, roomFeatures, roomInfoForm, type RoomConfig } from "./config.js";
import { parseHistoryRequest, selectHistory, type HistoryEntry } from "./history.js";
import {
  NS_CONFERENCE,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_MUC,
  NS_MUC_ADMIN,
  NS_MUC_OWNER,
  NS_MUC_REGISTER,
  NS_MUC_REQUEST,
  NS_MUC_USER,
  NS_OCCUPANT_ID,
  NS_PING,
  NS_REGISTER,
  NS_STANZA_ID,
  delayElement,
  statusCodes,
} from "./xml.js";

export interface RoomEnv {
  now(): number;
  /** A fresh stanza id (XEP-0359) for a groupchat message. */
  newId(): string;
  /** max_history_messages: the most history any room keeps. */
  maxHistory: number;
  /** The room archive is available (muc_mam loaded): offer muc#roomconfig_enablearchiving. */
  archiving: boolean;
  /** muc_log_all_rooms: every room is archived whatever its configuration. */
  archiveAll?: boolean;
  /** Server admins act as owners of every room. */
  isServiceAdmin(bare: string): boolean;
  /** allow_unaffiliated_register: entities without an affiliation may register a nickname. */
  allowUnaffiliatedRegister?: boolean;
  /** muc_occupant_id: XEP-0421 occupant ids are added (default true). */
  occupantIds?: boolean;
  /** muc_room_allow_persistent / muc_room_allow_public: owners who are not server admins may set these. */
  allowPersistent?: boolean;
  allowPublic?: boolean;
  /** muc_log_presences: joins and leaves go to the archive too (default false). */
  logPresences?: boolean;
}

export interface Occupant {
  nick: string;
  bare: string;
  role: Role;
  /** Joined sessions (full JIDs) with the payload of each one's last presence. */
  sessions: Map<string, Element[]>;
  /** The session whose presence was last seen (its JID is the one shown). */
  last: string;
  occupantId: string;
}

/** A groupchat message to archive. */
export interface ArchiveEntry {
  id: string;
  when: number;
  /** The occupant's in-room JID (room@service/nick), what a `with` filter matches (XEP-0313 §4.1.1). */
  with: string;
  stanza: Element;
}

export interface Outcome {
  out: Element[];
  /** Persisted state (configuration, affiliations, subject) changed. */
  save?: boolean;
  archive?: ArchiveEntry;
  /** The room no longer exists. */
  destroyed?: { alternate?: string; reason?: string; tombstone: boolean };
}

export interface RoomRecord {
  config: RoomConfig;
  affiliations: Record<string, Affiliation>;
  nicks: Record<string, string>;
  subject?: { text: string; nick?: string; when?: number };
  locked?: boolean;
  created: number;
  salt: string;
}

const NO_NICK = "";

export class Room {
  config: RoomConfig;
  readonly affiliations = new Map<string, Affiliation>();
  /** Reserved nicknames (muc#register, member lists) by bare JID. */
  readonly nicks = new Map<string, string>();
  readonly occupants = new Map<string, Occupant>();
  /** Full JID of a joined session -> its nick. */
  readonly byJid = new Map<string, string>();
  history: HistoryEntry<Element>[] = [];
  subject: { text: string; nick?: string; when?: number } = { text: "" };
  /** Locked until its owner configures it (§10.1.1). */
  locked = false;
  created: number;
  salt: string;
  /** Occupant iqs forwarded (target full JID + id -> asking full JID). */
  private readonly forwardedIqs = new Map<string, string>();

  constructor(
    readonly jid: string,
    config: RoomConfig,
    private readonly env: RoomEnv,
    record?: Omit<RoomRecord, "config">,
  ) {
    this.config = { ...config, presenceBroadcast: [...config.presenceBroadcast] };
    this.created = record?.created ?? env.now();
    this.salt = record?.salt ?? randomBytes(16).toString("base64");
    if (record) {
      for (const [j, a] of Object.entries(record.affiliations)) if (isAffiliation(a) && a !== "none") this.affiliations.set(j, a);
      for (const [j, n] of Object.entries(record.nicks)) this.nicks.set(j, n);
      if (record.subject) this.subject = { ...record.subject };
      this.locked = record.locked === true;
    }
  }

  record(): RoomRecord {
    return {
      config: this.config,
      affiliations: Object.fromEntries(this.affiliations),
      nicks: Object.fromEntries(this.nicks),
      subject: this.subject,
      locked: this.locked,
      created: this.created,
      salt: this.salt,
    };
  }

  get archived(): boolean {
    return this.env.archiving && (this.env.archiveAll === true || this.config.archiving);
  }

  // ---- affiliations and roles ----

  affiliationOf(jid: string): Affiliation {
    const bare = jidBare(jid);
    if (this.env.isServiceAdmin(bare)) return "owner";
    return this.affiliations.get(bare) ?? "none";
  }

  private affiliationList(aff: Affiliation): string[] {
    return [...this.affiliations].filter(([, a]) => a === aff).map(([j]) => j);
  }

  private setAffiliation(bare: string, aff: Affiliation): void {
    if (aff === "none") this.affiliations.delete(bare);
    else this.affiliations.set(bare, aff);
  }

  occupantOf(fullJid: string): Occupant | undefined {
    const nick = this.byJid.get(fullJid);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  private occupantIdOf(bare: string): string {
    return createHash("sha256").update(this.salt).update(bare).digest("base64");
  }

  isEmpty(): boolean {
    return this.occupants.size === 0;
  }

  // ---- presence ----

  /** Presence addressed to room/nick (or the room itself: jid-malformed). */
  presence(stanza: Element, created = false): Outcome {
    const from = stanza.attrs.from ?? "";
    const nick = jidResource(stanza.attrs.to ?? "") ?? NO_NICK;
    const type = stanza.attrs.type;
    const current = this.occupantOf(from);
    if (type === "error") {
      // The occupant's client bounced a stanza (§7.2? Prosody's behaviour): it is gone.
      return current ? this.leave(current, from, undefined, [307, 333]) : { out: [] };
    }
    if (type === "unavailable") return current ? this.leave(current, from, stanza) : { out: [] };
    if (type !== undefined) return { out: [] };
    if (nick === NO_NICK) return { out: [this.presenceError(stanza, "modify", "jid-malformed", "A nickname is required")] };
    if (current) {
      if (current.nick === nick) return this.update(current, from, stanza);
      return this.changeNick(current, from, nick, stanza);
    }
    return this.join(stanza, from, nick, created);
  }

  private presenceError(stanza: Element, type: ErrorType, condition: string, text?: string): Element {
    const e = errorReply(stanza, type, condition, text);
    e.children.unshift(new Element("x", { xmlns: NS_MUC }));
    return e;
  }

  private reservedBy(nick: string): string | undefined {
    for (const [bare, n] of this.nicks) if (n === nick) return bare;
    return undefined;
  }

  private join(stanza: Element, from: string, nick: string, created: boolean): Outcome {
    const bare = jidBare(from);
    const mucX = stanza.getChild("x", NS_MUC);
    const aff = this.affiliationOf(bare);
    const existing = this.occupants.get(nick);
    if (existing && existing.bare !== bare) return { out: [this.presenceError(stanza, "cancel", "conflict", "That nickname is already in use")] };
    const holder = this.reservedBy(nick);
    if (holder !== undefined && holder !== bare) return { out: [this.presenceError(stanza, "cancel", "conflict", "That nickname is reserved")] };
    if (this.locked && !created && aff !== "owner") return { out: [this.presenceError(stanza, "cancel", "item-not-found", "This room is locked")] };
    if (aff === "outcast") return { out: [this.presenceError(stanza, "auth", "forbidden", "You have been banned from this room")] };
    if (this.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) {
      return { out: [this.presenceError(stanza, "auth", "registration-required", "Membership is required to enter this room")] };
    }
    if (this.config.password !== "" && !existing && aff !== "owner" && mucX?.getChildText("password") !== this.config.password) {
      return { out: [this.presenceError(stanza, "auth", "not-authorized", "A password is required to enter this room")] };
    }
    if (this.config.maxUsers > 0 && !existing && this.occupants.size >= this.config.maxUsers && AFFILIATION_RANK[aff] < AFFILIATION_RANK.admin) {
      return { out: [this.presenceError(stanza, "wait", "service-unavailable", "The room is full")] };
    }
    const out: Element[] = [];
    const payload = presencePayload(stanza);
    let occ = existing;
    let archive: ArchiveEntry | undefined;
    // Everyone already here, to the newcomer first (§7.2.3).
    for (const other of this.occupants.values()) {
      if (other === occ || !this.broadcasts(other.role, this.roleOf(bare, aff))) continue;
      out.push(withTo(this.presenceOf(other, { jid: this.seesJids(aff, existing?.role ?? defaultRole(aff, this.config.moderated)) }), from));
    }
    if (occ) {
      // Another session of the same occupant (multi-session nick).
      occ.sessions.set(from, payload);
      occ.last = from;
      this.byJid.set(from, nick);
      out.push(withTo(this.presenceOf(occ, { jid: true, codes: this.selfCodes(false) }), from));
    } else {
      occ = {
        nick,
        bare,
        role: defaultRole(aff, this.config.moderated),
        sessions: new Map([[from, payload]]),
        last: from,
        occupantId: this.occupantIdOf(bare),
      };
      this.occupants.set(nick, occ);
      this.byJid.set(from, nick);
      this.fanoutPresence(occ, { selfCodes: this.selfCodes(created) }, out, from);
      archive = this.presenceArchive(occ);
    }
    // History (§7.2.15), then the subject (§7.2.16).
    const historyReq = parseHistoryRequest(mucX?.getChild("history")?.attrs);
    const now = this.env.now();
    // maxchars counts each stanza as this session receives it (its `to` and the delay stamp added).
    const overhead = ` to='${from}'`.length + delayElement(this.jid, now).toString().length;
    for (const h of selectHistory(this.history, historyReq, Math.min(this.config.historyLength, this.env.maxHistory), now, overhead)) {
      const m = new Element("message", { ...h.value.attrs, to: from }, [...h.value.children, delayElement(this.jid, h.when)]);
      out.push(m);
    }
    const subjectFrom = this.subject.nick !== undefined ? `${this.jid}/${this.subject.nick}` : this.jid;
    const subj = new Element("message", { type: "groupchat", from: subjectFrom, to: from }, [new Element("subject", {}, this.subject.text ? [this.subject.text] : [])]);
    if (this.subject.when !== undefined && this.subject.text) subj.children.push(delayElement(this.jid, this.subject.when));
    out.push(subj);
    return archive ? { out, archive } : { out };
  }

  /** muc_log_presences: the occupant's presence as the room shows it (no real JID), to archive. */
  private presenceArchive(occ: Occupant): ArchiveEntry | undefined {
    if (this.env.logPresences !== true || !this.archived) return undefined;
    const p = this.presenceOf(occ, occ.role === "none" ? { type: "unavailable" } : {});
    return { id: this.env.newId(), when: this.env.now(), with: `${this.jid}/${occ.nick}`, stanza: p };
  }

  private roleOf(bare: string, aff: Affiliation): Role {
    for (const o of this.occupants.values()) if (o.bare === bare) return o.role;
    return defaultRole(aff, this.config.moderated);
  }

  private selfCodes(created: boolean): number[] {
    const codes = [110];
    if (this.config.whois === "anyone") codes.push(100);
    if (this.archived) codes.push(170);
    if (created) codes.push(201);
    return codes;
  }

  private seesJids(_aff: Affiliation, role: Role): boolean {
    return this.config.whois === "anyone" || role === "moderator";
  }

  /** Presence of `role` is broadcast to `to` (muc#roomconfig_presencebroadcast; moderators see all). */
  private broadcasts(role: Role, to: Role): boolean {
    return role === "none" || to === "moderator" || this.config.presenceBroadcast.includes(role);
  }

  private update(occ: Occupant, from: string, stanza: Element): Outcome {
    occ.sessions.set(from, presencePayload(stanza));
    occ.last = from;
    const out: Element[] = [];
    this.fanoutPresence(occ, {}, out);
    return { out };
  }

  private changeNick(occ: Occupant, from: string, nick: string, stanza: Element): Outcome {
    const other = this.occupants.get(nick);
    if (other && other.bare !== occ.bare) return { out: [this.presenceError(stanza, "cancel", "conflict", "That nickname is already in use")] };
    const holder = this.reservedBy(nick);
    if (holder !== undefined && holder !== occ.bare) return { out: [this.presenceError(stanza, "cancel", "conflict", "That nickname is reserved")] };
    if (other) {
      // The same person under that nick already: this session moves over (multi-session).
      return { out: [this.presenceError(stanza, "cancel", "not-acceptable", "Leave before joining under your other nickname")] };
    }
    const out: Element[] = [];
    this.fanoutPresence(occ, { type: "unavailable", codes: [303], newNick: nick }, out);
    this.occupants.delete(occ.nick);
    occ.nick = nick;
    this.occupants.set(nick, occ);
    for (const j of occ.sessions.keys()) this.byJid.set(j, nick);
    occ.sessions.set(from, presencePayload(stanza));
    occ.last = from;
    this.fanoutPresence(occ, {}, out);
    return { out };
  }

  private leave(occ: Occupant, from: string, stanza: Element | undefined, codes: number[] = []): Outcome {
    const out: Element[] = [];
    if (stanza) occ.sessions.set(from, presencePayload(stanza));
    if (occ.sessions.size > 1) {
      // One session of a multi-session occupant: only it is told.
      occ.sessions.delete(from);
      this.byJid.delete(from);
      if (occ.last === from) occ.last = occ.sessions.keys().next().value!;
      const p = this.presenceOf(occ, { type: "unavailable", jid: true, codes: [...codes, 110] });
      out.push(withTo(p, from));
      return { out };
    }
    occ.last = from;
    this.removeOccupant(occ, { codes }, out);
    const archive = this.presenceArchive(occ);
    return this.afterLeave(archive ? { out, archive } : { out });
  }

  private afterLeave(outcome: Outcome): Outcome {
    if (this.isEmpty() && !this.config.persistent) outcome.destroyed = { tombstone: false };
    return outcome;
  }

  private removeOccupant(occ: Occupant, opts: { codes?: number[]; actor?: string; reason?: string; affiliation?: Affiliation }, out: Element[]): void {
    occ.role = "none";
    this.fanoutPresence(occ, { type: "unavailable", codes: opts.codes ?? [], actor: opts.actor, reason: opts.reason }, out);
    this.occupants.delete(occ.nick);
    for (const j of occ.sessions.keys()) this.byJid.delete(j);
  }

  /**
   * The presence of `occ`, without `to`. `jid`: include the real JID (moderators, non-anonymous
   * rooms, the occupant itself).
   */
  private presenceOf(
    occ: Occupant,
    opts: { type?: "unavailable"; jid?: boolean; codes?: number[]; newNick?: string; actor?: string; reason?: string; destroy?: Element },
  ): Element {
    const attrs: Record<string, string> = { from: `${this.jid}/${occ.nick}` };
    if (opts.type) attrs.type = opts.type;
    const payload = occ.sessions.get(occ.last) ?? [];
    const item = new Element("item", { affiliation: this.affiliationOf(occ.bare), role: occ.role });
    if (opts.jid) item.attrs.jid = occ.last;
    if (opts.newNick !== undefined) item.attrs.nick = opts.newNick;
    if (opts.actor !== undefined) item.children.push(new Element("actor", { nick: opts.actor }));
    if (opts.reason !== undefined) item.children.push(new Element("reason", {}, [opts.reason]));
    const x = new Element("x", { xmlns: NS_MUC_USER }, [item, ...statusCodes(opts.codes ?? [])]);
    if (opts.destroy) x.children.push(opts.destroy);
    const children = [...payload, x];
    if (this.env.occupantIds !== false) children.push(new Element("occupant-id", { xmlns: NS_OCCUPANT_ID, id: occ.occupantId }));
    return new Element("presence", attrs, children);
  }

  /**
   * Send `occ`'s presence to every session in the room: others first (two variants, with and
   * without the real JID, each serialized once), the occupant's own sessions last with 110.
   */
  private fanoutPresence(
    occ: Occupant,
    opts: { type?: "unavailable"; codes?: number[]; selfCodes?: number[]; newNick?: string; actor?: string; reason?: string },
    out: Element[],
    onlySelf?: string,
  ): void {
    const codes = opts.codes ?? [];
    let withJid: Element | undefined;
    let withoutJid: Element | undefined;
    for (const other of this.occupants.values()) {
      if (other === occ || !this.broadcasts(occ.role, other.role)) continue;
      const jid = this.seesJids(this.affiliationOf(other.bare), other.role);
      let p: Element;
      if (jid) p = withJid ??= this.presenceOf(occ, { ...opts, jid: true, codes });
      else p = withoutJid ??= this.presenceOf(occ, { ...opts, jid: false, codes });
      for (const s of other.sessions.keys()) out.push(withTo(p, s));
    }
    for (const p of [withJid, withoutJid]) if (p) for (const c of p.children) if (typeof c !== "string") freezeSerialization(c);
    const self = this.presenceOf(occ, { ...opts, jid: true, codes: [...codes, ...(opts.selfCodes ?? [110])] });
    for (const s of occ.sessions.keys()) {
      if (onlySelf === undefined || s === onlySelf) out.push(withTo(self, s));
    }
  }

  // ---- messages ----

  message(stanza: Element): Outcome {
    const to = stanza.attrs.to ?? "";
    const nick = jidResource(to);
    const type = stanza.attrs.type ?? "normal";
    if (type === "error") {
      const occ = this.occupantOf(stanza.attrs.from ?? "");
      // A groupchat message bounced by an occupant's client: that session is gone (Prosody kicks it).
      return occ && nick === undefined ? this.leave(occ, stanza.attrs.from ?? "", undefined, [307, 333]) : { out: [] };
    }
    if (nick !== undefined) return this.privateMessage(stanza, nick, type);
    if (type === "groupchat") return this.groupchat(stanza);
    const x = stanza.getChild("x", NS_MUC_USER);
    if (x && (x.getChild("invite") || x.getChild("decline"))) return this.invitation(stanza, x);
    const form = findForm(stanza, NS_MUC_REQUEST);
    if (form) return this.voiceRequest(stanza, form);
    return { out: [errorReply(stanza, "modify", "bad-request", "Only groupchat messages, invitations and voice requests go to the room")] };
  }

  private groupchat(stanza: Element): Outcome {
    const from = stanza.attrs.from ?? "";
    const occ = this.occupantOf(from);
    if (!occ) return { out: [errorReply(stanza, "cancel", "not-acceptable", "You are not currently connected to this chat")] };
    if (occ.role === "visitor" || occ.role === "none") return { out: [errorReply(stanza, "auth", "forbidden", "You do not have permission to speak in this room")] };
    const subject = stanza.getChild("subject");
    const body = stanza.getChild("body");
    let save = false;
    if (subject && !body) {
      if (!this.config.changeSubject && occ.role !== "moderator") {
        return { out: [errorReply(stanza, "auth", "forbidden", "You are not allowed to change the subject")] };
      }
      this.subject = { text: subject.getText(), nick: occ.nick, when: this.env.now() };
      save = true;
    }
    const id = this.env.newId();
    const children: Element[] = [];
    for (const c of stanza.children) {
      if (typeof c === "string") continue;
      // Ids the room vouches for are its own (XEP-0359 §5, XEP-0421 §4): strip forged ones.
      if (c.name === "stanza-id" && c.attrs.xmlns === NS_STANZA_ID && c.attrs.by === this.jid) continue;
      if (c.name === "occupant-id" && c.attrs.xmlns === NS_OCCUPANT_ID) continue;
      children.push(c);
    }
    if (this.env.occupantIds !== false) children.push(new Element("occupant-id", { xmlns: NS_OCCUPANT_ID, id: occ.occupantId }));
    const archived = this.archived && body !== undefined;
    if (archived) children.push(new Element("stanza-id", { xmlns: NS_STANZA_ID, id, by: this.jid }));
    for (const c of children) freezeSerialization(c);
    const attrs: Record<string, string> = { type: "groupchat", from: `${this.jid}/${occ.nick}` };
    if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
    if (stanza.attrs["xml:lang"] !== undefined) attrs["xml:lang"] = stanza.attrs["xml:lang"];
    const template = new Element("message", attrs, children);
    const out: Element[] = [];
    for (const o of this.occupants.values()) for (const s of o.sessions.keys()) out.push(withTo(template, s));
    const now = this.env.now();
    const outcome: Outcome = { out, save };
    if (body) {
      this.history.push({ when: now, chars: template.toString().length, value: template });
      const limit = Math.min(this.config.historyLength, this.env.maxHistory);
      if (this.history.length > limit) this.history.splice(0, this.history.length - limit);
      if (archived) outcome.archive = { id, when: now, with: `${this.jid}/${occ.nick}`, stanza: template };
    }
    return outcome;
  }

  private privateMessage(stanza: Element, nick: string, type: string): Outcome {
    if (type === "groupchat") return { out: [errorReply(stanza, "modify", "bad-request", "Private messages cannot be of type groupchat")] };
    const sender = this.occupantOf(stanza.attrs.from ?? "");
    if (!sender) return { out: [errorReply(stanza, "cancel", "not-acceptable", "You are not currently connected to this chat")] };
    const target = this.occupants.get(nick);
    if (!target) return { out: [errorReply(stanza, "cancel", "item-not-found", "Recipient not in room")] };
    const allow = this.config.allowPm;
    const role = sender.role;
    if (allow === "none" || (allow === "moderators" && role !== "moderator") || (allow === "participants" && role === "visitor")) {
      if (sender.role !== "moderator" || allow === "none") return { out: [errorReply(stanza, "cancel", "forbidden", "Private messages are not allowed in this room")] };
    }
    const children = stanza.children.filter((c) => typeof c !== "string" && !(c.name === "occupant-id" && c.attrs.xmlns === NS_OCCUPANT_ID));
    if (!children.some((c) => typeof c !== "string" && c.name === "x" && c.attrs.xmlns === NS_MUC_USER)) children.push(new Element("x", { xmlns: NS_MUC_USER }));
    if (this.env.occupantIds !== false) children.push(new Element("occupant-id", { xmlns: NS_OCCUPANT_ID, id: sender.occupantId }));
    const attrs = { ...stanza.attrs, from: `${this.jid}/${sender.nick}` };
    const out: Element[] = [];
    for (const s of target.sessions.keys()) out.push(new Element("message", { ...attrs, to: s }, children));
    return { out };
  }

  /** §7.8.2 mediated invitations, and declines (§7.8.2.2). */
  private invitation(stanza: Element, x: Element): Outcome {
    const from = stanza.attrs.from ?? "";
    const sender = this.occupantOf(from);
    const aff = this.affiliationOf(from);
    const out: Element[] = [];
    let save = false;
    for (const decline of x.childElements("decline")) {
      const to = jidPrep(decline.attrs.to ?? "");
      if (to === undefined) return { out: [errorReply(stanza, "modify", "jid-malformed", "Invalid decline address")] };
      const d = new Element("decline", { from: jidBare(from) }, decline.childElements("reason"));
      out.push(new Element("message", { from: this.jid, to }, [new Element("x", { xmlns: NS_MUC_USER }, [d])]));
    }
    const invites = x.childElements("invite");
    if (invites.length > 0) {
      if (!sender) return { out: [errorReply(stanza, "cancel", "not-acceptable", "You are not currently connected to this chat")] };
      const privileged = sender.role === "moderator" || AFFILIATION_RANK[aff] >= AFFILIATION_RANK.admin;
      const mayInvite = privileged || (this.config.allowInvites && sender.role !== "visitor") || (!this.config.membersOnly && sender.role !== "visitor");
      if (!mayInvite) return { out: [errorReply(stanza, "auth", "forbidden", "You are not allowed to invite others to this room")] };
      for (const invite of invites) {
        const to = jidPrep(invite.attrs.to ?? "");
        if (to === undefined) return { out: [errorReply(stanza, "modify", "jid-malformed", "Invalid invitee address")] };
        // §9.3: an invitation into a members-only room by someone allowed makes the invitee a member.
        if (this.config.membersOnly && this.affiliationOf(to) === "none" && (privileged || this.config.allowInvites)) {
          this.setAffiliation(jidBare(to), "member");
          save = true;
        }
        const reason = invite.getChildText("reason");
        const inv = new Element("invite", { from }, reason !== undefined ? [new Element("reason", {}, [reason])] : []);
        const ux = new Element("x", { xmlns: NS_MUC_USER }, [inv]);
        if (this.config.password !== "") ux.children.push(new Element("password", {}, [this.config.password]));
        const text = `${jidBare(from)} invited you to the room ${this.jid}${reason ? ` (${reason})` : ""}`;
        out.push(
          new Element("message", { from: this.jid, to }, [
            new Element("body", {}, [text]),
            ux,
            new Element("x", { xmlns: NS_CONFERENCE, jid: this.jid }),
          ]),
        );
      }
    }
    return { out, save };
  }

  /** §7.13 / §8.6: a visitor asks for voice; moderators get an approval form, and answer with it. */
  private voiceRequest(stanza: Element, form: Element): Outcome {
    const from = stanza.attrs.from ?? "";
    const occ = this.occupantOf(from);
    if (!occ) return { out: [errorReply(stanza, "cancel", "not-acceptable", "You are not currently connected to this chat")] };
    const parsed = parseForm(VOICE_REQUEST_FORM, form);
    if (!parsed.ok) return { out: [errorReply(stanza, "modify", "bad-request", parsed.error)] };
    const v = parsed.values;
    if (occ.role === "moderator" && parsed.present.has("allow")) {
      // A moderator's answer.
      if (v.allow !== true) return { out: [] };
      const target = this.occupants.get(String(v.nick ?? ""));
      if (!target || target.role !== "visitor") return { out: [] };
      target.role = "participant";
      const out: Element[] = [];
      this.fanoutPresence(target, { actor: occ.nick }, out);
      return { out };
    }
    if (v.role !== "participant") return { out: [errorReply(stanza, "modify", "bad-request", "Only voice (muc#role participant) can be requested")] };
    if (occ.role !== "visitor") return { out: [] };
    const approval = renderForm(
      VOICE_REQUEST_FORM,
      { role: "participant", jid: this.config.whois === "anyone" ? from : undefined, nick: occ.nick, allow: false },
      "form",
    );
    const out: Element[] = [];
    for (const o of this.occupants.values()) {
      if (o.role !== "moderator") continue;
      for (const s of o.sessions.keys()) out.push(new Element("message", { from: this.jid, to: s }, [approval]));
    }
    return { out };
  }

  // ---- iq ----

  iq(stanza: Element): Outcome {
    const nick = jidResource(stanza.attrs.to ?? "");
    if (nick !== undefined) return this.occupantIq(stanza, nick);
    const type = stanza.attrs.type;
    if (type !== "get" && type !== "set") return { out: [] };
    const payload = stanza.firstElement();
    const key = `${payload?.attrs.xmlns ?? ""}:${payload?.name ?? ""}`;
    const from = stanza.attrs.from ?? "";
    switch (key) {
      case `${NS_DISCO_INFO}:query`:
        return type === "get" ? { out: [this.discoInfo(stanza, payload!)] } : { out: [errorReply(stanza, "cancel", "service-unavailable")] };
      case `${NS_DISCO_ITEMS}:query`:
        return type === "get" ? { out: [this.discoItems(stanza, from)] } : { out: [errorReply(stanza, "cancel", "service-unavailable")] };
      case `${NS_MUC_ADMIN}:query`:
        return type === "get" ? this.adminGet(stanza, payload!) : this.adminSet(stanza, payload!);
      case `${NS_MUC_OWNER}:query`:
        return this.owner(stanza, payload!, type);
      case `${NS_REGISTER}:query`:
        return this.register(stanza, payload!, type);
      case `${NS_PING}:ping`:
        return { out: [reply(stanza)] };
      default:
        return { out: [errorReply(stanza, "cancel", "service-unavailable")] };
    }
  }

  private occupantIq(stanza: Element, nick: string): Outcome {
    const from = stanza.attrs.from ?? "";
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") {
      // The answer to an iq the room forwarded to this occupant.
      const key = `${from}\0${stanza.attrs.id ?? ""}`;
      const asker = this.forwardedIqs.get(key);
      const answering = this.occupantOf(from);
      if (asker === undefined || !answering) return { out: [] };
      this.forwardedIqs.delete(key);
      return { out: [new Element("iq", { ...stanza.attrs, from: `${this.jid}/${answering.nick}`, to: asker }, stanza.children)] };
    }
    const target = this.occupants.get(nick);
    const payload = stanza.firstElement();
    // XEP-0410: a ping to one's own occupant JID says whether this session is still joined.
    if (payload?.name === "ping" && payload.attrs.xmlns === NS_PING && target?.sessions.has(from)) return { out: [reply(stanza)] };
    const sender = this.occupantOf(from);
    if (!sender) return { out: [errorReply(stanza, "cancel", "not-acceptable", "You are not currently connected to this chat")] };
    if (!target) return { out: [errorReply(stanza, "cancel", "item-not-found", "Recipient not in room")] };
    const to = target.last;
    const id = stanza.attrs.id ?? "";
    this.forwardedIqs.set(`${to}\0${id}`, from);
    if (this.forwardedIqs.size > 10_000) this.forwardedIqs.delete(this.forwardedIqs.keys().next().value!);
    return { out: [new Element("iq", { ...stanza.attrs, from: `${this.jid}/${sender.nick}`, to }, stanza.children)] };
  }

  discoInfo(stanza: Element, query: Element): Element {
    const r = reply(stanza);
    const q = new Element("query", { xmlns: NS_DISCO_INFO });
    if (query.attrs.node !== undefined) {
      r.attrs.type = "error";
      return errorReply(stanza, "cancel", "item-not-found");
    }
    q.children.push(new Element("identity", { category: "conference", type: "text", name: this.config.name || (jidNodeOf(this.jid) ?? this.jid) }));
    for (const f of roomFeatures(this.config, { archiving: this.archived, registration: true, occupantIds: this.env.occupantIds })) q.children.push(new Element("feature", { var: f }));
    q.children.push(roomInfoForm(this.config, this.occupants.size, this.subject.text, this.env.maxHistory));
    r.children.push(q);
    return r;
  }

  private discoItems(stanza: Element, from: string): Element {
    const r = reply(stanza);
    const q = new Element("query", { xmlns: NS_DISCO_ITEMS });
    // §6.5: occupants are listed only to those who may see them (occupants of non-anonymous or moderators).
    const asker = this.occupantOf(from);
    if (asker && (this.config.whois === "anyone" || asker.role === "moderator")) {
      for (const o of this.occupants.values()) q.children.push(new Element("item", { jid: `${this.jid}/${o.nick}`, name: o.nick }));
    }
    r.children.push(q);
    return r;
  }

  private actorOf(from: string): { aff: Affiliation; role: Role; nick?: string } {
    const occ = this.occupantOf(from);
    const aff = this.affiliationOf(from);
    // A non-occupant admin or owner acts as a moderator (Prosody's behaviour for admin requests).
    const role: Role = occ?.role ?? (AFFILIATION_RANK[aff] >= AFFILIATION_RANK.admin ? "moderator" : "none");
    return { aff, role, nick: occ?.nick };
  }

  private adminGet(stanza: Element, query: Element): Outcome {
    const item = query.getChild("item");
    const actor = this.actorOf(stanza.attrs.from ?? "");
    const r = reply(stanza);
    const q = new Element("query", { xmlns: NS_MUC_ADMIN });
    r.children.push(q);
    const aff = item?.attrs.affiliation;
    const role = item?.attrs.role;
    if (isAffiliation(aff) && aff !== "none") {
      if (!canReadAffiliationList(actor.aff, actor.role, aff, this.config.membersOnly)) return { out: [errorReply(stanza, "auth", "forbidden")] };
      for (const [jid, a] of this.affiliations) {
        if (a !== aff) continue;
        const attrs: Record<string, string> = { affiliation: a, jid };
        const nick = this.nicks.get(jid);
        if (nick !== undefined) attrs.nick = nick;
        q.children.push(new Element("item", attrs));
      }
      return { out: [r] };
    }
    if (isRole(role) && role !== "none") {
      if (!canReadRoleList(actor.role)) return { out: [errorReply(stanza, "auth", "forbidden")] };
      for (const o of this.occupants.values()) {
        if (o.role !== role) continue;
        q.children.push(new Element("item", { role, nick: o.nick, affiliation: this.affiliationOf(o.bare), jid: o.last }));
      }
      return { out: [r] };
    }
    return { out: [errorReply(stanza, "modify", "bad-request", "Ask for an affiliation or a role")] };
  }

  private adminSet(stanza: Element, query: Element): Outcome {
    const from = stanza.attrs.from ?? "";
    const actor = this.actorOf(from);
    const items = query.childElements("item");
    if (items.length === 0) return { out: [errorReply(stanza, "modify", "bad-request", "No item")] };
    type Change =
      | { kind: "role"; occ: Occupant; role: Role; reason?: string }
      | { kind: "aff"; bare: string; aff: Affiliation; reason?: string; nick?: string };
    const changes: Change[] = [];
    const pendingAff = new Map<string, Affiliation>();
    for (const item of items) {
      const reason = item.getChildText("reason");
      if (item.attrs.affiliation !== undefined) {
        const aff = item.attrs.affiliation;
        if (!isAffiliation(aff)) return { out: [errorReply(stanza, "modify", "bad-request", `Unknown affiliation ${aff}`)] };
        let bare: string | undefined;
        if (item.attrs.jid !== undefined) {
          const j = jidPrep(item.attrs.jid);
          if (j === undefined) return { out: [errorReply(stanza, "modify", "jid-malformed")] };
          bare = jidBare(j);
        } else if (item.attrs.nick !== undefined) {
          bare = this.occupants.get(item.attrs.nick)?.bare;
          if (bare === undefined) return { out: [errorReply(stanza, "cancel", "item-not-found", "No occupant with that nickname")] };
        } else return { out: [errorReply(stanza, "modify", "bad-request", "An affiliation item needs a jid")] };
        const current = pendingAff.get(bare) ?? this.affiliationOf(bare);
        // A service admin's rights are not the room's to take.
        if (this.env.isServiceAdmin(bare) && aff !== "owner") return { out: [errorReply(stanza, "cancel", "not-allowed", "That entity administers this service")] };
        const denial = canChangeAffiliation(actor.aff, current, aff);
        if (denial) return { out: [errorReply(stanza, denial === "forbidden" ? "auth" : "cancel", denial)] };
        pendingAff.set(bare, aff);
        changes.push({ kind: "aff", bare, aff, reason, nick: item.attrs.nick });
      } else if (item.attrs.role !== undefined) {
        const role = item.attrs.role;
        if (!isRole(role)) return { out: [errorReply(stanza, "modify", "bad-request", `Unknown role ${role}`)] };
        const nick = item.attrs.nick;
        const occ = nick === undefined ? undefined : this.occupants.get(nick);
        if (!occ) return { out: [errorReply(stanza, "cancel", "item-not-found", "No occupant with that nickname")] };
        const denial = canChangeRole({ role: actor.role, affiliation: actor.aff }, { role: occ.role, affiliation: this.affiliationOf(occ.bare) }, role);
        if (denial) return { out: [errorReply(stanza, denial === "forbidden" ? "auth" : "cancel", denial)] };
        changes.push({ kind: "role", occ, role, reason });
      } else return { out: [errorReply(stanza, "modify", "bad-request", "An item needs a role or an affiliation")] };
    }
    // §10.6: a room keeps at least one owner.
    const owners = new Set([...this.affiliations].filter(([, a]) => a === "owner").map(([j]) => j));
    for (const [j, a] of pendingAff) if (a === "owner") owners.add(j); else owners.delete(j);
    if (owners.size === 0 && [...pendingAff.values()].some(() => true) && [...this.affiliations.values()].includes("owner")) {
      return { out: [errorReply(stanza, "cancel", "conflict", "The room needs at least one owner")] };
    }
    const out: Element[] = [reply(stanza)];
    let save = false;
    for (const c of changes) {
      if (c.kind === "role") {
        if (!this.occupants.has(c.occ.nick)) continue;
        if (c.role === "none") this.removeOccupant(c.occ, { codes: [307], actor: actor.nick, reason: c.reason }, out);
        else {
          c.occ.role = c.role;
          this.fanoutPresence(c.occ, { actor: actor.nick, reason: c.reason }, out);
        }
      } else {
        this.applyAffiliation(c.bare, c.aff, actor.nick, c.reason, out);
        save = true;
      }
    }
    return this.afterLeave({ out, save });
  }

  /** Set an affiliation (already checked) and tell the room about each affected occupant (§9–§10). */
  private applyAffiliation(bare: string, aff: Affiliation, actorNick: string | undefined, reason: string | undefined, out: Element[]): void {
    this.setAffiliation(bare, aff);
    for (const occ of Array.from(this.occupants.values())) {
      if (occ.bare !== bare) continue;
      if (aff === "outcast") this.removeOccupant(occ, { codes: [301], actor: actorNick, reason }, out);
      else if (this.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) {
        this.removeOccupant(occ, { codes: [321], actor: actorNick, reason }, out);
      } else {
        occ.role = defaultRole(aff, this.config.moderated);
        this.fanoutPresence(occ, { actor: actorNick, reason }, out);
      }
    }
  }

  /**
   * §10.2 muc#roomconfig_roomowners / _roomadmins: the submitted full lists as affiliation changes
   * (whoever leaves a list becomes unaffiliated), checked as the §10.3–§10.7 admin lists are.
   */
  private formAffiliationChanges(owners: string[] | undefined, admins: string[] | undefined): Map<string, Affiliation> | { type: ErrorType; condition: string; text: string } {
    const changes = new Map<string, Affiliation>();
    const want = new Map<string, Affiliation>();
    for (const [list, aff] of [[owners, "owner"], [admins, "admin"]] as const) {
      if (list === undefined) continue;
      for (const [j, a] of this.affiliations) if (a === aff && !list.includes(j)) changes.set(j, "none");
      for (const j of list) {
        const bare = jidBare(j);
        if (bare !== j) return { type: "modify", condition: "jid-malformed", text: `Affiliations are held by bare JIDs: ${j}` };
        if (want.has(bare) && want.get(bare) !== aff) return { type: "modify", condition: "not-acceptable", text: `${bare} cannot be both owner and admin` };
        want.set(bare, aff);
      }
    }
    for (const [j, a] of want) changes.set(j, a);
    for (const [j, a] of Array.from(changes)) {
      if ((this.affiliations.get(j) ?? "none") === a) changes.delete(j);
      else if (this.env.isServiceAdmin(j) && a !== "owner") return { type: "cancel", condition: "not-allowed", text: "That entity administers this service" };
    }
    // §10.6: a room keeps at least one owner.
    const remaining = [...this.affiliations].filter(([j, a]) => (changes.get(j) ?? a) === "owner").length + [...changes].filter(([j, a]) => a === "owner" && !this.affiliations.has(j)).length;
    if (remaining === 0 && changes.size > 0 && this.affiliationList("owner").length > 0) return { type: "cancel", condition: "conflict", text: "The room needs at least one owner" };
    return changes;
  }

  private owner(stanza: Element, query: Element, type: "get" | "set"): Outcome {
    const from = stanza.attrs.from ?? "";
    if (this.affiliationOf(from) !== "owner") return { out: [errorReply(stanza, "auth", "forbidden", "Only owners may configure the room")] };
    if (type === "get") {
      const r = reply(stanza);
      const lists = { owners: this.affiliationList("owner"), admins: this.affiliationList("admin") };
      r.children.push(new Element("query", { xmlns: NS_MUC_OWNER }, [renderConfigForm(this.config, this.env.maxHistory, this.env.archiving, `Configuration for ${this.jid}`, lists)]));
      return { out: [r] };
    }
    const destroy = query.getChild("destroy");
    if (destroy) {
      const alt = destroy.attrs.jid;
      if (alt !== undefined && jidPrep(alt) === undefined) return { out: [errorReply(stanza, "modify", "jid-malformed")] };
      const reason = destroy.getChildText("reason");
      const out = [...this.destroyPresences(alt, reason), reply(stanza)];
      return { out, destroyed: { alternate: alt, reason, tombstone: true } };
    }
    const x = findForm(query);
    if (!x) return { out: [errorReply(stanza, "modify", "bad-request", "A configuration form or destroy request is required")] };
    if (x.attrs.type === "cancel") {
      // §10.1.3: cancelling the initial configuration of a locked room destroys it.
      if (this.locked) return { out: [reply(stanza), ...this.destroyPresences(undefined, undefined)], destroyed: { tombstone: false } };
      return { out: [reply(stanza)] };
    }
    if (x.attrs.type !== "submit") return { out: [errorReply(stanza, "modify", "bad-request", "Submit the configuration form")] };
    const parsed = applyConfigForm(this.config, x, this.env.maxHistory, this.env.archiving);
    if (!parsed.ok) return { out: [errorReply(stanza, "modify", "not-acceptable", parsed.text)] };
    const affChanges = this.formAffiliationChanges(parsed.owners, parsed.admins);
    if (!(affChanges instanceof Map)) return { out: [errorReply(stanza, affChanges.type, affChanges.condition, affChanges.text)] };
    const wasLocked = this.locked;
    const wasArchived = this.archived;
    // Prosody's muc_room_allow_persistent / muc_room_allow_public: only server admins change these then.
    if (!this.env.isServiceAdmin(jidBare(from))) {
      if (this.env.allowPersistent === false) parsed.config.persistent = this.config.persistent;
      if (this.env.allowPublic === false) parsed.config.public = this.config.public;
    }
    this.config = parsed.config;
    this.locked = false;
    const out: Element[] = [reply(stanza)];
    const ch = parsed.changed;
    const actorNick = this.occupantOf(from)?.nick;
    for (const [bare, aff] of affChanges) this.applyAffiliation(bare, aff, actorNick, undefined, out);
    // Switching muc#roomconfig_moderatedroom keeps present occupants' roles, as Prosody does
    // (XEP-0045 §10.2 asks for nothing more): only newcomers get the new default role, and
    // moderators grant or revoke voice (§8.3, §8.4). Occupants learn of it from status 104.
    if (this.history.length > Math.min(this.config.historyLength, this.env.maxHistory)) {
      this.history.splice(0, this.history.length - Math.min(this.config.historyLength, this.env.maxHistory));
    }
    if (ch.has("membersOnly") && this.config.membersOnly) {
      for (const occ of Array.from(this.occupants.values())) {
        if (AFFILIATION_RANK[this.affiliationOf(occ.bare)] < AFFILIATION_RANK.member) this.removeOccupant(occ, { codes: [322] }, out);
      }
    }
    if (!wasLocked && ch.size > 0) {
      const codes = [104];
      if (this.archived !== wasArchived) codes.push(this.archived ? 170 : 171);
      if (ch.has("whois")) codes.push(this.config.whois === "anyone" ? 172 : 173);
      const x = new Element("x", { xmlns: NS_MUC_USER }, statusCodes(codes));
      freezeSerialization(x);
      for (const o of this.occupants.values()) for (const s of o.sessions.keys()) out.push(new Element("message", { type: "groupchat", from: this.jid, to: s }, [x]));
    }
    return this.afterLeave({ out, save: true });
  }

  /** §10.9: every occupant leaves with the destroy notice. */
  destroyPresences(alternate: string | undefined, reason: string | undefined): Element[] {
    const out: Element[] = [];
    const d = new Element("destroy", alternate !== undefined ? { jid: alternate } : {});
    if (reason !== undefined) d.children.push(new Element("reason", {}, [reason]));
    for (const occ of this.occupants.values()) {
      for (const s of occ.sessions.keys()) {
        const x = new Element("x", { xmlns: NS_MUC_USER }, [new Element("item", { affiliation: "none", role: "none" }), d, ...statusCodes([110])]);
        out.push(new Element("presence", { from: `${this.jid}/${occ.nick}`, to: s, type: "unavailable" }, [x]));
      }
    }
    this.occupants.clear();
    this.byJid.clear();
    return out;
  }

  /** §7.10 room registration (muc#register). */
  private register(stanza: Element, query: Element, type: "get" | "set"): Outcome {
    const from = stanza.attrs.from ?? "";
    const bare = jidBare(from);
    const aff = this.affiliationOf(bare);
    if (aff === "outcast") return { out: [errorReply(stanza, "auth", "forbidden", "You have been banned from this room")] };
    if (aff === "none" && this.env.allowUnaffiliatedRegister !== true) {
      return { out: [errorReply(stanza, "auth", "registration-required", "Only affiliated users may register a nickname")] };
    }
    const r = reply(stanza);
    const q = new Element("query", { xmlns: NS_REGISTER });
    r.children.push(q);
    const registered = this.nicks.get(bare);
    if (type === "get") {
      if (registered !== undefined) {
        q.children.push(new Element("registered"), new Element("username", {}, [registered]));
      } else {
        q.children.push(new Element("instructions", {}, ["Reserve a nickname in this room"]), renderForm(REGISTER_FORM, {}, "form"));
      }
      return { out: [r] };
    }
    if (query.getChild("remove")) {
      this.nicks.delete(bare);
      if (aff === "member") this.setAffiliation(bare, "none");
      return { out: [reply(stanza)], save: true };
    }
    const x = findForm(query);
    const parsed = x ? parseForm(REGISTER_FORM, x) : undefined;
    if (!parsed || !parsed.ok) return { out: [errorReply(stanza, "modify", "bad-request", "Submit the registration form")] };
    const nick = String(parsed.values.nick ?? "").trim();
    if (nick === "" || jidPrep(`x@x/${nick}`) === undefined) return { out: [errorReply(stanza, "modify", "not-acceptable", "Invalid nickname")] };
    const holder = this.reservedBy(nick);
    const inUse = this.occupants.get(nick);
    if ((holder !== undefined && holder !== bare) || (inUse && inUse.bare !== bare)) return { out: [errorReply(stanza, "cancel", "conflict", "That nickname is taken")] };
    this.nicks.set(bare, nick);
    if (aff === "none") this.setAffiliation(bare, "member");
    const out: Element[] = [reply(stanza)];
    for (const occ of this.occupants.values()) {
      if (occ.bare !== bare) continue;
      occ.role = defaultRole(this.affiliationOf(bare), this.config.moderated) === "visitor" ? occ.role : occ.role === "visitor" ? "participant" : occ.role;
      this.fanoutPresence(occ, {}, out);
    }
    return { out, save: true };
  }

  /** May `from` read the room's archive (XEP-0313 §5 on a MUC: whoever may enter). */
  mayReadArchive(from: string): boolean {
    const aff = this.affiliationOf(from);
    if (aff === "outcast") return false;
    if (this.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) return false;
    return true;
  }
}

const VOICE_REQUEST_FORM: FormDef = {
  formType: NS_MUC_REQUEST,
  title: "Voice request",
  fields: [
    { var: "muc#role", name: "role", type: "list-single", label: "Requested role", options: ["participant"], openOptions: true },
    { var: "muc#jid", name: "jid", type: "jid-single", label: "User ID" },
    { var: "muc#roomnick", name: "nick", label: "Room Nickname" },
    { var: "muc#request_allow", name: "allow", type: "boolean", label: "Grant voice to this person?" },
  ],
};

const REGISTER_FORM: FormDef = {
  formType: NS_MUC_REGISTER,
  title: "Nickname registration",
  fields: [{ var: "muc#register_roomnick", name: "nick", label: "Nickname", required: true }],
};

function jidNodeOf(jid: string): string | undefined {
  const at = jid.indexOf("@");
  return at > 0 ? jid.slice(0, at) : undefined;
}

/** The client's presence payload to repeat to occupants (its MUC join element removed). */
function presencePayload(stanza: Element): Element[] {
  const out: Element[] = [];
  for (const c of stanza.children) {
    if (typeof c === "string") continue;
    const ns = c.attrs.xmlns;
    if (ns === NS_MUC || ns === NS_MUC_USER || ns === NS_OCCUPANT_ID) continue;
    if (c.name === "error") continue;
    out.push(c);
  }
  return out;
}

/** A copy of `el` addressed to `to`, sharing its children. */
function withTo(el: Element, to: string): Element {
  return new Element(el.name, { ...el.attrs, to }, el.children);
}
