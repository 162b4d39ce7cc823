// Shared by the pubsub tests: a server with the pubsub component, clients logged in (in memory,
// or over loopback for the tests with real clients), request builders and error readers.

import { startTestServer, type TestServer } from "../harness/index.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { errorOf as errorOfIn, expectResult } from "../helpers/errors.js";
import type { Element } from "../../src/xml/stanza.js";

export const PUBSUB = "pubsub.localhost";
export const NS = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_DATA = "jabber:x:data";
export const ATOM = "<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title><summary>To be, or not to be</summary></entry>";

/** The server config of the pubsub tests; `component` lines go under the Component. */
export function pubsubConfig(opts: { component?: string; storage?: "memory" | "leveldb"; global?: string; transport?: "memory" | "sockets" } = {}): string {
  return `
admins = { "admin@localhost" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster" }
${opts.storage === "leveldb" ? "" : 'storage = "memory"'}
${opts.global ?? ""}
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
${opts.component ?? ""}
`;
}

/** `transport`: "memory" (default) or "sockets" for tests with real clients. */
export function startPubsubServer(opts: Parameters<typeof pubsubConfig>[0] = {}, users: string[] = []): Promise<TestServer> {
  return startTestServer({ config: pubsubConfig(opts), transport: opts.transport ?? "memory", users: ["admin", ...users] });
}

export function login(ts: TestServer, user: string, resource?: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

let counter = 0;
export const nextId = (): string => `t${++counter}`;

/** Send <iq type to=pubsub.localhost><pubsub xmlns=ns>body</pubsub></iq> and wait for the reply. */
export function pubsub(c: RawClient, type: "get" | "set", body: string, ns: string = NS, to = PUBSUB): Promise<Element> {
  return c.iq(`<iq type='${type}' to='${to}' id='${nextId()}'><pubsub xmlns='${ns}'>${body}</pubsub></iq>`);
}

export const owner = (c: RawClient, type: "get" | "set", body: string): Promise<Element> => pubsub(c, type, body, NS_OWNER);

/** The error of an error reply: type, RFC 6120 condition, pubsub#errors child and its feature, text. */
export const errorOf = (el: Element) => errorOfIn(el, NS_ERRORS);

export { expectResult };

export async function createNode(c: RawClient, node: string, config: Record<string, string | string[]> = {}): Promise<void> {
  const fields = Object.entries(config);
  const configure = fields.length === 0 ? "" : `<configure>${submitForm("http://jabber.org/protocol/pubsub#node_config", config)}</configure>`;
  expectResult(await pubsub(c, "set", `<create node='${node}'/>${configure}`));
}

export async function configure(c: RawClient, node: string, config: Record<string, string | string[]>): Promise<Element> {
  return owner(c, "set", `<configure node='${node}'>${submitForm("http://jabber.org/protocol/pubsub#node_config", config)}</configure>`);
}

export function submitForm(formType: string | undefined, fields: Record<string, string | string[]>, type = "submit"): string {
  const parts = Object.entries(fields).map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${x}</value>`).join("")}</field>`);
  const ft = formType === undefined ? "" : `<field var='FORM_TYPE' type='hidden'><value>${formType}</value></field>`;
  return `<x xmlns='jabber:x:data' type='${type}'>${ft}${parts.join("")}</x>`;
}

export async function publish(c: RawClient, node: string, id: string | undefined, payload = ATOM): Promise<Element> {
  return pubsub(c, "set", `<publish node='${node}'><item${id === undefined ? "" : ` id='${id}'`}>${payload}</item></publish>`);
}

export async function subscribe(c: RawClient, node: string, jid = c.jid): Promise<Element> {
  return pubsub(c, "set", `<subscribe node='${node}' jid='${jid}'/>`);
}

/** The next stanza that is a message (presence and others skipped). */
export function nextMessage(c: RawClient, timeoutMs = 3000): Promise<Element> {
  return c.nextWhere((el) => el.name === "message", timeoutMs);
}

/** No message arrives within `ms` (presence and iq pushes are ignored). */
export function noMessage(c: RawClient, ms = 250): Promise<void> {
  return c.nothingWhere((el) => el.name === "message", ms);
}

/** Read everything that arrives until `ms` of quiet. */
export function drain(c: RawClient, ms = 150): Promise<Element[]> {
  return c.drain(ms);
}

/** The <event/> of a notification message. */
export function eventOf(msg: Element): Element {
  const ev = msg.getChild("event", NS_EVENT);
  if (!ev) throw new Error(`not a pubsub event: ${msg}`);
  return ev;
}

/** Values of a data form by field var. */
export function formFields(x: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of x.childElements("field")) out.set(f.attrs.var ?? "", f.childElements("value").map((v) => v.getText()));
  return out;
}

/** ids of the items of an <items/> reply. */
export function itemIds(reply: Element): string[] {
  const items = reply.getChild("pubsub", NS)?.getChild("items");
  return (items?.childElements("item") ?? []).map((i) => i.attrs.id ?? "");
}
