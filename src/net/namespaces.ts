// Namespaces of the stream-level elements the client and server streams handle themselves (the
// SASL exchange, binding, dialback and bidi state live in the streams; the stream-feature modules
// mod_saslauth, mod_bind, mod_dialback and mod_s2s offer them and hand their elements over).

export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
export const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
export const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";
export const NS_DIALBACK = "jabber:server:dialback";
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";
export const NS_BIDI = "urn:xmpp:bidi";
export const NS_BIDI_FEATURE = "urn:xmpp:features:bidi";
