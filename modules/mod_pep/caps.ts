// Entity Capabilities (XEP-0115) as PEP needs them: what a presence claims (<c/>), the disco#info
// node to ask about it, the verification string and hash of a disco#info answer (§5.1, §5.4), and
// the "+notify" namespaces it advertises (XEP-0163 §4.3.2 filtered notifications).

import { createHash } from "node:crypto";
import { Element } from "../../src/xml/stanza.js";

export const NS_CAPS = "http://jabber.org/protocol/caps";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DATA = "jabber:x:data";

/** XEP-0115 §5.1 hash function names (IANA "Hash Function Textual Names") Herald can verify. */
const ALGORITHMS: Record<string, string> = {
  "sha-1": "sha1",
  "sha-224": "sha224",
  "sha-256": "sha256",
  "sha-384": "sha384",
  "sha-512": "sha512",
};

export interface CapsClaim {
  /** The cache key of what the entity claims: "<hash>:<ver>", or "legacy:<node>#<ver>#<ext>". */
  key: string;
  /** The disco#info node to query: "<node>#<ver>" (XEP-0115 §6.2). */
  queryNode: string;
  /** The hash function (undefined for legacy caps, which cannot be verified). */
  algorithm?: string;
  ver: string;
}

/**
 * The caps a presence claims, or undefined when it carries none, or none usable (an unknown hash
 * function, a missing node or ver): then the entity is treated as wanting no notifications, as
 * Prosody's mod_pep does.
 */
export function capsOf(presence: Element): CapsClaim | undefined {
  const c = presence.getChild("c", NS_CAPS);
  if (!c) return undefined;
  const { hash, node, ver } = c.attrs;
  if (!node || !ver) return undefined;
  if (hash === undefined) {
    // XEP-0115 §8.1 (legacy format, no hash): ext names extra bundles; nothing to verify.
    return { key: `legacy:${node}#${ver}#${c.attrs.ext ?? ""}`, queryNode: `${node}#${ver}`, ver };
  }
  const algorithm = hash.toLowerCase();
  if (!(algorithm in ALGORITHMS)) return undefined;
  return { key: capsKey(algorithm, ver), queryNode: `${node}#${ver}`, algorithm, ver };
}

export function capsKey(algorithm: string, ver: string): string {
  return `${algorithm}:${ver}`;
}

function octetSort(values: string[]): string[] {
  // XEP-0115 §5.1: "i;octet" collation, i.e. by the UTF-8 bytes.
  return values.sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
}

/** XEP-0115 §5.1: the verification string S of a disco#info <query/>. */
export function verificationString(query: Element): string {
  const identities: string[] = [];
  const features: string[] = [];
  const forms: Array<{ type: string; text: string }> = [];
  for (const child of query.childElements()) {
    const ns = child.attrs.xmlns ?? query.attrs.xmlns;
    if (child.name === "identity" && ns === NS_DISCO_INFO) {
      const a = child.attrs;
      identities.push(`${a.category ?? ""}/${a.type ?? ""}/${a["xml:lang"] ?? ""}/${a.name ?? ""}`);
    } else if (child.name === "feature" && ns === NS_DISCO_INFO) {
      features.push(child.attrs.var ?? "");
    } else if (child.name === "x" && ns === NS_DATA) {
      let formType: string | undefined;
      const fields: string[] = [];
      for (const field of child.childElements("field")) {
        const name = field.attrs.var;
        if (name === undefined) continue;
        const values = octetSort(field.childElements("value").map((v) => v.getText()));
        if (name === "FORM_TYPE") formType = values[0];
        else fields.push([name, ...values].map((s) => `${s}<`).join(""));
      }
      // §5.4 step 3.6: a form without FORM_TYPE is ignored.
      if (formType === undefined) continue;
      forms.push({ type: formType, text: `${formType}<${octetSort(fields).join("")}` });
    }
  }
  let s = "";
  for (const id of octetSort(identities)) s += `${id}<`;
  for (const f of octetSort(features)) s += `${f}<`;
  const sortedForms = forms.sort((x, y) => Buffer.compare(Buffer.from(x.type, "utf8"), Buffer.from(y.type, "utf8")));
  for (const form of sortedForms) s += form.text;
  return s;
}

/** XEP-0115 §5.1: ver = base64(hash(S)). `algorithm` is an IANA name ("sha-1"). */
export function capsHash(query: Element, algorithm = "sha-1"): string {
  const name = ALGORITHMS[algorithm.toLowerCase()];
  if (!name) throw new Error(`unsupported caps hash ${algorithm}`);
  return createHash(name).update(verificationString(query), "utf8").digest("base64");
}

/** XEP-0163 §4.3.2: the namespaces followed by "+notify" in a disco#info answer. */
export function notifyNodes(query: Element): Set<string> {
  const out = new Set<string>();
  for (const f of query.childElements("feature")) {
    const v = f.attrs.var;
    if (v !== undefined && v.endsWith("+notify") && v.length > "+notify".length) out.add(v.slice(0, -"+notify".length));
  }
  return out;
}

/** The disco#info query PEP sends about a claim (Prosody's fixed id 'disco', which scripts expect). */
export function capsQuery(from: string, to: string, queryNode: string): Element {
  return new Element("iq", { type: "get", id: "disco", from, to }, [new Element("query", { xmlns: NS_DISCO_INFO, node: queryNode })]);
}
