// The namespaces the server uses in more than one place, defined once. A namespace used by one
// file only stays beside its code.

// ---- RFC 6120 / RFC 6121 / RFC 7395 ----
export const NS_STREAM = "http://etherx.jabber.org/streams";
export const NS_CLIENT = "jabber:client";
export const NS_SERVER = "jabber:server";
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_XMPP_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
export const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
export const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
export const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";
export const NS_ROSTER = "jabber:iq:roster";

// ---- server streams: dialback (XEP-0220), bidi (XEP-0288) ----
export const NS_DIALBACK = "jabber:server:dialback";
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";
export const NS_BIDI = "urn:xmpp:bidi";
export const NS_BIDI_FEATURE = "urn:xmpp:features:bidi";

// ---- service discovery, forms, result sets (XEP-0030, XEP-0004, XEP-0059) ----
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_DATA = "jabber:x:data";
export const NS_RSM = "http://jabber.org/protocol/rsm";
export const NS_COMMANDS = "http://jabber.org/protocol/commands";

// ---- messages: delay, forwarding, hints, carbons, archives, stanza ids ----
export const NS_DELAY = "urn:xmpp:delay"; // XEP-0203
export const NS_FORWARD = "urn:xmpp:forward:0"; // XEP-0297
export const NS_HINTS = "urn:xmpp:hints"; // XEP-0334
export const NS_CARBONS = "urn:xmpp:carbons:2"; // XEP-0280
export const NS_MAM = "urn:xmpp:mam:2"; // XEP-0313
export const NS_STANZA_ID = "urn:xmpp:sid:0"; // XEP-0359
export const NS_CHATSTATES = "http://jabber.org/protocol/chatstates"; // XEP-0085

// ---- everyday IQs ----
export const NS_PING = "urn:xmpp:ping"; // XEP-0199
export const NS_LAST = "jabber:iq:last"; // XEP-0012
export const NS_REGISTER = "jabber:iq:register"; // XEP-0077
export const NS_PRIVATE = "jabber:iq:private"; // XEP-0049
export const NS_VCARD = "vcard-temp"; // XEP-0054
export const NS_VCARD4 = "urn:ietf:params:xml:ns:vcard-4.0"; // RFC 6351
export const NODE_VCARD4 = "urn:xmpp:vcard4"; // XEP-0292's PEP node

// ---- group chat (XEP-0045, XEP-0249) ----
export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_CONFERENCE = "jabber:x:conference";

// ---- publish-subscribe (XEP-0060) ----
export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const FORM_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
