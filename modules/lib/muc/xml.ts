// Namespaces and small stanza builders of XEP-0045 and its companions.

import { xmppDateTime } from "../../../src/util/datetime.js";
import { Element } from "../../../src/xml/stanza.js";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
export const NS_MUC_REQUEST = "http://jabber.org/protocol/muc#request";
export const NS_MUC_REGISTER = "http://jabber.org/protocol/muc#register";
export const NS_SELF_PING_OPT = "http://jabber.org/protocol/muc#self-ping-optimization";
export const NS_STABLE_ID = "http://jabber.org/protocol/muc#stable_id";
export const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0";
export const NS_STANZA_ID = "urn:xmpp:sid:0";
export const NS_DELAY = "urn:xmpp:delay";
export const NS_MAM = "urn:xmpp:mam:2";
export const NS_REGISTER = "jabber:iq:register";
export const NS_PING = "urn:xmpp:ping";
export const NS_CONFERENCE = "jabber:x:conference";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_DATA = "jabber:x:data";

export function statusCodes(codes: readonly number[]): Element[] {
  return codes.map((c) => new Element("status", { code: String(c) }));
}

export function delayElement(from: string, when: number): Element {
  return new Element("delay", { xmlns: NS_DELAY, from, stamp: xmppDateTime(when) });
}
