// vcard-temp (XEP-0054) <-> PEP: the profile as a vCard4 item (XEP-0292, node urn:xmpp:vcard4,
// item "current") and the photo as a User Avatar (XEP-0084: data and metadata nodes, item id = the
// SHA-1 of the image). The field mapping is Prosody's mod_vcard_legacy, so a vCard set through one
// server reads back the same through the other.

import { createHash } from "node:crypto";
import { Element } from "../../src/xml/stanza.js";
import { NS_VCARD as NS_VCARD_TEMP, NS_VCARD4, NODE_VCARD4 } from "../../src/xml/ns.js";
export { NS_VCARD_TEMP, NS_VCARD4, NODE_VCARD4 };

export const NODE_AVATAR_DATA = "urn:xmpp:avatar:data";
export const NODE_AVATAR_METADATA = "urn:xmpp:avatar:metadata";

/** vCard4 property -> the value element it carries, for the properties that map one to one. */
const SIMPLE: Record<string, string> = {
  nickname: "text",
  title: "text",
  role: "text",
  categories: "text",
  note: "text",
  url: "uri",
  bday: "date",
};

export interface Avatar {
  /** Hex SHA-1 of the image (XEP-0084 §4.2: the item id and info id). */
  hash: string;
  data: Element;
  metadata: Element;
}

/** The parts of N and ADR: vcard-temp's name and vCard4's, in the order both write them. */
type Parts = ReadonlyArray<readonly [temp: string, vcard4: string]>;
const N_PARTS: Parts = [
  ["FAMILY", "surname"],
  ["GIVEN", "given"],
  ["MIDDLE", "additional"],
  ["PREFIX", "prefix"],
  ["SUFFIX", "suffix"],
];
const ADR_PARTS: Parts = [
  ["POBOX", "pobox"],
  ["EXTADD", "ext"],
  ["STREET", "street"],
  ["LOCALITY", "locality"],
  ["REGION", "region"],
  ["PCODE", "code"],
  ["CTRY", "country"],
];

function text(el: Element | undefined, name: string): string | undefined {
  return el?.getChild(name)?.getText();
}

/** `name` with every part of `from` (an N or ADR of the other format), each under its name in this one. */
function withParts(name: string, from: Element | undefined, parts: Parts, to: "temp" | "vcard4"): Element {
  const el = new Element(name);
  for (const [temp, vcard4] of parts) {
    if (to === "vcard4") el.textTag(vcard4, text(from, temp));
    else el.textTag(temp, text(from, vcard4));
  }
  return el;
}

/** vCard4 <parameters><type><text>home|work</text></type></parameters> from vcard-temp's HOME/WORK. */
function typeParameter(tag: Element): Element {
  const type = new Element("type");
  if (tag.getChild("HOME")) type.textTag("text", "home");
  else if (tag.getChild("WORK")) type.textTag("text", "work");
  return new Element("parameters", {}, [type]);
}

/** vcard-temp's HOME or WORK on `el` from a vCard4 property's type parameter (none for other types). */
function addTypeTag(prop: Element, el: Element): Element {
  const type = prop.getChild("parameters")?.getChild("type")?.getChildText("text");
  if (type === "home" || type === "work") el.textTag(type.toUpperCase());
  return el;
}

