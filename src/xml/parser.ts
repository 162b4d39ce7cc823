// Streaming XML parser for XMPP streams, on saxes.
//
// Enforces the restricted XML of RFC 6120 §11.1: no DTD, no processing instructions, no comments,
// no entity references other than the predefined ones. Input must be UTF-8 (§11.6). Limits the size
// of one stanza (counted in bytes) and the depth of its element tree. Chunks may split a stanza, a
// tag, an attribute or a UTF-8 sequence anywhere.
//
// Hostile input must not stall the process: parsing stops at the first error or limit breach (the
// rest of the input is never looked at), and a large chunk is parsed in slices, a few per turn of
// the event loop, so no single read keeps other connections waiting for more than a few
// milliseconds. Input queued behind those slices is reported through `backlog` so the caller can
// stop reading from its peer meanwhile.
//
// Two framings:
//  - "stream": a TCP stream; the root <stream:stream> is reported as `streamStart`, each depth-1
//    element as a stanza, the closing root tag as `streamEnd`.
//  - "framed": RFC 7395 WebSocket framing; every write() is one message holding one complete
//    element. An invisible wrapper root (default namespace jabber:client) is fed once, so <open/>,
//    <close/> and stanzas all arrive as depth-1 elements.

import { createRequire } from "node:module";
import type { SaxesParser, SaxesTagNS } from "saxes";
import { Element } from "./stanza.js";
import { NS_STREAM, NS_CLIENT, NS_SERVER, NS_FRAMING } from "./ns.js";
export { NS_STREAM, NS_CLIENT, NS_SERVER, NS_FRAMING };

// saxes is CommonJS: require() loads it as it is, where an ESM import would first have Node scan its
// 74 KB source for named exports (a scan hot enough to be optimised by TurboFan at every start,
// several MiB of compiler memory an idle server then keeps). It is loaded when the first parser is
// made. A plain require() where there is one: the single-executable bundle (CommonJS) bundles it.
type SaxesModule = typeof import("saxes");
let saxes: SaxesModule | undefined;
const loadSaxes = (): SaxesModule => {
  if (!saxes) {
    saxes = (typeof require === "function" ? require("saxes") : createRequire(import.meta.url)("saxes")) as SaxesModule;
    saxesTextInRoot = (saxes.SaxesParser.prototype as unknown as SaxesInternals).handleTextInRoot;
  }
  return saxes;
};

export type StreamErrorCondition =
  | "not-well-formed"
  | "restricted-xml"
  | "policy-violation"
  | "invalid-namespace"
  | "unsupported-encoding";

export interface XmlStreamHandlers {
  /** The stream's root element opened (stream framing only). `attrs` are the root's attributes;
   * `defaultNs` is its default namespace, `name`/`ns` its qualified name's parts. */
  streamStart?(attrs: Record<string, string>, info: { name: string; ns: string; defaultNs: string }): void;
  stanza(el: Element): void;
  streamEnd?(): void;
  /** Called once; nothing else is reported afterwards. */
  error(condition: StreamErrorCondition, text: string): void;
  /** Input is queued faster than it is parsed (true) / the queue has drained (false). */
  backlog?(busy: boolean): void;
}

export interface XmlStreamOptions {
  framing: "stream" | "framed";
  /** Largest stanza, in bytes of UTF-8 from its '<' to its last '>' (default 256 KiB). */
  maxStanzaSize?: number;
  /** Deepest element nesting inside a stanza (the stanza itself is depth 1; default 64). */
  maxDepth?: number;
  /** Most attributes (namespace declarations included) on one element (default 100). */
  maxAttributes?: number;
  /** Most elements in one stanza, itself included (default 5000): what handles a stanza later
   * (routing, copying, serializing) costs time per element. */
  maxElements?: number;
  /** Parse everything at once in write(), however large: only for trusted input (Herald's own
   * test clients and scripts), never for a peer's stream. */
  sync?: boolean;
}

export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ATTRIBUTES = 100;
export const DEFAULT_MAX_ELEMENTS = 5000;

