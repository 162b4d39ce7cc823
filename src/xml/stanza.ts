// The one XML element type of Herald, with a Prosody-style builder.
//
// Namespaces: an element's namespace is its `xmlns` attribute; a child without one inherits its
// parent's. Top-level stanzas on a client stream carry no xmlns (jabber:client is implied).

import { escapeAttr, escapeText } from "./escape.js";
import { NS_STANZAS } from "./ns.js";
export { NS_STANZAS };

export type Attrs = Record<string, string>;
export type Node = Element | string;

export class Element {
  name: string;
  attrs: Attrs;
  children: Node[];
  /** Builder cursor: the element new tags/text go into. Not part of the tree. */
  private cursor: Element[] = [];

  constructor(name: string, attrs: Attrs = {}, children: Node[] = []) {
    this.name = name;
    this.attrs = attrs;
    this.children = children;
  }

  // ---- builder: every call returns the root, the cursor moves ----

  private get current(): Element {
    return this.cursor.length ? this.cursor[this.cursor.length - 1] : this;
  }

  /** Add a child element at the cursor and move the cursor into it. */
  tag(name: string, attrs: Attrs = {}): this {
    const child = new Element(name, dropUndefined(attrs));
    this.current.children.push(child);
    this.cursor.push(child);
    return this;
  }

  /** Add a child element at the cursor without moving into it (with optional text). */
  textTag(name: string, text?: string, attrs: Attrs = {}): this {
    const child = new Element(name, dropUndefined(attrs));
    if (text !== undefined && text !== "") child.children.push(text);
    this.current.children.push(child);
    return this;
  }

  /** Add text at the cursor. */
  text(text: string): this {
    if (text !== "") this.current.children.push(text);
    return this;
  }

  /** Add an existing element at the cursor (not moving into it). */
  add(child: Element | undefined): this {
    if (child) this.current.children.push(child);
    return this;
  }

  up(): this {
    this.cursor.pop();
    return this;
  }

  reset(): this {
    this.cursor.length = 0;
    return this;
  }

  // ---- queries ----

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  get xmlns(): string | undefined {
    return this.attrs.xmlns;
  }

  /** Child elements, optionally filtered by name and by (effective) namespace. */
  childElements(name?: string, xmlns?: string): Element[] {
    const out: Element[] = [];
    for (const c of this.children) {
      if (typeof c === "string") continue;
      if (name !== undefined && c.name !== name) continue;
      if (xmlns !== undefined && (c.attrs.xmlns ?? this.attrs.xmlns) !== xmlns) continue;
      out.push(c);
    }
    return out;
  }

  getChild(name: string, xmlns?: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c === "string" || c.name !== name) continue;
      const ns = c.attrs.xmlns;
      if (xmlns === undefined ? ns === undefined || ns === this.attrs.xmlns : (ns ?? this.attrs.xmlns) === xmlns) return c;
    }
    return undefined;
  }

  /** First child element in the given namespace, whatever its name. */
  getChildByNs(xmlns: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c !== "string" && (c.attrs.xmlns ?? this.attrs.xmlns) === xmlns) return c;
    }
    return undefined;
  }

  getChildText(name: string, xmlns?: string): string | undefined {
    return this.getChild(name, xmlns)?.getText();
  }

  /** First child element (the payload of an iq). */
  firstElement(): Element | undefined {
    for (const c of this.children) if (typeof c !== "string") return c;
    return undefined;
  }

  getText(): string {
    let s = "";
    for (const c of this.children) if (typeof c === "string") s += c;
    return s;
  }

  /** Deep copy (builder cursor not copied). */
  clone(): Element {
    return new Element(
      this.name,
      { ...this.attrs },
      this.children.map((c) => (typeof c === "string" ? c : c.clone())),
    );
  }

  /** Shallow copy: new attrs object, same children array contents (safe when only attrs change). */
  shallowClone(): Element {
    return new Element(this.name, { ...this.attrs }, this.children.slice());
  }

  toString(): string {
    return serialize(this);
  }
}

function dropUndefined(attrs: Record<string, string | undefined>): Attrs {
  const out: Attrs = {};
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Serialize an element (and subtree). Namespaces are carried by `xmlns` attributes. */
export function serialize(el: Element): string {
  const parts: string[] = [];
  write(el, parts);
  return parts.join("");
}

/** Serialized text of elements that will be written many times unchanged (pubsub fan-out). */
const frozen = new WeakMap<Element, string>();

/**
 * Serialize `el` once and reuse the text whenever it is written as part of a stanza. Only for
 * elements nobody changes afterwards (a notification payload shared by every recipient).
 */
export function freezeSerialization(el: Element): void {
  frozen.delete(el);
  frozen.set(el, serialize(el));
}

function write(el: Element, out: string[]): void {
  const cached = frozen.get(el);
  if (cached !== undefined) {
    out.push(cached);
    return;
  }
  out.push("<", el.name);
  const attrs = el.attrs;
  for (const k in attrs) out.push(" ", k, "='", escapeAttr(attrs[k]), "'");
  if (el.children.length === 0) {
    out.push("/>");
    return;
  }
  out.push(">");
  for (const c of el.children) {
    if (typeof c === "string") out.push(escapeText(c));
    else write(c, out);
  }
  out.push("</", el.name, ">");
}

// ---- constructors ----

type Opt = Record<string, string | undefined>;

export function el(name: string, attrs: Opt = {}): Element {
  return new Element(name, dropUndefined(attrs));
}
export function iq(attrs: Opt): Element {
  return el("iq", attrs);
}
export function message(attrs: Opt = {}): Element {
  return el("message", attrs);
}
export function presence(attrs: Opt = {}): Element {
  return el("presence", attrs);
}

/** A result to an iq (or a reply to any stanza): swaps to/from, keeps id. */
export function reply(stanza: Element): Element {
  const attrs: Attrs = {};
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.name === "iq") attrs.type = "result";
  else if (stanza.attrs.type !== undefined) attrs.type = stanza.attrs.type;
  return new Element(stanza.name, attrs);
}

