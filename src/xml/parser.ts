// Streaming XML parser for XMPP streams, on saxes.
//
// Enforces the restricted XML of RFC 6120 §11.1: no DTD, no processing instructions, no comments,
// no entity references other than the predefined ones. Limits the size of one stanza and the depth
// of its element tree. Chunks may split a stanza, a tag, an attribute or a UTF-8 sequence anywhere.
//
// Two framings:
//  - "stream": a TCP stream; the root <stream:stream> is reported as `streamStart`, each depth-1
//    element as a stanza, the closing root tag as `streamEnd`.
//  - "framed": RFC 7395 WebSocket framing; every message is one complete element. An invisible
//    wrapper root (default namespace jabber:client) is fed once, so <open/>, <close/> and stanzas
//    all arrive as depth-1 elements.

import { StringDecoder } from "node:string_decoder";
import { SaxesParser, type SaxesTagNS } from "saxes";
import { Element } from "./stanza.js";

export const NS_STREAM = "http://etherx.jabber.org/streams";
export const NS_CLIENT = "jabber:client";
export const NS_SERVER = "jabber:server";
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

export type StreamErrorCondition = "not-well-formed" | "restricted-xml" | "policy-violation" | "invalid-namespace";

export interface XmlStreamHandlers {
  /** The stream's root element opened (stream framing only). `attrs` are the root's attributes;
   * `defaultNs` is its default namespace, `name`/`ns` its qualified name's parts. */
  streamStart?(attrs: Record<string, string>, info: { name: string; ns: string; defaultNs: string }): void;
  stanza(el: Element): void;
  streamEnd?(): void;
  error(condition: StreamErrorCondition, text: string): void;
}

export interface XmlStreamOptions {
  framing: "stream" | "framed";
  /** Largest stanza, in characters (default 256 KiB). */
  maxStanzaSize?: number;
  /** Deepest element nesting inside a stanza (the stanza itself is depth 1). */
  maxDepth?: number;
}

export class XmlStream {
  private parser: SaxesParser<{ xmlns: true; position: true }>;
  private decoder = new StringDecoder("utf8");
  private stack: Element[] = [];
  private failed = false;
  /** Where the last stanza (or the stream header) ended: everything since counts against the limit. */
  private boundary = 0;
  private readonly maxSize: number;
  private readonly maxDepth: number;
  private rootDefaultNs = NS_CLIENT;
  private rootSeen = false;
  private completed: Element[] = [];
  private ended = false;

  constructor(
    private readonly handlers: XmlStreamHandlers,
    private readonly options: XmlStreamOptions,
  ) {
    this.maxSize = options.maxStanzaSize ?? 256 * 1024;
    this.maxDepth = options.maxDepth ?? 64;
    this.parser = new SaxesParser({ xmlns: true, position: true });
    const p = this.parser;
    p.on("doctype", () => this.fail("restricted-xml", "DTDs are not allowed"));
    p.on("processinginstruction", () => this.fail("restricted-xml", "Processing instructions are not allowed"));
    p.on("comment", () => this.fail("restricted-xml", "Comments are not allowed"));
    p.on("error", (err) => {
      const msg = String(err.message);
      if (/entity|doctype/i.test(msg)) this.fail("restricted-xml", "Only the predefined entities are allowed");
      else this.fail("not-well-formed", msg.replace(/^[^:]*:\d+:\d+: /, ""));
    });
    p.on("opentag", (tag) => this.onOpen(tag));
    p.on("closetag", () => this.onClose());
    p.on("text", (t) => this.onText(t));
    p.on("cdata", (t) => this.onText(t));
    if (options.framing === "framed") {
      this.parser.write(`<framing xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}'>`);
    }
  }

  get closed(): boolean {
    return this.failed;
  }

