// Shared by the PEP tests: a server with roster, presence, messages, disco and PEP; clients that
// come online advertising Entity Capabilities and answer the server's caps query; subscriptions
// made over the wire.

import { startTestServer, type TestServer } from "../harness/index.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { errorOf as errorOfIn, expectResult } from "../helpers/errors.js";
import { Element } from "../../src/xml/stanza.js";
import { capsHash } from "../../modules/mod_pep/caps.js";

export const NS = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_CAPS = "http://jabber.org/protocol/caps";
export const TUNE = "http://jabber.org/protocol/tune";
export const MOOD = "http://jabber.org/protocol/mood";
export const CAPS_NODE = "https://herald.example/test-client";

export function pepConfig(opts: { storage?: "memory" | "leveldb"; modules?: string[]; extra?: string; transport?: "memory" | "sockets" } = {}): string {
  const modules = opts.modules ?? ["roster", "presence", "message", "disco", "ping", "pep", "vcard_legacy", "vcard4"];
  return `
admins = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { ${modules.map((m) => `"${m}"`).join("; ")} }
${opts.storage === "leveldb" ? "" : 'storage = "memory"'}
${opts.extra ?? ""}
VirtualHost "localhost"
`;
}

/** In memory unless `transport: "sockets"` (tests with real clients). */
export function startPepServer(users: string[], opts: Parameters<typeof pepConfig>[0] = {}): Promise<TestServer> {
  return startTestServer({ config: pepConfig(opts), transport: opts.transport ?? "memory", users });
}

export function login(ts: TestServer, user: string, resource?: string): Promise<RawClient> {
  return ts.login(user, "pw", { resource });
}

export { xml } from "../helpers/xml.js";

let counter = 0;
export const nextId = (): string => `p${++counter}`;

/** <iq type to?><pubsub xmlns=ns>body</pubsub></iq>, waiting for the reply. */
export function pubsub(c: RawClient, type: "get" | "set", body: string, opts: { to?: string; ns?: string } = {}): Promise<Element> {
  const to = opts.to === undefined ? "" : ` to='${opts.to}'`;
  return c.iq(`<iq type='${type}'${to} id='${nextId()}'><pubsub xmlns='${opts.ns ?? NS}'>${body}</pubsub></iq>`);
}

