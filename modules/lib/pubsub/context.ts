// What the protocol layer needs to answer for one pubsub service: the service, its address, and
// the few switches that differ between the component and PEP (per-account services).

import type { PubsubEvent, PubsubService, RsmQuery, RsmResult, Subscription } from "../../../src/util/pubsub/index.js";
import { Element, NS_STANZAS, reply, StanzaError, type ErrorType } from "../../../src/xml/stanza.js";
import { NS_RSM, pubsubErrorReply } from "./xml.js";

export interface PubsubContext {
  service: PubsubService;
  /** The service's address: a component's host, or a PEP account's bare JID. */
  jid: string;
  /** expose_publisher: true always shows `publisher`, false never, unset per node (pubsub#itemreply). */
  exposePublisher?: boolean;
  /** Show every node_config option in configure forms (default: Prosody's, plus the changed ones). */
  fullConfigForm?: boolean;
  /** Hand an event to the service's broadcaster (the last item, after a subscribe result). */
  broadcast(event: PubsubEvent): Promise<void>;
  /** Send a stanza from the service (authorization forms of the get-pending command). */
  send(stanza: Element): Promise<void>;
  /** The disco identity of the service (component: pubsub/service; PEP: pubsub/pep). */
  identity: { category: string; type: string; name?: string };
  /** The wiring feeds available presence to the service (last-published, §12.x on_sub_and_presence). */
  presenceEvents: boolean;
  /** The wiring can tell whether subscribers are available (presence-notifications). */
  presenceAware: boolean;
  /** XEP-0050 get-pending command (§8.7) is served. */
  adhocCommands: boolean;
  /** Further disco features the caller backs (PEP: auto-subscribe, filtered-notifications, ...). */
  extraFeatures?: readonly string[];
}

/** What a handled request gives: the reply, and work to do once the reply is out. */
export interface ProtocolResult {
  reply: Element;
  after?: () => Promise<void>;
}

export function resultOf(reply: Element, after?: () => Promise<void>): ProtocolResult {
  return after ? { reply, after } : { reply };
}

/**
 * A reply the protocol layer built, as an iq handler's answer (module.iq): the result's payload
 * (null for an empty result), or the error with its condition, text, pubsub#errors child and any
 * payload that goes back with it.
 */
export function iqAnswerOf(built: Element): Element | null | StanzaError {
  const error = built.attrs.type === "error" ? built.getChild("error") : undefined;
  if (!error) return built.firstElement() ?? null;
  let condition = "undefined-condition";
  let uri: string | undefined;
  let text: string | undefined;
  let appError: Element | undefined;
  for (const c of error.childElements()) {
    if (c.attrs.xmlns !== NS_STANZAS) appError = c;
    else if (c.name === "text") text = c.getText();
    else {
      condition = c.name;
      uri = c.getText() || undefined;
    }
  }
  const type = (error.attrs.type ?? "cancel") as ErrorType;
  const payload = built.childElements().filter((c) => c !== error);
  return new StanzaError(type, condition, { text, uri, appError, by: error.attrs.by, payload: payload.length > 0 ? payload : undefined });
}

/** An IQ result carrying `payload` (or nothing). */
export function iqResult(stanza: Element, payload?: Element): Element {
  const r = reply(stanza);
  if (payload) r.children.push(payload);
  return r;
}

/** The requesting entity: the stamped `from` (full JID of a client). */
export function actorOf(stanza: Element): string {
  return stanza.attrs.from ?? "";
}

// ---- XEP-0059 Result Set Management -------------------------------------------------------------

/** Read a <set/> (XEP-0059 §2); undefined when absent, an error text when malformed. */
export function parseRsm(set: Element | undefined): { rsm?: RsmQuery; error?: string; unsupported?: boolean } {
  if (!set) return {};
  const rsm: RsmQuery = {};
  const max = set.getChildText("max");
  if (max !== undefined) {
    if (!/^\d+$/.test(max.trim())) return { error: "RSM max must be a non-negative integer" };
    rsm.max = Number(max.trim());
  }
  const after = set.getChild("after");
  if (after) rsm.after = after.getText();
  const before = set.getChild("before");
  if (before) rsm.before = before.getText();
  // §2.4 paging by index is optional; Herald pages by key only.
  if (set.getChild("index")) return { unsupported: true };
  return { rsm };
}

export function rsmElement(result: RsmResult): Element {
  const set = new Element("set", { xmlns: NS_RSM });
  if (result.first !== undefined) set.children.push(new Element("first", {}, [result.first]));
  if (result.last !== undefined) set.children.push(new Element("last", {}, [result.last]));
  set.children.push(new Element("count", {}, [String(result.count)]));
  return set;
}

/** The `node` attribute, or the nodeid-required error (XEP-0060 §7.1.3.3 and elsewhere). */
export function requireNode(stanza: Element, action: Element): { node: string } | { error: ProtocolResult } {
  const node = action.attrs.node;
  if (node === undefined || node === "") return { error: resultOf(pubsubErrorReply(stanza, { error: "nodeid-required" })) };
  return { node };
}

export function subscriptionElement(sub: Pick<Subscription, "node" | "jid" | "subid">, state: string, withSubid: boolean, withNode = true): Element {
  const attrs: Record<string, string> = withNode ? { node: sub.node, jid: sub.jid, subscription: state } : { jid: sub.jid, subscription: state };
  if (withSubid) attrs.subid = sub.subid;
  return new Element("subscription", attrs);
}

