// XEP-0357 pure parts: whether a message is "important" for a push (Prosody's mod_cloud_notify rule:
// a phone shows those with a text, the others only wake the app), the summary form, and the
// publish the app server gets.

import { Element } from "../../src/xml/stanza.js";
import { NS_PUBSUB, NS_DATA, NS_CARBONS, NS_FORWARD, NS_CLIENT } from "../../src/xml/ns.js";
export { NS_PUBSUB, NS_DATA };

export const NS_PUSH = "urn:xmpp:push:0";

const ENCRYPTED: Array<[string, string]> = [
  ["encrypted", "eu.siacs.conversations.axolotl"], // OMEMO (legacy namespace)
  ["encrypted", "urn:xmpp:omemo:2"], // OMEMO
  ["x", "jabber:x:encrypted"], // XEP-0027
  ["openpgp", "urn:xmpp:openpgp:0"], // XEP-0373
];

/**
 * A message with a non-empty body, an encrypted payload or a call proposal (XEP-0353); not a
 * headline, not a groupchat subject change, not the carbon of a message the user sent.
 */
export function isImportant(stanza: Element): boolean {
  if (stanza.name !== "message") return false;
  let msg = stanza;
  const sent = stanza.getChild("sent", NS_CARBONS);
  const carbon = (sent ?? stanza.getChild("received", NS_CARBONS))?.getChild("forwarded", NS_FORWARD)?.getChild("message", NS_CLIENT);
  if (carbon) {
    if (sent) return false;
    msg = carbon;
  }
  const type = msg.attrs.type;
  if (type === "headline") return false;
  for (const [name, ns] of ENCRYPTED) if (msg.getChild(name, ns)) return true;
  if (msg.getChild("propose", "urn:xmpp:jingle-message:0")) return true;
  if (type === "groupchat" && msg.getChildText("subject")) return false;
  const body = msg.getChildText("body");
  return body !== undefined && body !== "";
}

export interface SummaryOptions {
  /** push_notification_with_body */
  withBody: boolean;
  /** push_notification_with_sender */
  withSender: boolean;
  /** push_notification_important_body ("" for none) */
  importantBody: string;
}

/** XEP-0357 §5: the urn:xmpp:push:summary form for one message (or none, for a bare wake-up). */
export function summaryForm(stanza: Element | undefined, opts: SummaryOptions): Element {
  const x = new Element("x", { xmlns: NS_DATA, type: "submit" });
  const field = (v: string, value: string, type?: string) => {
    x.tag("field", type ? { var: v, type } : { var: v }).textTag("value", value).up();
  };
  field("FORM_TYPE", "urn:xmpp:push:summary", "hidden");
  // As Prosody: the XEP does not say what to count, and the app server only needs "something new".
  field("message-count", "1");
  if (stanza && opts.withSender && stanza.attrs.from !== undefined) field("last-message-sender", stanza.attrs.from);
  const body = stanza?.getChildText("body");
  if (stanza && opts.withBody && body !== undefined) field("last-message-body", body);
  else if (stanza && opts.importantBody !== "" && isImportant(stanza)) field("last-message-body", opts.importantBody);
  return x;
}

/** XEP-0357 §5: the publish to the app server's node, with the publish options the client gave. */
export function publishIq(from: string, to: string, node: string | undefined, form: Element, options: Element | undefined, id: string): Element {
  const iq = new Element("iq", { type: "set", from, to, id });
  iq.tag("pubsub", { xmlns: NS_PUBSUB });
  iq.tag("publish", node === undefined ? {} : { node }).tag("item").tag("notification", { xmlns: NS_PUSH }).add(form).up().up().up();
  if (options) iq.tag("publish-options").add(options.clone()).up();
  return iq;
}
