// Namespaces and small stanza builders of XEP-0045 and its companions.

import { xmppDateTime } from "../../../src/util/datetime.js";
import { Element } from "../../../src/xml/stanza.js";
import { NS_MUC, NS_MUC_USER, NS_STANZA_ID, NS_DELAY, NS_MAM, NS_REGISTER, NS_PING, NS_CONFERENCE, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_DATA } from "../../../src/xml/ns.js";
export { NS_MUC, NS_MUC_USER, NS_STANZA_ID, NS_DELAY, NS_MAM, NS_REGISTER, NS_PING, NS_CONFERENCE, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_DATA };

export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
export const NS_MUC_REQUEST = "http://jabber.org/protocol/muc#request";
export const NS_MUC_REGISTER = "http://jabber.org/protocol/muc#register";
export const NS_SELF_PING_OPT = "http://jabber.org/protocol/muc#self-ping-optimization";
export const NS_STABLE_ID = "http://jabber.org/protocol/muc#stable_id";
export const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0";

export function statusCodes(codes: readonly number[]): Element[] {
  return codes.map((c) => new Element("status", { code: String(c) }));
}

export function delayElement(from: string, when: number): Element {
  return new Element("delay", { xmlns: NS_DELAY, from, stamp: xmppDateTime(when) });
}
