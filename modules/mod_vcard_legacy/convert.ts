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

function text(el: Element | undefined, name: string): string | undefined {
  return el?.getChild(name)?.getText();
}

/** vCard4 <parameters><type><text>home|work</text></type></parameters> from vcard-temp's HOME/WORK. */
function typeParameter(tag: Element): Element {
  const type = new Element("type");
  if (tag.getChild("HOME")) type.textTag("text", "home");
  else if (tag.getChild("WORK")) type.textTag("text", "work");
  return new Element("parameters", {}, [type]);
}

/** The home/work type of a vCard4 property. */
function typeOf(prop: Element): string | undefined {
  return prop.getChild("parameters")?.getChild("type")?.getChildText("text");
}

/** XEP-0054 -> the vCard4 payload and the avatars of its PHOTOs (BINVAL only: EXTVAL has no hash). */
export function vcardTempToPep(vcardTemp: Element): { vcard4: Element; avatars: Avatar[] } {
  const v4 = new Element("vcard", { xmlns: NS_VCARD4 });
  v4.tag("fn").textTag("text", text(vcardTemp, "FN")).up();
  const n = vcardTemp.getChild("N");
  v4.tag("n")
    .textTag("surname", text(n, "FAMILY"))
    .textTag("given", text(n, "GIVEN"))
    .textTag("additional", text(n, "MIDDLE"))
    .textTag("prefix", text(n, "PREFIX"))
    .textTag("suffix", text(n, "SUFFIX"))
    .up();
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
      const adr = new Element("adr")
        .textTag("pobox", text(tag, "POBOX"))
        .textTag("ext", text(tag, "EXTADD"))
        .textTag("street", text(tag, "STREET"))
        .textTag("locality", text(tag, "LOCALITY"))
        .textTag("region", text(tag, "REGION"))
        .textTag("code", text(tag, "PCODE"))
        .textTag("country", text(tag, "CTRY"));
      adr.add(typeParameter(tag));
      v4.add(adr);
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
    const n = vcard4.getChild("n");
    vt.tag("N")
      .textTag("FAMILY", text(n, "surname"))
      .textTag("GIVEN", text(n, "given"))
      .textTag("MIDDLE", text(n, "additional"))
      .textTag("PREFIX", text(n, "prefix"))
      .textTag("SUFFIX", text(n, "suffix"))
      .up();
    for (const prop of vcard4.childElements()) {
      const simple = SIMPLE[prop.name];
      if (simple !== undefined) {
        const t = prop.getChildText(simple);
        if (t) vt.textTag(prop.name.toUpperCase(), t);
      } else if (prop.name === "email") {
        const t = prop.getChildText("text");
        if (!t) continue;
        const email = new Element("EMAIL").textTag("USERID", t).textTag("INTERNET");
        const type = typeOf(prop);
        if (type === "home" || type === "work") email.textTag(type.toUpperCase());
        vt.add(email);
      } else if (prop.name === "tel") {
        let t = prop.getChildText("uri");
        if (!t) continue;
        if (t.startsWith("tel:")) t = t.slice(4);
        const tel = new Element("TEL").textTag("NUMBER", t);
        const type = typeOf(prop);
        if (type === "home" || type === "work") tel.textTag(type.toUpperCase());
        vt.add(tel);
      } else if (prop.name === "org") {
        const t = prop.getChildText("text");
        if (t) vt.tag("ORG").textTag("ORGNAME", t).up();
      } else if (prop.name === "adr") {
        const adr = new Element("ADR")
          .textTag("POBOX", text(prop, "pobox"))
          .textTag("EXTADD", text(prop, "ext"))
          .textTag("STREET", text(prop, "street"))
          .textTag("LOCALITY", text(prop, "locality"))
          .textTag("REGION", text(prop, "region"))
          .textTag("PCODE", text(prop, "code"))
          .textTag("CTRY", text(prop, "country"));
        const type = typeOf(prop);
        if (type === "home" || type === "work") adr.textTag(type.toUpperCase());
        vt.add(adr);
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
