// What the XEP-0357 push tests share: the app server's address (a pubsub component in the test
// config), namespaces, and reading what the app server's subscriber (Bob) receives.

import type { RawClient } from "../../helpers/xmpp-client.js";
import type { Element } from "../../../src/xml/stanza.js";
import { eventOf, expectResult, formFields, nextMessage, pubsub } from "../../pubsub/helpers.js";

export const PUSH = "push.localhost";
export const NS_PUSH = "urn:xmpp:push:0";
export const SM = "urn:xmpp:sm:3";

/** The summary form of a push notification message. */
export function summaryOf(msg: Element): Map<string, string[]> {
  const item = eventOf(msg).getChild("items")!.getChild("item")!;
  return formFields(item.getChild("notification", NS_PUSH)!.getChild("x", "jabber:x:data")!);
}

/** The next notification Bob sees: its node and summary form. */
export async function nextPush(bob: RawClient, timeoutMs = 5000): Promise<{ node: string; fields: Map<string, string[]> }> {
  const msg = await nextMessage(bob, timeoutMs);
  return { node: eventOf(msg).getChild("items")!.attrs.node, fields: summaryOf(msg) };
}

/** How many notifications a device's node holds. */
export async function itemCount(bob: RawClient, node: string): Promise<number> {
  const r = await pubsub(bob, "get", `<items node='${node}'/>`, undefined, PUSH);
  expectResult(r);
  return r.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("items")!.childElements("item").length;
}

/** The next element other than a stream management ack request. */
export async function nextNotR(c: RawClient): Promise<Element> {
  for (;;) {
    const el = await c.next(5000);
    if (!(el.name === "r" && el.attrs.xmlns === SM)) return el;
  }
}