export function form(formType: string, fields: Record<string, string>, type = "submit"): string {
  const parts = Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`);
  return `<x xmlns='jabber:x:data' type='${type}'><field var='FORM_TYPE' type='hidden'><value>${formType}</value></field>${parts.join("")}</x>`;
}

export function tune(title: string): string {
  return `<tune xmlns='${TUNE}'><title>${title}</title></tune>`;
}

/** A publish request body, with publish-options when given. */
export function publishBody(node: string, id: string | undefined, payload: string, options?: Record<string, string>): string {
  const item = `<item${id === undefined ? "" : ` id='${id}'`}>${payload}</item>`;
  const po = options ? `<publish-options>${form("http://jabber.org/protocol/pubsub#publish-options", options)}</publish-options>` : "";
  return `<publish node='${node}'>${item}</publish>${po}`;
}

export function publish(c: RawClient, node: string, id: string | undefined, payload: string, options?: Record<string, string>): Promise<Element> {
  return pubsub(c, "set", publishBody(node, id, payload, options));
}

export { expectResult };

/** type, condition, pubsub#errors child (and its feature), text of an error reply. */
export const errorOf = (el: Element) => errorOfIn(el, NS_ERRORS);

/** The disco#info a test client answers with: an identity and these features. */
export function discoInfo(features: string[], node?: string): Element {
  const q = new Element("query", node === undefined ? { xmlns: NS_DISCO_INFO } : { xmlns: NS_DISCO_INFO, node });
  q.add(new Element("identity", { category: "client", type: "pc", name: "Herald tests" }));
  for (const f of [NS_DISCO_INFO, NS_CAPS, ...features]) q.add(new Element("feature", { var: f }));
  return q;
}

/** The XEP-0115 ver of a test client with these features. */
export function verOf(features: string[]): string {
  return capsHash(discoInfo(features));
}

export function capsPresence(ver: string, extra = ""): string {
  return `<presence><c xmlns='${NS_CAPS}' hash='sha-1' node='${CAPS_NODE}' ver='${ver}'/>${extra}</presence>`;
}

/**
 * Send available presence with caps for `features`; answer the server's caps query if it asks
 * (`answer` = the features to claim in the answer, default the same). Returns what came before the
 * echo (the query, if any) and the stanzas after the answer up to quiet.
 */
export async function online(
  c: RawClient,
  features: string[],
  opts: { answer?: string[]; ver?: string; expectQuery?: boolean } = {},
): Promise<{ query?: Element; before: Element[] }> {
  const ver = opts.ver ?? verOf(features);
  c.send(capsPresence(ver));
  const before: Element[] = [];
  let query: Element | undefined;
  const bare = c.jid.split("/")[0];
  for (;;) {
    const el = await c.next();
    if (el.name === "presence" && el.attrs.from === c.jid && el.attrs.type === undefined) break;
    if (el.name === "iq" && el.attrs.id === "disco" && el.attrs.from === bare && el.attrs.type === "get") query = el;
    else before.push(el);
  }
  if (opts.expectQuery === true && !query) throw new Error("no caps query came");
  if (opts.expectQuery === false && query) throw new Error(`unexpected caps query ${query}`);
  if (query) {
    const node = query.getChild("query", NS_DISCO_INFO)?.attrs.node;
    const answer = discoInfo(opts.answer ?? features, node);
    c.send(new Element("iq", { type: "result", id: "disco", to: bare }, [answer]));
  }
  return { query, before };
}

/** Answer a caps query a contact's service sent (from the contact's bare JID). */
export function answerQuery(c: RawClient, query: Element, features: string[]): void {
  const node = query.getChild("query", NS_DISCO_INFO)?.attrs.node;
  c.send(new Element("iq", { type: "result", id: "disco", to: query.attrs.from! }, [discoInfo(features, node)]));
}

/** A ping round trip: everything the server did for earlier stanzas of this client is done. */
export function sync(c: RawClient): Promise<void> {
  return c.sync();
}

/** Read what arrives until `ms` of quiet. */
export function drain(c: RawClient, ms = 200): Promise<Element[]> {
  return c.drain(ms);
}

/** The next stanza that is not a presence or an iq push (roster). */
export function nextMessage(c: RawClient, timeoutMs = 3000): Promise<Element> {
  return c.nextWhere((el) => el.name === "message", timeoutMs);
}

/** No message within `ms` (presence and iqs are skipped). */
export async function noMessage(c: RawClient, ms = 300): Promise<void> {
  for (const el of await c.drain(ms)) if (el.name === "message") throw new Error(`unexpected message: ${el}`);
}

/** The <items/> of a notification message. */
export function itemsOf(msg: Element): Element {
  const items = msg.getChild("event", NS_EVENT)?.getChild("items");
  if (!items) throw new Error(`not an items notification: ${msg}`);
  return items;
}

/**
 * Make `a` and `b` subscribed to each other's presence (both: "both"), or only `a` to `b`
 * (oneWay), with throwaway sessions that never send available presence.
 */
export async function subscribe(ts: TestServer, a: string, b: string, oneWay = false): Promise<void> {
  const ca = await login(ts, a, "setup");
  const cb = await login(ts, b, "setup");
  ca.send(`<presence type='subscribe' to='${b}@localhost'/>`);
  await sync(ca);
  cb.send(`<presence type='subscribed' to='${a}@localhost'/>`);
  await sync(cb);
  if (!oneWay) {
    cb.send(`<presence type='subscribe' to='${a}@localhost'/>`);
    await sync(cb);
    ca.send(`<presence type='subscribed' to='${b}@localhost'/>`);
    await sync(ca);
  }
  ca.close();
  cb.close();
  await ca.waitClosed();
  await cb.waitClosed();
}

/**
 * Until `ms` of quiet: answer every caps query that arrives (from any service) with `features`,
 * and return the other stanzas, in order.
 */
export async function settle(c: RawClient, features: string[], ms = 250): Promise<Element[]> {
  const out: Element[] = [];
  for (;;) {
    let el: Element;
    try {
      el = await c.next(ms);
    } catch (err) {
      if (/nothing received/.test((err as Error).message)) return out;
      throw err;
    }
    if (el.name === "iq" && el.attrs.id === "disco" && el.attrs.type === "get") answerQuery(c, el, features);
    else out.push(el);
  }
}

/** The notification messages among stanzas, as "node/itemid" (or "node/retract:id"). */
export function notifications(stanzas: Element[]): string[] {
  const out: string[] = [];
  for (const el of stanzas) {
    if (el.name !== "message") continue;
    const items = el.getChild("event", NS_EVENT)?.getChild("items");
    if (!items) continue;
    for (const i of items.childElements()) out.push(`${el.attrs.from} ${items.attrs.node}/${i.name === "retract" ? "retract:" : ""}${i.attrs.id}`);
  }
  return out;
}
