// Parser for scansion scripts (.scs), the end-to-end test language Prosody uses on itself.
// The language is described in ../shared/scansion/FORMAT.md; this file follows its §1 and §2.
//
//   # Title                      first '#' line of the header; following '#' lines: description
//   ## tag                       tags
//   [Client] Juliet's phone      a character; its properties are indented "key: value" lines
//   	jid: juliet@localhost
//   -----                        separator (a line of three or more dashes)
//   Romeo connects               actions: connects, disconnects, sends:, receives:, receives: nothing
//   Romeo sends:                 an XML block: the indented lines that follow (blank lines included)
//   	<presence/>
//
// Comments: lines starting with '#', '//' or '--'. The colon after sends/receives is optional.
// XML blocks are checked here (well-formed, one element, known ${Name's JID} references), so a
// broken script fails with `file:line: message` before anything connects.

import { readFile } from "node:fs/promises";
import { XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";

export const NS_SCANSION = "https://matthewwild.co.uk/projects/scansion";

export class ScriptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = "ScriptError";
  }
}

export interface ClientDecl {
  /** The declared name, e.g. "Juliet's phone". */
  name: string;
  /** The declared JID as written (bare, or full when it requests a resource). */
  jid: string;
  /** The bare JID (what `${Name's JID}` stands for). */
  bareJid: string;
  password: string;
  /** The resource to request at bind: the `resource` property or the JID's resource. */
  resource?: string;
  connectHost?: string;
  connectPort?: number;
  /** Line of the `[Client]` declaration. */
  line: number;
}

export type Step =
  | { action: "connects"; client: string; line: number }
  | { action: "disconnects"; client: string; line: number }
  | { action: "sends"; client: string; line: number; xml: string; xmlLine: number }
  | { action: "receives"; client: string; line: number; xml: string; xmlLine: number }
  | { action: "receives-nothing"; client: string; line: number };

export interface Script {
  /** The file the script came from (as given to the parser). */
  path: string;
  title: string;
  description: string;
  tags: string[];
  clients: Map<string, ClientDecl>;
  steps: Step[];
  /** Oddities that are accepted but worth knowing about (file:line: text). */
  warnings: string[];
}

const CLIENT_PROPS = new Set(["jid", "password", "resource", "connect_host", "connect_port"]);

const isBlank = (s: string): boolean => /^\s*$/.test(s);
const isIndented = (s: string): boolean => /^[ \t]/.test(s) && !isBlank(s);
const isComment = (s: string): boolean => s.startsWith("#") || s.startsWith("//") || (s.startsWith("--") && !isSeparator(s));
const isSeparator = (s: string): boolean => /^-{3,}\s*$/.test(s);

