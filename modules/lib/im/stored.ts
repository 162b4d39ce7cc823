// Stanzas kept for later: which messages offline storage keeps (XEP-0160 §3) and the XEP-0203
// delay element added when it is delivered late; stanzas are kept in src/xml/json.ts's form. Used
// by mod_offline, mod_cloud_notify (which looks at messages before mod_offline stores them),
// mod_smacks (resent stanzas) and mod_csi_simple (held stanzas).

import { xmppDateTime } from "../../../src/util/datetime.js";
import { Element } from "../../../src/xml/stanza.js";
import { NS_DELAY, NS_CHATSTATES, NS_HINTS } from "../../../src/xml/ns.js";

/**
 * XEP-0160 §3: normal and chat messages are stored; groupchat, headline and error are not (those
 * never reach offline storage: mod_message does not offer them).
 *  - "store": keep it;
 *  - "discard": drop it silently: a chat message with nothing but a chat state notification
 *    (XEP-0160 §3: SHOULD NOT be stored; an error for a typing notification helps nobody);
 *  - "refuse": do not store, the sender gets service-unavailable (a `no-store` hint, XEP-0334 §4).
 */
export function offlineVerdict(stanza: Element): "store" | "discard" | "refuse" {
  const type = stanza.attrs.type;
  if (type !== undefined && type !== "normal" && type !== "chat") return "refuse";
  if (stanza.getChild("no-store", NS_HINTS)) return "refuse";
  let content = false;
  let chatState = false;
  for (const child of stanza.childElements()) {
    const ns = child.attrs.xmlns;
    if (ns === NS_CHATSTATES) chatState = true;
    else if (ns !== NS_HINTS && !(ns === undefined && child.name === "thread")) content = true;
  }
  if (chatState && !content) return "discard";
  return "store";
}

/** XEP-0203 §3: when and by whom the message was held. */
export function delayElement(from: string, whenMs: number): Element {
  return new Element("delay", { xmlns: NS_DELAY, from, stamp: xmppDateTime(whenMs) });
}