/** Bytes handed to saxes at once: at most one slice per stream is parsed in a socket's read. */
const SLICE_BYTES = 2048;
/** Input beyond that is parsed by a scheduler shared by every stream: it takes the streams in
 * turn, a slice each, and gives the event loop back once this many milliseconds are spent. */
const TURN_MS = 1;
/** Queued input beyond this is reported as a backlog. */
const BACKLOG_BYTES = 64 * 1024;

/** Thrown from inside saxes' callbacks to abandon the rest of the chunk at once. */
const STOP = Symbol("stop parsing");

/** Entity references are short: `&#x10FFFF;` and `&quot;` are the longest legitimate ones. */
const MAX_ENTITY_CHARS = 12;

// saxes' internal states, by the name of their handler, where the input is already known to be
// refused before saxes would report it (it only reports comments, PIs and DTDs once they end).
const RESTRICTED_STATES = /^s(Doctype|DTD|Comment|PIBody|PIEnding)/;

/** An attribute as saxes reports it while reading a tag; `uri` is set once the tag is complete. */
interface TagAttribute {
  name: string;
  prefix: string;
  local: string;
  value: string;
  uri?: string;
}

/** The parts of saxes' state this parser inspects between slices (not in saxes' typings). */
interface SaxesInternals {
  // The event handlers (what SaxesParser.on() sets): assigned by name here, see the constructor.
  doctypeHandler: () => void;
  piHandler: () => void;
  commentHandler: () => void;
  xmldeclHandler: (decl: { encoding?: string }) => void;
  errorHandler: (err: Error) => void;
  openTagStartHandler: (tag: { name: string }) => void;
  attributeHandler: (attr: TagAttribute) => void;
  openTagHandler: (tag: SaxesTagNS) => void;
  closeTagHandler: () => void;
  textHandler: (text: string) => void;
  cdataHandler: (text: string) => void;
  state: number;
  stateTable: Array<{ name: string }>;
  entity: string;
  text: string;
  position: number;
  chunkPosition: number;
  prevI: number;
  /** Namespace declarations of the tag being opened. */
  topNS: Record<string, string>;
  /** The predefined prefixes (xml, xmlns). */
  ns: Record<string, string>;
  resolve(prefix: string): string | undefined;
  // For the text fast path (fastTextInRoot).
  chunk: string;
  i: number;
  column: number;
  forbiddenState: number;
  getCode: () => number;
  getCode10: () => number;
  handleTextInRoot: () => void;
}

/**
 * A run of character data saxes would only step over one character at a time: XML 1.0 characters
 * (§2.2) other than '<', '&', ']' and '>' (the "]]>" check, also across reads), CR and LF (line ends are normalized), and no
 * surrogates (checked in pairs by saxes).
 */
const PLAIN_TEXT = /[\t\x20-\x25\x27-\x3b\x3d\x3f-\x5c\x5e-\ud7ff\ue000-\ufffd]+/y;
/** saxes' own handleTextInRoot, taken from its prototype when saxes is loaded. */
let saxesTextInRoot: (() => void) | undefined;

/**
 * saxes' text state inside the root, after skipping a run of plain text at once (a notification's
 * kilobyte of text was most of the time spent parsing s2s traffic): the run joins the text saxes
 * has collected, exactly as if it had stepped over it, and saxes goes on from its end.
 */
function fastTextInRoot(this: SaxesInternals): void {
  if (this.getCode === this.getCode10) {
    const start = this.i;
    PLAIN_TEXT.lastIndex = start;
    if (PLAIN_TEXT.test(this.chunk)) {
      const end = PLAIN_TEXT.lastIndex;
      this.text += this.chunk.slice(start, end);
      this.column += end - start;
      this.i = end;
      this.forbiddenState = 0; // saxes' FORBIDDEN_START: no "]" seen just before
    }
  }
  saxesTextInRoot!.call(this);
}

interface Pending {
  buf: Buffer;
  offset: number;
  /** Framed mode: the buffer is one whole message. */
  frame: boolean;
}

const runnable: XmlStream[] = [];
let tickScheduled = false;

function schedule(stream: XmlStream): void {
  runnable.push(stream);
  if (!tickScheduled) {
    tickScheduled = true;
    setImmediate(tick);
  }
}