/** Parse the text of a .scs file. Throws ScriptError. */
export function parseScript(text: string, path = "<script>"): Script {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const script: Script = { path, title: "", description: "", tags: [], clients: new Map(), steps: [], warnings: [] };
  const err = (line: number, msg: string): ScriptError => new ScriptError(path, line, msg);
  const description: string[] = [];
  let inHeader = true; // still in the leading comment block (title, description, tags)
  let current: ClientDecl | undefined; // the [Client] whose properties are being read
  let sawAction = false;
  const online = new Set<string>(); // clients connected at this point of the script

  let i = 0;
  while (i < lines.length) {
    const raw = lines[i];
    const lineNo = i + 1;
    const line = raw.replace(/\s+$/, "");

    if (isBlank(line)) {
      i++;
      continue;
    }

    if (line.startsWith("#") && inHeader) {
      const m = /^##\s*(.*)$/.exec(line);
      if (m) {
        if (m[1]) script.tags.push(m[1]);
      } else {
        const t = line.replace(/^#\s?/, "");
        if (!script.title) script.title = t;
        else description.push(t);
      }
      i++;
      continue;
    }
    inHeader = false;

    if (isComment(line) || isSeparator(line)) {
      i++;
      continue;
    }

    if (isIndented(line)) {
      if (!current) throw err(lineNo, "indented line outside a [Client] declaration or XML block");
      const m = /^\s+([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
      if (!m) throw err(lineNo, `expected "key: value" in the declaration of ${current.name}`);
      setClientProp(current, m[1], m[2].trim(), lineNo, err);
      i++;
      continue;
    }

    const cls = /^\[([^\]]*)\]\s*(.*)$/.exec(line);
    if (cls) {
      finishClient(current, err);
      current = undefined;
      if (cls[1] !== "Client") throw err(lineNo, `unsupported character class [${cls[1]}] (only [Client] is supported)`);
      const name = cls[2].trim();
      if (!name) throw err(lineNo, "[Client] without a name");
      if (sawAction) throw err(lineNo, `[Client] ${name} declared after the first action`);
      if (script.clients.has(name)) throw err(lineNo, `client ${name} declared twice`);
      current = { name, jid: "", bareJid: "", password: "", line: lineNo };
      script.clients.set(name, current);
      i++;
      continue;
    }

    // An action.
    finishClient(current, err);
    current = undefined;
    sawAction = true;
    const act = parseActionLine(line, script.clients);
    if ("error" in act) throw err(lineNo, act.error);
    const { client, verb, rest } = act;
    if (verb === "connects" || verb === "disconnects") {
      if (rest) throw err(lineNo, `unexpected text after "${verb}": ${JSON.stringify(rest)}`);
      if (verb === "disconnects" && !online.has(client)) {
        script.warnings.push(`${path}:${lineNo}: ${client} disconnects but is not connected (ignored)`);
      }
      if (verb === "connects") online.add(client);
      else online.delete(client);
      script.steps.push({ action: verb, client, line: lineNo });
      i++;
      continue;
    }
    if (verb === "receives" && rest === "nothing") {
      script.steps.push({ action: "receives-nothing", client, line: lineNo });
      i++;
      continue;
    }
    if (rest && !rest.startsWith("<")) throw err(lineNo, `unexpected text after "${verb}": ${JSON.stringify(rest)}`);

    // The XML block: an inline start, then the indented (or blank) lines that follow.
    const block: string[] = [];
    let xmlLine = lineNo + 1;
    if (rest) {
      block.push(rest);
      xmlLine = lineNo;
    }
    let j = i + 1;
    while (j < lines.length && (isBlank(lines[j]) || isIndented(lines[j]))) {
      block.push(lines[j]);
      j++;
    }
    while (block.length && isBlank(block[block.length - 1])) block.pop();
    if (!rest) {
      while (block.length && isBlank(block[0])) {
        block.shift();
        xmlLine++;
      }
    }
    if (block.length === 0) throw err(lineNo, `"${client} ${verb}:" is not followed by an indented XML block`);
    const xml = dedent(block).join("\n");
    const elements = checkXml(xml, xmlLine, script.clients, err);
    if (elements.length > 1) {
      if (verb === "receives") {
        throw err(xmlLine, `the receives: block holds ${elements.length} elements; write one receives: per stanza`);
      }
      script.warnings.push(
        `${path}:${lineNo}: the sends: block holds ${elements.length} elements (an indented block without an action ` +
          `header is glued to it); only the first is sent`,
      );
    }
    script.steps.push({ action: verb, client, line: lineNo, xml, xmlLine });
    i = j;
  }
  finishClient(current, err);
  script.description = description.join("\n");
  if (script.clients.size === 0) throw err(1, "no [Client] declared");
  return script;
}

function parseActionLine(
  line: string,
  clients: Map<string, ClientDecl>,
): { client: string; verb: "connects" | "disconnects" | "sends" | "receives"; rest: string } | { error: string } {
  const m = /^(.+?)\s+(connects|disconnects|sends|receives)\b\s*:?\s*(.*)$/.exec(line);
  if (!m) return { error: `cannot understand this line: ${JSON.stringify(line)}` };
  // The name is free text: prefer the longest declared name that prefixes the line, so a name that
  // itself contains a verb-like word still works.
  let best: string | undefined;
  for (const name of clients.keys()) {
    if (line.startsWith(name + " ") && (!best || name.length > best.length)) best = name;
  }
  if (best) {
    const tail = /^\s+(connects|disconnects|sends|receives)\b\s*:?\s*(.*)$/.exec(line.slice(best.length));
    if (tail) return { client: best, verb: tail[1] as "connects", rest: tail[2].trim() };
  }
  return { error: `"${m[1]}" is not a declared client` };
}

function setClientProp(
  c: ClientDecl,
  key: string,
  value: string,
  lineNo: number,
  err: (line: number, msg: string) => ScriptError,
): void {
  if (!CLIENT_PROPS.has(key)) throw err(lineNo, `unknown property "${key}" for ${c.name}`);
  switch (key) {
    case "jid": {
      const j = splitJid(value);
      if (!j) throw err(lineNo, `invalid JID "${value}"`);
      c.jid = value;
      c.bareJid = j.bare;
      if (j.resource !== undefined) {
        if (c.resource !== undefined && c.resource !== j.resource) {
          throw err(lineNo, `resource "${c.resource}" conflicts with the JID's resource "${j.resource}"`);
        }
        c.resource = j.resource;
      }
      break;
    }
    case "password":
      c.password = value;
      break;
    case "resource":
      if (c.resource !== undefined && c.resource !== value) {
        throw err(lineNo, `resource "${value}" conflicts with the JID's resource "${c.resource}"`);
      }
      c.resource = value;
      break;
    case "connect_host":
      c.connectHost = value;
      break;
    case "connect_port": {
      const p = Number(value);
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw err(lineNo, `invalid connect_port "${value}"`);
      c.connectPort = p;
      break;
    }
  }
}

function finishClient(c: ClientDecl | undefined, err: (line: number, msg: string) => ScriptError): void {
  if (c && !c.jid) throw err(c.line, `${c.name} has no jid`);
}

export function splitJid(jid: string): { local?: string; domain: string; bare: string; resource?: string } | undefined {
  const slash = jid.indexOf("/");
  const bare = slash >= 0 ? jid.slice(0, slash) : jid;
  const resource = slash >= 0 ? jid.slice(slash + 1) : undefined;
  const at = bare.indexOf("@");
  const local = at >= 0 ? bare.slice(0, at) : undefined;
  const domain = at >= 0 ? bare.slice(at + 1) : bare;
  if (!domain || local === "" || resource === "" || /\s/.test(jid)) return undefined;
  return { local, domain, bare, resource };
}

/** Remove the common leading whitespace of the non-blank lines. */
export function dedent(lines: string[]): string[] {
  let common: string | undefined;
  for (const l of lines) {
    if (isBlank(l)) continue;
    const ws = /^[ \t]*/.exec(l)![0];
    if (common === undefined) common = ws;
    else {
      let k = 0;
      while (k < common.length && k < ws.length && common[k] === ws[k]) k++;
      common = common.slice(0, k);
    }
  }
  const n = common?.length ?? 0;
  return lines.map((l) => (isBlank(l) ? "" : l.slice(n)));
}

// ---- variables: ${Name's JID}, ${Name's full JID} ----

const VAR_RE = /\$\{([^}]*)\}/g;

export interface VarRef {
  name: string;
  full: boolean;
}

/** Parse the inside of `${...}`; undefined when it is not a JID reference. */
export function parseVar(inner: string): VarRef | undefined {
  const m = /^(.+)'s (full )?JID$/.exec(inner);
  return m ? { name: m[1], full: m[2] !== undefined } : undefined;
}

/**
 * Replace every `${Name's JID}` / `${Name's full JID}` in an XML block with `resolve(ref)`,
 * XML-escaped. `resolve` may throw.
 */
export function substituteVars(xml: string, resolve: (ref: VarRef, raw: string) => string): string {
  return xml.replace(VAR_RE, (raw, inner: string) => {
    const ref = parseVar(inner);
    if (!ref) throw new Error(`unknown variable ${raw}`);
    return escapeXml(resolve(ref, raw));
  });
}

function escapeXml(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---- XML blocks ----

const ROOT =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  `xmlns:scansion='${NS_SCANSION}'>`;

/**
 * Parse an XML block (after variable substitution) into its top-level elements. Top-level elements
 * get jabber:client semantics (no xmlns attribute); the `scansion:` prefix needs no declaration.
 * Throws an Error with the parser's message.
 */
export function parseXmlBlock(xml: string): Element[] {
  const out: Element[] = [];
  let error: string | undefined;
  let ended = false;
  const stream = new XmlStream(
    {
      stanza: (el) => out.push(el),
      streamEnd: () => {
        ended = true;
      },
      error: (_cond, text) => {
        error ??= text;
      },
    },
    { framing: "stream", maxStanzaSize: 4 * 1024 * 1024, sync: true },
  );
  stream.write(ROOT);
  stream.write(xml);
  stream.write("</stream:stream>");
  if (error !== undefined) throw new Error(error);
  if (!ended) throw new Error("unclosed element");
  if (out.length === 0) throw new Error("no XML element");
  return out;
}

function checkXml(
  xml: string,
  xmlLine: number,
  clients: Map<string, ClientDecl>,
  err: (line: number, msg: string) => ScriptError,
): Element[] {
  const lines = xml.split("\n");
  lines.forEach((l, k) => {
    for (const m of l.matchAll(VAR_RE)) {
      const ref = parseVar(m[1]);
      if (!ref) throw err(xmlLine + k, `unknown variable ${m[0]} (expected \${Name's JID} or \${Name's full JID})`);
      if (!clients.has(ref.name)) throw err(xmlLine + k, `${m[0]} refers to an undeclared client "${ref.name}"`);
    }
  });
  const placeholder = substituteVars(xml, (ref) => (ref.full ? "placeholder@localhost/r" : "placeholder@localhost"));
  try {
    return parseXmlBlock(placeholder);
  } catch (e) {
    throw err(xmlLine, `invalid XML: ${(e as Error).message}`);
  }
}

/** Read and parse a .scs file. */
export async function loadScript(path: string): Promise<Script> {
  return parseScript(await readFile(path, "utf8"), path);
}