  /** Feed bytes or text. After an error, further input is ignored. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    const text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    if (text === "") return;
    try {
      this.parser.write(text);
    } catch (err) {
      this.fail("not-well-formed", (err as Error).message);
    }
    this.checkSize();
    // Stanzas are handed out after the whole chunk parsed: saxes reports a mismatched closing tag
    // as a close of the open element first and the error after it, and such a stanza must not count.
    const done = this.completed;
    this.completed = [];
    for (const el of done) this.handlers.stanza(el);
    if (this.ended) {
      this.ended = false;
      this.handlers.streamEnd?.();
    }
  }

  /** Stop parsing; nothing more is reported. */
  stop(): void {
    this.failed = true;
  }

  private checkSize(): void {
    // Measured from the last boundary, not from the stanza's first tag: a huge start tag, a huge
    // stream header or endless text between stanzas is buffered by saxes just the same.
    if (!this.failed && this.parser.position - this.boundary > this.maxSize) {
      this.fail("policy-violation", `Stanza larger than ${this.maxSize} bytes`);
    }
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stack.length = 0;
    this.completed = [];
    this.handlers.error(condition, text);
  }

  private onOpen(tag: SaxesTagNS): void {
    if (this.failed) return;
    const uri = tag.uri ?? "";
    if (!this.rootSeen) {
      // The stream root (or the invisible wrapper of framed mode).
      this.rootSeen = true;
      this.boundary = this.parser.position;
      this.rootDefaultNs = tag.ns[""] ?? "";
      if (this.options.framing === "stream") {
        const rootAttrs: Record<string, string> = {};
        for (const name in tag.attributes) {
          const a = tag.attributes[name];
          if (a.prefix !== "xmlns" && a.name !== "xmlns") rootAttrs[a.name] = a.value;
        }
        this.handlers.streamStart?.(rootAttrs, { name: tag.local, ns: uri, defaultNs: this.rootDefaultNs });
      }
      return;
    }
    const depth = this.stack.length;
    if (depth >= this.maxDepth) {
      this.fail("policy-violation", `Elements nested deeper than ${this.maxDepth}`);
      return;
    }
    const parentNs = depth === 0 ? this.rootDefaultNs : this.effectiveNs();
    const attrs: Record<string, string> = {};
    if (uri !== parentNs) attrs.xmlns = uri;
    for (const name in tag.attributes) {
      const a = tag.attributes[name];
      if (a.prefix === "xmlns" || a.name === "xmlns") continue;
      // Keep the declaration of a foreign attribute prefix so the element serializes correctly.
      if (a.prefix && a.prefix !== "xml") attrs[`xmlns:${a.prefix}`] = a.uri;
      attrs[a.name] = a.value;
    }
    const el = new Element(tag.local, attrs);
    if (depth > 0) this.stack[depth - 1].children.push(el);
    this.stack.push(el);
  }

  private effectiveNs(): string {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const ns = this.stack[i].attrs.xmlns;
      if (ns !== undefined) return ns;
    }
    return this.rootDefaultNs;
  }

  private onClose(): void {
    if (this.failed) return;

    if (this.stack.length === 0) {
      // The root closed.
      if (this.options.framing === "stream") {
        this.failed = true;
        this.ended = true;
      } else {
        this.fail("not-well-formed", "Unexpected closing tag");
      }
      return;
    }
    const el = this.stack.pop()!;
    if (this.stack.length === 0) {
      this.boundary = this.parser.position;
      this.completed.push(el);
    }
  }

  private onText(text: string): void {
    if (this.failed) return;
    if (this.stack.length === 0) {
      // Text between stanzas: only whitespace (keepalives) is allowed.
      if (!/^\s*$/.test(text)) this.fail("not-well-formed", "Text outside of a stanza");
      return;
    }
    const top = this.stack[this.stack.length - 1];
    const last = top.children[top.children.length - 1];
    if (typeof last === "string") top.children[top.children.length - 1] = last + text;
    else top.children.push(text);
  }
}
