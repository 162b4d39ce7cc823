// Shared by the MUC tests: a server with the conference component, clients (in memory, or over
// loopback for the tests with real clients), and readers for MUC presence and errors.

import { startTestServer, type TestServer } from "../harness/index.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import type { Element } from "../../src/xml/stanza.js";

export const MUC = "conference.localhost";
export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_USER = "http://jabber.org/protocol/muc#user";
export const NS_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_OWNER = "http://jabber.org/protocol/muc#owner";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export function mucConfig(opts: { component?: string; storage?: "memory" | "leveldb"; global?: string; transport?: "memory" | "sockets" } = {}): string {
  return `
admins = { "admin@localhost" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster"; "presence"; "message" }
${opts.storage === "leveldb" ? "" : 'storage = "memory"'}
${opts.global ?? ""}
VirtualHost "localhost"
Component "conference.localhost" "muc"
${opts.component ?? ""}
`;
}

export const USERS = ["admin", "alice", "bob", "carol", "dave"];

/** `transport`: "memory" (default) or "sockets" for tests with real clients. */
export function startMucServer(opts: Parameters<typeof mucConfig>[0] = {}): Promise<TestServer> {
  return startTestServer({ config: mucConfig(opts), transport: opts.transport ?? "memory", users: USERS });
}

export function login(ts: TestServer, user: string, resource?: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

let counter = 0;
export const nextId = (): string => `m${++counter}`;

/** Read stanzas until one matches (others are kept in `skipped`). */
export function until(c: RawClient, pred: (el: Element) => boolean, timeoutMs = 4000, skipped: Element[] = []): Promise<Element> {
  return c.nextWhere(pred, timeoutMs, skipped);
}

/** Everything that arrives until `ms` of quiet. */
export function drain(c: RawClient, ms = 200): Promise<Element[]> {
  return c.drain(ms);
}

export function codes(el: Element): number[] {
  const x = el.getChild("x", NS_USER);
  return (x?.childElements("status") ?? []).map((s) => Number(s.attrs.code));
}

export function itemOf(el: Element): Record<string, string> {
  const item = el.getChild("x", NS_USER)?.getChild("item");
  if (!item) throw new Error(`no muc#user item in ${el}`);
  return item.attrs;
}

export { errorOf } from "../helpers/errors.js";

/**
 * Join room/nick and read up to the subject message (the end of the join, §7.2.16). Returns
 * everything received, in order. Errors come back as the presence error.
 */
export async function join(c: RawClient, room: string, nick: string, x = ""): Promise<{ stanzas: Element[]; self: Element; error?: Element }> {
  c.send(`<presence to='${room}@${MUC}/${nick}'><x xmlns='${NS_MUC}'>${x}</x></presence>`);
  const stanzas: Element[] = [];
  for (;;) {
    const el = await c.next(4000);
    stanzas.push(el);
    if (el.name === "presence" && el.attrs.type === "error" && el.attrs.from === `${room}@${MUC}/${nick}`) return { stanzas, self: el, error: el };
    if (el.name === "message" && el.getChild("subject") && !el.getChild("body")) break;
  }
  const self = stanzas.find((s) => s.name === "presence" && codes(s).includes(110));
  if (!self) throw new Error(`no self-presence in ${stanzas.join("\n")}`);
  return { stanzas, self };
}

/** Create a room as an instant room (§10.1.2): join, then accept the default configuration. */
export async function createInstant(c: RawClient, room: string, nick: string, config: Record<string, string | string[]> = {}): Promise<Element[]> {
  const j = await join(c, room, nick);
  if (j.error) throw new Error(`join failed: ${j.error}`);
  const r = await configure(c, room, config);
  if (r.attrs.type !== "result") throw new Error(`configuration failed: ${r}`);
  return j.stanzas;
}

export function configure(c: RawClient, room: string, config: Record<string, string | string[]>): Promise<Element> {
  const fields = Object.entries(config)
    .map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join("")}</field>`)
    .join("");
  const ft = Object.keys(config).length ? "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" : "";
  return c.iq(`<iq type='set' to='${room}@${MUC}' id='${nextId()}'><query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>${ft}${fields}</x></query></iq>`);
}

export function admin(c: RawClient, room: string, type: "get" | "set", items: string): Promise<Element> {
  return c.iq(`<iq type='${type}' to='${room}@${MUC}' id='${nextId()}'><query xmlns='${NS_ADMIN}'>${items}</query></iq>`);
}

export function groupchat(c: RawClient, room: string, body: string, extra = ""): void {
  c.send(`<message type='groupchat' to='${room}@${MUC}' id='${nextId()}'><body>${body}</body>${extra}</message>`);
}

export const isMessageWithBody = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;
export const presenceFrom = (from: string) => (el: Element) => el.name === "presence" && el.attrs.from === from;