function tick(): void {
  tickScheduled = false;
  const started = performance.now();
  try {
    // Round robin, one slice per visit; a stream with more work goes to the back of the line.
    while (runnable.length) {
      const stream = runnable.shift()!;
      if (stream.runSlice()) runnable.push(stream);
      if (performance.now() - started > TURN_MS) break;
    }
  } finally {
    // Even if a handler threw, the other streams keep their turns.
    if (runnable.length && !tickScheduled) {
      tickScheduled = true;
      setImmediate(tick);
    }
  }
}

export class XmlStream {
  private parser: SaxesParser<{ xmlns: true; position: true }>;
  private decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private stack: Element[] = [];
  /** The namespace of each element on `stack` (what a child without a namespace of its own differs from). */
  private uris: string[] = [];
  /** The namespace declarations of the open elements that declare any, the stream root first. */
  private declarations: Array<Record<string, string>> = [];
  /** For each open element (the stream root first): did it declare namespaces (is it on `declarations`)? */
  private declares: boolean[] = [];
  /** No more input is parsed (an error, the end of the stream, or stop()). */
  private failed = false;
  /** Nothing more is reported either. */
  private stopped = false;
  /** Where the last stanza in `completed` closed. */
  private closedStanzaAt = -1;
  private error?: { condition: StreamErrorCondition; text: string };
  private inSaxes = false;
  private readonly maxSize: number;
  private readonly maxDepth: number;
  private readonly maxAttributes: number;
  private readonly maxElements: number;
  /** Elements of the current stanza so far. */
  private elements = 0;
  /** Attributes of the tag being read, as they come (saxes processes them all at its '>': counted against maxAttributes meanwhile). */
  private attributes: TagAttribute[] = [];
  private rootDefaultNs = NS_CLIENT;
  private rootSeen = false;
  private completed: Element[] = [];
  private ended = false;

  // Byte accounting. saxes' position is an index into the concatenation of every string written to
  // it; `cuBase`/`byteBase` are that index and the byte count at the start of the string being fed,
  // `markCu`/`markBytes` the last position converted to bytes within it.
  private text = "";
  private cuBase = 0;
  private markCu = 0;
  private markBytes = 0;
  /** The text being fed is ASCII: a position converts to bytes by itself. */
  private ascii = false;
  /** Byte offset (into the whole stream) where the current stanza began or the last one ended. */
  private boundary = 0;
  private bytesFed = 0;