/** XEP-0054 -> the vCard4 payload and the avatars of its PHOTOs (BINVAL only: EXTVAL has no hash). */
export function vcardTempToPep(vcardTemp: Element): { vcard4: Element; avatars: Avatar[] } {
  const v4 = new Element("vcard", { xmlns: NS_VCARD4 });
  v4.tag("fn").textTag("text", text(vcardTemp, "FN")).up();
  v4.add(withParts("n", vcardTemp.getChild("N"), N_PARTS, "vcard4"));
  const avatars: Avatar[] = [];
  for (const tag of vcardTemp.childElements()) {
    const lower = tag.name.toLowerCase();
    const simple = SIMPLE[lower];
    if (simple !== undefined) {
      const t = tag.getText();
      if (t !== "") v4.tag(lower).textTag(simple, t).up();
    } else if (tag.name === "EMAIL") {
      const userid = text(tag, "USERID");
      if (userid) v4.add(new Element("email", {}, [new Element("text", {}, [userid]), typeParameter(tag)]));
    } else if (tag.name === "TEL") {
      const number = text(tag, "NUMBER");
      if (number) v4.add(new Element("tel", {}, [new Element("uri", {}, [`tel:${number}`]), typeParameter(tag)]));
    } else if (tag.name === "ORG") {
      const org = text(tag, "ORGNAME");
      if (org) v4.tag("org").textTag("text", org).up();
    } else if (tag.name === "DESC") {
      // <note> comes back as <NOTE>.
      const t = tag.getText();
      if (t !== "") v4.tag("note").textTag("text", t).up();
    } else if (tag.name === "ADR") {
      v4.add(withParts("adr", tag, ADR_PARTS, "vcard4").add(typeParameter(tag)));
    } else if (tag.name === "PHOTO") {
      const binval = text(tag, "BINVAL")?.replace(/\s+/g, "");
      if (!binval) continue;
      const raw = Buffer.from(binval, "base64");
      if (raw.length === 0) continue;
      const hash = createHash("sha1").update(raw).digest("hex");
      const info: Record<string, string> = { bytes: String(raw.length), id: hash };
      const type = text(tag, "TYPE")?.trim();
      if (type) info.type = type;
      avatars.push({
        hash,
        data: new Element("data", { xmlns: NODE_AVATAR_DATA }, [raw.toString("base64")]),
        metadata: new Element("metadata", { xmlns: NODE_AVATAR_METADATA }, [new Element("info", info)]),
      });
    }
  }
  return { vcard4: v4, avatars };
}

/** vCard4 (and avatar items) -> XEP-0054. FN and N are always there (the schema requires them). */
export function pepToVcardTemp(vcard4: Element | undefined, avatars: Array<{ data?: Element; metadata?: Element }> = []): Element {
  const vt = new Element("vCard", { xmlns: NS_VCARD_TEMP });
  if (vcard4) {
    vt.textTag("FN", vcard4.getChild("fn")?.getChildText("text"));
    vt.add(withParts("N", vcard4.getChild("n"), N_PARTS, "temp"));
    for (const prop of vcard4.childElements()) {
      const simple = SIMPLE[prop.name];
      if (simple !== undefined) {
        const t = prop.getChildText(simple);
        if (t) vt.textTag(prop.name.toUpperCase(), t);
      } else if (prop.name === "email") {
        const t = prop.getChildText("text");
        if (!t) continue;
        vt.add(addTypeTag(prop, new Element("EMAIL").textTag("USERID", t).textTag("INTERNET")));
      } else if (prop.name === "tel") {
        let t = prop.getChildText("uri");
        if (!t) continue;
        if (t.startsWith("tel:")) t = t.slice(4);
        vt.add(addTypeTag(prop, new Element("TEL").textTag("NUMBER", t)));
      } else if (prop.name === "org") {
        const t = prop.getChildText("text");
        if (t) vt.tag("ORG").textTag("ORGNAME", t).up();
      } else if (prop.name === "adr") {
        vt.add(addTypeTag(prop, withParts("ADR", prop, ADR_PARTS, "temp")));
      }
    }
  }
  for (const avatar of avatars) {
    const info = avatar.metadata?.getChild("info");
    const photo = new Element("PHOTO");
    if (info?.attrs.type) photo.textTag("TYPE", info.attrs.type);
    if (avatar.data) photo.textTag("BINVAL", avatar.data.getText());
    else if (info?.attrs.url) photo.textTag("EXTVAL", info.attrs.url);
    else continue;
    vt.add(photo);
  }
  return vt;
}
