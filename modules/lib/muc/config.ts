// A room's configuration (XEP-0045 §10.2, the muc#roomconfig form) and its mapping to and from
// the form, the room's disco#info features and its muc#roominfo form (§6.4).

import { Element } from "../../../src/xml/stanza.js";
import { parseForm, renderForm, type FieldDef, type FormDef } from "../../../src/util/dataforms.js";
import type { Role } from "./permissions.js";
import { NS_MAM, NS_MUC, NS_OCCUPANT_ID, NS_REGISTER, NS_SELF_PING_OPT, NS_STABLE_ID } from "./xml.js";

export type Whois = "moderators" | "anyone";
export type AllowPm = "anyone" | "participants" | "moderators" | "none";

export interface RoomConfig {
  name: string;
  description: string;
  language: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  /** "" = no password. */
  password: string;
  /** 0 = no limit. */
  maxUsers: number;
  whois: Whois;
  changeSubject: boolean;
  /** Occupants other than moderators may send mediated invitations (muc#roomconfig_allowinvites). */
  allowInvites: boolean;
  allowPm: AllowPm;
  /** Messages kept for history on join. */
  historyLength: number;
  /** Roles whose presence is broadcast. */
  presenceBroadcast: Role[];
  /** The room's messages go to its archive (XEP-0313). */
  archiving: boolean;
}

/** Defaults as Prosody's muc_room_default_* options give them. */
export const BUILTIN_DEFAULTS: RoomConfig = {
  name: "",
  description: "",
  language: "",
  persistent: false,
  public: true,
  membersOnly: false,
  moderated: false,
  password: "",
  maxUsers: 0,
  whois: "moderators",
  changeSubject: false,
  allowInvites: false,
  allowPm: "anyone",
  historyLength: 20,
  presenceBroadcast: ["moderator", "participant", "visitor"],
  archiving: true,
};

export const FORM_ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig";
export const FORM_ROOMINFO = "http://jabber.org/protocol/muc#roominfo";

const MAX_USERS_OPTIONS = ["10", "20", "30", "50", "100", "none"];

export function configFormDef(maxHistory: number, archiving: boolean): FormDef {
  const fields: FieldDef[] = [
    { var: "muc#roomconfig_roomname", name: "name", label: "Title" },
    { var: "muc#roomconfig_roomdesc", name: "description", label: "Description" },
    { var: "muc#roomconfig_lang", name: "language", label: "Language tag for room (e.g. 'en', 'de', 'fr' etc.)" },
    { var: "muc#roomconfig_persistentroom", name: "persistent", type: "boolean", label: "Persistent (room should remain even when it is unoccupied)" },
    { var: "muc#roomconfig_publicroom", name: "public", type: "boolean", label: "Include room information in public lists" },
    { var: "muc#roomconfig_membersonly", name: "membersOnly", type: "boolean", label: "Only allow members to join" },
    { var: "muc#roomconfig_moderatedroom", name: "moderated", type: "boolean", label: "Moderated (require permission to speak)" },
    { var: "muc#roomconfig_passwordprotectedroom", name: "passwordProtected", type: "boolean", label: "Password protected" },
    { var: "muc#roomconfig_roomsecret", name: "password", type: "text-private", label: "Password" },
    { var: "muc#roomconfig_maxusers", name: "maxUsers", type: "list-single", label: "Maximum number of occupants", options: MAX_USERS_OPTIONS, openOptions: true },
    {
      var: "muc#roomconfig_whois",
      name: "whois",
      type: "list-single",
      label: "Addresses (JIDs) of room occupants may be viewed by:",
      options: [{ value: "moderators", label: "Moderators only" }, { value: "anyone", label: "Anyone" }],
    },
    { var: "muc#roomconfig_changesubject", name: "changeSubject", type: "boolean", label: "Allow anyone to set the room's subject" },
    { var: "muc#roomconfig_allowinvites", name: "allowInvites", type: "boolean", label: "Allow members to invite new members" },
    {
      var: "muc#roomconfig_allowpm",
      name: "allowPm",
      type: "list-single",
      label: "Allow private messages from",
      options: ["anyone", "participants", "moderators", "none"],
    },
    { var: "muc#roomconfig_historylength", name: "historyLength", label: "Maximum number of history messages returned by room", datatype: "xs:integer", range: { min: 0, max: maxHistory } },
    {
      var: "muc#roomconfig_presencebroadcast",
      name: "presenceBroadcast",
      type: "list-multi",
      label: "Roles whose presence is broadcast",
      options: ["moderator", "participant", "visitor"],
    },
  ];
  if (archiving) fields.push({ var: "muc#roomconfig_enablearchiving", name: "archiving", type: "boolean", label: "Archive chat on server" });
  // §10.2: the owner and admin lists, edited like the §10.3–§10.7 admin lists.
  fields.push(
    { var: "muc#roomconfig_roomowners", name: "owners", type: "jid-multi", label: "Full list of room owners" },
    { var: "muc#roomconfig_roomadmins", name: "admins", type: "jid-multi", label: "Full list of room admins" },
  );
  return { formType: FORM_ROOMCONFIG, title: "Room configuration", fields };
}

/** The room's current owner and admin lists (bare JIDs), shown in the form. */
export interface AffiliationLists {
  owners: string[];
  admins: string[];
}