  private queue: Pending[] = [];
  private queued = 0;
  private scheduled = false;
  private busy = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handlers: XmlStreamHandlers,
    private readonly options: XmlStreamOptions,
  ) {
    this.maxSize = options.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttributes = options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    this.maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
    this.parser = new (loadSaxes().SaxesParser)({ xmlns: true, position: true });
    const p = this.parser;
    // saxes resolves a prefix by walking up every open element. Only the elements that declare
    // namespaces are looked at here (in a stanza, a handful at most), and nothing is allocated per
    // element: chaining scopes as prototypes made every declaring element a new prototype, which V8
    // sets up at a cost that dominated parsing s2s notifications (two declarations each).
    const sx = p as unknown as SaxesInternals;
    sx.resolve = (prefix) => sx.topNS[prefix] ?? this.declared(prefix) ?? sx.ns[prefix];
    sx.handleTextInRoot = fastTextInRoot;
    // The handlers are assigned by name, not with p.on(): on() stores them under computed keys,
    // which after a few turns the parser object into a slow dictionary-mode object (about 3 KiB
    // more per connection, and slower property access on every character parsed).
    sx.doctypeHandler = () => this.fail("restricted-xml", "DTDs are not allowed");
    sx.piHandler = () => this.fail("restricted-xml", "Processing instructions are not allowed");
    sx.commentHandler = () => this.fail("restricted-xml", "Comments are not allowed");
    sx.xmldeclHandler = (decl) => {
      // RFC 6120 §11.6: UTF-8 only.
      if (decl.encoding !== undefined && !/^utf-?8$/i.test(decl.encoding)) {
        this.fail("unsupported-encoding", `Encoding ${decl.encoding} is not supported; use UTF-8`);
      }
    };
    sx.errorHandler = (err) => {
      if (this.ended) {
        // Right after the root closed: only a mismatched closing tag is an error; anything after
        // the end of the stream is not looked at.
        if (!/close tag|closing tag/.test(err.message)) throw STOP;
        this.ended = false;
      }
      const msg = String(err.message).replace(/^(?:[^:]*:)?\d+:\d+: /, "");
      // saxes reports a mismatched closing tag as a close of the open element first and the error
      // after it: a stanza "closed" that way does not count.
      if (/close tag|closing tag/.test(msg) && this.closedStanzaAt === this.position()) this.completed.pop();
      // A well-formed reference to an entity XML does not predefine is restricted XML (§11.1);
      // anything else saxes refuses is not well-formed.
      if (msg.startsWith("undefined entity")) this.fail("restricted-xml", "Only the predefined entities are allowed");
      else if (/doctype/i.test(msg)) this.fail("restricted-xml", "DTDs are not allowed");
      else this.fail("not-well-formed", msg);
    };
    sx.openTagStartHandler = (tag) => this.onOpenStart(tag.name);
    sx.attributeHandler = (attr) => {
      // Kept in order for onOpen (walking saxes' own attribute object, a prototype-less dictionary, is slow).
      if (this.attributes.push(attr) > this.maxAttributes) this.fail("policy-violation", `More than ${this.maxAttributes} attributes on an element`);
    };
    sx.openTagHandler = (tag) => this.onOpen(tag);
    sx.closeTagHandler = () => this.onClose();
    sx.textHandler = (t) => this.onText(t);
    sx.cdataHandler = (t) => this.onText(t);
    if (options.framing === "framed") {
      this.feed(`<framing xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}'>`, false);
    }
  }

  get closed(): boolean {
    return this.failed;
  }

  /** Bytes of input handed to saxes so far (the rest is queued, or was never looked at). */
  get consumed(): number {
    return this.bytesFed;
  }

  /** Bytes received but not parsed yet. */
  get pending(): number {
    return this.queued;
  }

  /** Feed bytes or text (framed: one whole message). Parsing starts at once; input beyond one
   * turn's share is parsed on later turns of the event loop. After an error, input is ignored. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    const frame = this.options.framing === "framed";
    if (buf.length === 0 && !frame) return;
    this.queue.push({ buf, offset: 0, frame });
    this.queued += buf.length;
    if (this.options.sync) {
      while (this.step());
      return;
    }
    if (!this.scheduled) {
      // One slice now (a small read is done at once), the rest when the scheduler comes round.
      if (this.step()) {
        this.scheduled = true;
        schedule(this);
      }
    }
    if (!this.failed && !this.busy && this.queued > BACKLOG_BYTES) {
      this.busy = true;
      this.handlers.backlog?.(true);
    }
  }

  /** Resolves when everything written so far has been parsed (or parsing stopped). */
  idle(): Promise<void> {
    if (this.queue.length === 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop parsing; nothing more is reported. */
  stop(): void {
    this.failed = true;
    this.stopped = true;
    this.completed = [];
    this.dropQueue();
  }

  private dropQueue(): void {
    this.queue = [];
    this.queued = 0;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Called by the scheduler: one slice, and whether to come back. */
  runSlice(): boolean {
    const more = this.step();
    if (!more) this.scheduled = false;
    return more;
  }

  /** Parse one slice of the queue and hand out what it produced. Returns whether work remains. */
  private step(): boolean {
    const item = this.queue[0];
    if (item && !this.failed) {
      const end = Math.min(item.buf.length, item.offset + SLICE_BYTES);
      const slice = item.buf.subarray(item.offset, end);
      const last = end === item.buf.length;
      item.offset = end;
      this.queued -= slice.length;
      if (last) this.queue.shift();
      this.parseSlice(slice, last && item.frame);
      this.report();
    }
    if (this.failed) return false;
    if (this.queue.length) return true;
    if (this.busy) {
      this.busy = false;
      this.handlers.backlog?.(false);
    }
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
    return false;
  }

  private parseSlice(slice: Buffer, frameEnd: boolean): void {
    let text: string;
    try {
      text = this.decoder.decode(slice, { stream: !frameEnd });
    } catch {
      this.fail("unsupported-encoding", "The stream is not valid UTF-8");
      return;
    }
    if (text !== "") this.feed(text, true);
    if (this.failed || this.ended) return;
    this.checkPartial();
    if (frameEnd && !this.failed) this.checkFrameComplete();
  }

  /** Hand text to saxes; a failure inside it abandons the rest of the text. */
  private feed(text: string, counts: boolean): void {
    this.text = text;
    this.markCu = this.cuBase;
    this.markBytes = this.bytesFed;
    this.ascii = !/[^\t\n\r\x20-\x7e]/.test(text); // other controls are refused by saxes anyway
    this.inSaxes = true;
    try {
      this.parser.write(text);
    } catch (err) {
      if (err !== STOP) this.fail("not-well-formed", (err as Error).message);
    } finally {
      this.inSaxes = false;
    }
    if (this.failed) return;
    const bytes = this.bytesAt(this.cuBase + text.length);
    this.cuBase += text.length;
    this.bytesFed = counts ? bytes : this.bytesFed;
    if (!counts) this.boundary = this.bytesFed;
    this.text = "";
  }

  /** The stream's byte offset at saxes position `pos` (within the text being fed). */
  private bytesAt(pos: number): number {
    if (this.ascii) return this.markBytes + (pos - this.markCu);
    if (pos > this.markCu) {
      this.markBytes += Buffer.byteLength(this.text.slice(this.markCu - this.cuBase, pos - this.cuBase), "utf8");
      this.markCu = pos;
    } else if (pos < this.markCu) {
      // Only a carried-over CR (one byte) lies before the text's start.
      return this.markBytes - (this.markCu - pos);
    }
    return this.markBytes;
  }

  private position(): number {
    return (this.parser as unknown as SaxesInternals).position;
  }

  /** Between slices: refuse what saxes would only report once it ends, and enforce the size limit
   * on a stanza that has not ended yet. */
  private checkPartial(): void {
    const sx = this.parser as unknown as SaxesInternals;
    const state = sx.stateTable[sx.state]?.name ?? "";
    if (state === "sEntity") {
      // saxes reads an entity reference up to the next ';', however far away it is.
      if (sx.entity.length > MAX_ENTITY_CHARS || /[^\w#.:-]/.test(sx.entity)) {
        this.fail("not-well-formed", "A '&' that does not start an entity reference");
        return;
      }
    } else if (RESTRICTED_STATES.test(state)) {
      this.fail("restricted-xml", /Comment/.test(state) ? "Comments are not allowed" : /PI/.test(state) ? "Processing instructions are not allowed" : "DTDs are not allowed");
      return;
    } else if (state === "sText" && this.stack.length === 0 && /\S/.test(sx.text)) {
      this.fail("not-well-formed", "Text outside of a stanza");
      return;
    }
    if (this.bytesFed - this.boundary > this.maxSize) {
      this.fail("policy-violation", `Stanza larger than ${this.maxSize} bytes`);
    }
  }

  /** RFC 7395 §3.3.3: every WebSocket message is one complete element. */
  private checkFrameComplete(): void {
    const sx = this.parser as unknown as SaxesInternals;
    const state = sx.stateTable[sx.state]?.name ?? "";
    if (this.stack.length !== 0 || state !== "sText" || /\S/.test(sx.text)) {
      this.fail("not-well-formed", "A WebSocket message must hold complete elements");
    }
  }

  /** Hand out what the last slice produced: the stanzas it completed, then an error or the end. */
  private report(): void {
    const done = this.completed;
    this.completed = [];
    for (const el of done) {
      if (this.stopped) return; // a handler stopped us
      this.handlers.stanza(el);
    }
    if (this.stopped) return;
    if (this.error) {
      const { condition, text } = this.error;
      this.error = undefined;
      this.stopped = true;
      this.handlers.error(condition, text);
    } else if (this.ended) {
      this.ended = false;
      this.failed = this.stopped = true;
      this.dropQueue();
      this.handlers.streamEnd?.();
    }
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.failed) {
      if (this.inSaxes) throw STOP;
      return;
    }
    this.failed = true;
    this.stack.length = 0;
    this.ended = false;
    this.error = { condition, text };
    this.dropQueue();
    if (this.busy) this.busy = false;
    if (this.inSaxes) throw STOP;
  }

  private onOpenStart(name: string): void {
    if (this.ended) throw STOP;
    this.attributes.length = 0;
    if (this.stack.length !== 0 || !this.rootSeen) return;
    // A stanza begins at its '<': whitespace before it does not count against its size. saxes
    // reports this after reading the character that ends the name (at prevI).
    const sx = this.parser as unknown as SaxesInternals;
    this.boundary = this.bytesAt(sx.chunkPosition + sx.prevI) - Buffer.byteLength(name, "utf8") - 1;
  }

  /** The namespace a prefix is bound to by the open elements (innermost declaration first). */
  private declared(prefix: string): string | undefined {
    const d = this.declarations;
    for (let i = d.length - 1; i >= 0; i--) {
      const uri = d[i][prefix];
      if (uri !== undefined) return uri;
    }
    return undefined;
  }

  private onOpen(tag: SaxesTagNS): void {
    if (this.ended) throw STOP;
    const uri = tag.uri ?? "";
    let declares = false;
    for (const _ in tag.ns) {
      declares = true;
      break;
    }
    if (declares) this.declarations.push(tag.ns);
    this.declares.push(declares);
    if (!this.rootSeen) {
      // The stream root (or the invisible wrapper of framed mode).
      this.rootSeen = true;
      this.boundary = this.bytesAt(this.position());
      this.rootDefaultNs = tag.ns[""] ?? "";
      if (this.options.framing === "stream") {
        const rootAttrs: Record<string, string> = {};
        for (const name in tag.attributes) {
          const a = tag.attributes[name];
          if (a.prefix !== "xmlns" && a.name !== "xmlns") rootAttrs[a.name] = a.value;
        }
        this.handlers.streamStart?.(rootAttrs, { name: tag.local, ns: uri, defaultNs: this.rootDefaultNs });
        if (this.failed) throw STOP;
      }
      return;
    }
    const depth = this.stack.length;
    if (depth >= this.maxDepth) {
      this.fail("policy-violation", `Elements nested deeper than ${this.maxDepth}`);
      return;
    }
    if (depth === 0) this.elements = 0;
    if (++this.elements > this.maxElements) {
      this.fail("policy-violation", `More than ${this.maxElements} elements in a stanza`);
      return;
    }
    const parentNs = depth === 0 ? this.rootDefaultNs : this.uris[depth - 1];
    const attrs: Record<string, string> = {};
    if (uri !== parentNs) attrs.xmlns = uri;
    for (const a of this.attributes) {
      if (a.prefix === "xmlns" || a.name === "xmlns") continue;
      // Keep the declaration of a foreign attribute prefix so the element serializes correctly.
      if (a.prefix && a.prefix !== "xml") attrs[`xmlns:${a.prefix}`] = a.uri!;
      attrs[a.name] = a.value;
    }
    const el = new Element(tag.local, attrs);
    if (depth > 0) this.stack[depth - 1].children.push(el);
    this.stack.push(el);
    this.uris.push(uri);
  }

  private onClose(): void {
    if (this.ended) throw STOP;
    if (this.declares.pop()) this.declarations.pop();
    if (this.stack.length === 0) {
      // The root closed.
      if (this.options.framing === "stream") this.ended = true;
      else this.fail("not-well-formed", "Unexpected closing tag");
      return;
    }
    const el = this.stack.pop()!;
    this.uris.pop();
    if (this.stack.length === 0) {
      const end = this.bytesAt(this.position());
      if (end - this.boundary > this.maxSize) {
        this.fail("policy-violation", `Stanza larger than ${this.maxSize} bytes`);
        return;
      }
      this.boundary = end;
      this.completed.push(el);
      this.closedStanzaAt = this.position();
    }
  }

  private onText(text: string): void {
    if (this.ended) throw STOP;
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
