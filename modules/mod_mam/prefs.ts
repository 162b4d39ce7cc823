// XEP-0313 §5.1 archiving preferences: a default (always, never, roster) and JIDs always or never
// archived. Pure: the XML and the decision; mod_mam keeps them in the keyval store "archive_prefs".

import { jidPrep } from "../../src/util/jid.js";
import { Element } from "../../src/xml/stanza.js";
import { NS_MAM } from "../../src/xml/ns.js";

export type Policy = "always" | "never" | "roster";

export interface ArchivePrefs {
  default: Policy;
  always: string[];
  never: string[];
}

/** Prosody's default_archive_policy: true/"always", false/"never", or "roster". */
export function policyOf(value: unknown): Policy | undefined {
  if (value === true || value === "always" || value === "true") return "always";
  if (value === false || value === "never" || value === "false") return "never";
  if (value === "roster") return "roster";
  return undefined;
}

/** <prefs default='...'><always>...</always><never>...</never></prefs> (§5.1.1). */
export function prefsElement(prefs: ArchivePrefs): Element {
  const list = (name: string, jids: string[]) => new Element(name, {}, jids.map((j) => new Element("jid", {}, [j])));
  return new Element("prefs", { xmlns: NS_MAM, default: prefs.default }, [list("always", prefs.always), list("never", prefs.never)]);
}

/**
 * Read a prefs set request (§5.1.2). JIDs are prepared (RFC 7622), duplicates dropped; a JID in
 * both lists stays only in <never/> (the safer reading). A missing default keeps `current`'s.
 */
export function parsePrefs(el: Element, current: ArchivePrefs): { ok: true; prefs: ArchivePrefs } | { ok: false; text: string } {
  let policy = current.default;
  if (el.attrs.default !== undefined) {
    const p = el.attrs.default;
    if (p !== "always" && p !== "never" && p !== "roster") return { ok: false, text: `Invalid default '${p}'` };
    policy = p;
  }
  const read = (name: string): string[] | string => {
    const out: string[] = [];
    const list = el.getChild(name);
    if (!list) return out;
    for (const j of list.childElements("jid")) {
      const jid = jidPrep(j.getText().trim());
      if (jid === undefined) return `Invalid JID '${j.getText()}'`;
      if (!out.includes(jid)) out.push(jid);
    }
    return out;
  };
  const always = read("always");
  if (typeof always === "string") return { ok: false, text: always };
  const never = read("never");
  if (typeof never === "string") return { ok: false, text: never };
  return { ok: true, prefs: { default: policy, always: always.filter((j) => !never.includes(j)), never } };
}

/** Are messages with `peer` (a bare JID) archived? `inRoster` is asked only for the roster default. */
export async function allows(prefs: ArchivePrefs, peer: string, inRoster: () => Promise<boolean>): Promise<boolean> {
  if (prefs.never.includes(peer)) return false;
  if (prefs.always.includes(peer)) return true;
  if (prefs.default === "roster") return inRoster();
  return prefs.default === "always";
}

/** Stored prefs as read back from JSON (anything unreadable gives undefined). */
export function prefsFromJson(v: unknown): ArchivePrefs | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const p = policyOf(o.default);
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : []);
  if (!p) return undefined;
  return { default: p, always: strings(o.always), never: strings(o.never) };
}