export function renderConfigForm(config: RoomConfig, maxHistory: number, archiving: boolean, title?: string, lists?: AffiliationLists): Element {
  const def = configFormDef(maxHistory, archiving);
  return renderForm(title ? { ...def, title } : def, {
    ...config,
    owners: lists?.owners ?? [],
    admins: lists?.admins ?? [],
    passwordProtected: config.password !== "",
    maxUsers: config.maxUsers === 0 ? "none" : String(config.maxUsers),
    presenceBroadcast: config.presenceBroadcast,
  }, "form");
}

export type ConfigParse =
  | { ok: true; config: RoomConfig; changed: Set<keyof RoomConfig>; owners?: string[]; admins?: string[] }
  | { ok: false; text: string };

/** Apply a submitted muc#roomconfig form to `current` (fields left out keep their value). */
export function applyConfigForm(current: RoomConfig, x: Element, maxHistory: number, archiving: boolean): ConfigParse {
  const parsed = parseForm(configFormDef(maxHistory, archiving), x);
  if (!parsed.ok) return { ok: false, text: parsed.error };
  if (parsed.formType !== undefined && parsed.formType !== FORM_ROOMCONFIG) return { ok: false, text: "Unexpected FORM_TYPE" };
  const v = parsed.values;
  const next: RoomConfig = { ...current, presenceBroadcast: [...current.presenceBroadcast] };
  const str = (k: "name" | "description" | "language" | "password") => {
    if (parsed.present.has(k)) next[k] = String(v[k] ?? "");
  };
  str("name");
  str("description");
  str("language");
  str("password");
  for (const k of ["persistent", "public", "membersOnly", "moderated", "changeSubject", "allowInvites", "archiving"] as const) {
    if (parsed.present.has(k)) next[k] = v[k] === true;
  }
  if (parsed.present.has("passwordProtected") && v.passwordProtected === false) next.password = "";
  if (parsed.present.has("maxUsers")) {
    const m = String(v.maxUsers ?? "none");
    if (m === "none" || m === "" || m === "0") next.maxUsers = 0;
    else if (/^\d+$/.test(m)) next.maxUsers = Number(m);
    else return { ok: false, text: "muc#roomconfig_maxusers must be a number or 'none'" };
  }
  if (parsed.present.has("whois")) next.whois = v.whois as Whois;
  if (parsed.present.has("allowPm")) next.allowPm = v.allowPm as AllowPm;
  if (parsed.present.has("historyLength")) next.historyLength = Number(v.historyLength);
  if (parsed.present.has("presenceBroadcast")) next.presenceBroadcast = (v.presenceBroadcast as string[]) as Role[];
  const changed = new Set<keyof RoomConfig>();
  for (const k of Object.keys(next) as (keyof RoomConfig)[]) {
    if (JSON.stringify(next[k]) !== JSON.stringify(current[k])) changed.add(k);
  }
  const result: ConfigParse = { ok: true, config: next, changed };
  // jid-multi values as submitted; the room validates and applies them as affiliation changes.
  if (parsed.present.has("owners")) result.owners = [...((v.owners as string[] | undefined) ?? [])];
  if (parsed.present.has("admins")) result.admins = [...((v.admins as string[] | undefined) ?? [])];
  return result;
}

/** §6.4 disco#info features of a room. */
export function roomFeatures(config: RoomConfig, opts: { archiving: boolean; registration: boolean; occupantIds?: boolean }): string[] {
  const f = [
    NS_MUC,
    NS_STABLE_ID,
    NS_SELF_PING_OPT,
    "http://jabber.org/protocol/muc#request",
    config.public ? "muc_public" : "muc_hidden",
    config.persistent ? "muc_persistent" : "muc_temporary",
    config.membersOnly ? "muc_membersonly" : "muc_open",
    config.moderated ? "muc_moderated" : "muc_unmoderated",
    config.password !== "" ? "muc_passwordprotected" : "muc_unsecured",
    config.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous",
  ];
  if (opts.occupantIds !== false) f.push(NS_OCCUPANT_ID);
  if (opts.registration) f.push(NS_REGISTER);
  if (opts.archiving && config.archiving) f.push(NS_MAM);
  return f;
}

/** §6.4 the muc#roominfo extension. */
export function roomInfoForm(config: RoomConfig, occupants: number, subject: string, maxHistory: number): Element {
  const def: FormDef = {
    formType: FORM_ROOMINFO,
    fields: [
      { var: "muc#roomconfig_roomname", name: "name", label: "Title" },
      { var: "muc#roominfo_description", name: "description", label: "Description" },
      { var: "muc#roominfo_subject", name: "subject", label: "Subject" },
      { var: "muc#roominfo_occupants", name: "occupants", label: "Number of occupants" },
      { var: "muc#roominfo_lang", name: "language", label: "Language tag for room (e.g. 'en', 'de', 'fr' etc.)" },
      { var: "muc#roomconfig_changesubject", name: "changeSubject", type: "boolean", label: "Allow anyone to set the room's subject" },
      { var: "muc#roomconfig_allowinvites", name: "allowInvites", type: "boolean", label: "Allow members to invite new members" },
      { var: "muc#maxhistoryfetch", name: "history", label: "Maximum number of history messages returned by room" },
    ],
  };
  return renderForm(def, {
    name: config.name,
    description: config.description,
    subject,
    occupants: String(occupants),
    language: config.language,
    changeSubject: config.changeSubject,
    allowInvites: config.allowInvites,
    history: String(Math.min(config.historyLength, maxHistory)),
  }, "result");
}