export type ErrorType = "cancel" | "continue" | "modify" | "auth" | "wait";

/**
 * XEP-0086: the legacy numeric code of each defined condition, for clients that still look at
 * `<error code='…'/>` rather than the condition element. policy-violation (RFC 6120) has none in
 * XEP-0086; it gets forbidden's 403, as other servers give it.
 */
export const LEGACY_ERROR_CODES: Readonly<Record<string, string>> = {
  "bad-request": "400",
  conflict: "409",
  "feature-not-implemented": "501",
  forbidden: "403",
  gone: "302",
  "internal-server-error": "500",
  "item-not-found": "404",
  "jid-malformed": "400",
  "not-acceptable": "406",
  "not-allowed": "405",
  "not-authorized": "401",
  "payment-required": "402",
  "policy-violation": "403",
  "recipient-unavailable": "404",
  redirect: "302",
  "registration-required": "407",
  "remote-server-not-found": "404",
  "remote-server-timeout": "504",
  "resource-constraint": "500",
  "service-unavailable": "503",
  "subscription-required": "407",
  "undefined-condition": "500",
  "unexpected-request": "400",
};

/** RFC 6120 §8.3: an error reply; the original payload is not echoed. Carries XEP-0086's code. */
export function errorReply(
  stanza: Element,
  type: ErrorType,
  condition: string,
  text?: string,
  appError?: Element,
  by?: string,
): Element {
  return errorStanza(stanza, type, condition, { text, appError, by });
}

/** What an error carries besides its type and condition (see StanzaError). */
export interface ErrorDetails {
  /** Human-readable text (RFC 6120 §8.3.2 <text/>). */
  text?: string;
  /**
   * The condition element's character data: the address where the entity is now, for `gone` and
   * `redirect` (RFC 6120 §8.3.3.5, §8.3.3.14), an XMPP URI such as `xmpp:room@service?join`.
   */
  uri?: string;
  /** An application-specific condition element (RFC 6120 §8.3.2), after the text. */
  appError?: Element;
  /** The entity that returns the error (RFC 6120 §8.3.2 `by`). */
  by?: string;
  /**
   * Elements the error stanza carries before its <error/>, where a protocol asks for them: XEP-0045
   * §7.2 has a room's presence errors carry `<x xmlns='http://jabber.org/protocol/muc'/>`.
   */
  payload?: Element[];
}

function errorStanza(stanza: Element, type: ErrorType, condition: string, details: ErrorDetails): Element {
  const r = reply(stanza);
  r.attrs.type = "error";
  const err = new Element("error", { type });
  const code = LEGACY_ERROR_CODES[condition];
  if (code !== undefined) err.attrs.code = code;
  if (details.by) err.attrs.by = details.by;
  err.children.push(new Element(condition, { xmlns: NS_STANZAS }, details.uri ? [details.uri] : []));
  if (details.text) err.children.push(new Element("text", { xmlns: NS_STANZAS }, [details.text]));
  if (details.appError) err.children.push(details.appError);
  if (details.payload) for (const p of details.payload) r.children.push(p.clone());
  r.children.push(err);
  return r;
}

/** Read the condition (and text) of an error stanza. */
export function getError(stanza: Element): { type: string; condition: string; text?: string } | undefined {
  const e = stanza.getChild("error");
  if (!e) return undefined;
  let condition = "undefined-condition";
  let text: string | undefined;
  for (const c of e.childElements()) {
    if (c.attrs.xmlns !== NS_STANZAS) continue;
    if (c.name === "text") text = c.getText();
    else condition = c.name;
  }
  return { type: e.attrs.type ?? "cancel", condition, text };
}

/**
 * A stanza error as a value: what an iq handler returns (or throws) to answer with an error, and
 * what a message or presence handler returns or throws to have the router answer the stanza with
 * it, e.g. `return new StanzaError("cancel", "item-not-found")` or
 * `throw new StanzaError("cancel", "gone", { text: "Destroyed", uri: "xmpp:new@muc.example?join" })`.
 */
export class StanzaError extends Error {
  readonly text?: string;
  readonly appError?: Element;
  readonly uri?: string;
  readonly by?: string;
  readonly payload?: readonly Element[];

  constructor(type: ErrorType, condition: string, text?: string, appError?: Element);
  constructor(type: ErrorType, condition: string, details: ErrorDetails);
  constructor(
    readonly type: ErrorType,
    readonly condition: string,
    textOrDetails?: string | ErrorDetails,
    appError?: Element,
  ) {
    const d: ErrorDetails = typeof textOrDetails === "object" ? textOrDetails : { text: textOrDetails, appError };
    super(d.text ? `${condition}: ${d.text}` : condition);
    this.name = "StanzaError";
    if (d.text !== undefined) this.text = d.text;
    if (d.appError !== undefined) this.appError = d.appError;
    if (d.uri !== undefined) this.uri = d.uri;
    if (d.by !== undefined) this.by = d.by;
    if (d.payload !== undefined) this.payload = d.payload;
  }

  /** The error reply to `stanza` (`by`: the entity returning it, unless the error names one). */
  replyTo(stanza: Element, by?: string): Element {
    return errorStanza(stanza, this.type, this.condition, {
      text: this.text,
      uri: this.uri,
      appError: this.appError,
      by: this.by ?? by,
      payload: this.payload === undefined ? undefined : [...this.payload],
    });
  }
}
