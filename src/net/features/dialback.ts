// Stream feature: server dialback (XEP-0220) on a receiving server stream (Prosody's mod_dialback):
// offered as <dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback> once the stream is
// encrypted (or encryption is not required); <db:result/> asks to authenticate a domain (verified
// with its authoritative server, or at once when its certificate is valid for it), <db:verify/>
// asks whether a key this server generated is right. Keys per XEP-0185.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { S2SInStream } from "../s2s.js";
import type { FeatureProvider } from "../stream.js";

export const NS_DIALBACK = "jabber:server:dialback";
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";

/** XEP-0185 §3: HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' + stream id), hex. */
export function dialbackKey(secret: string, receiving: string, originating: string, streamId: string): string {
  const k = createHash("sha256").update(secret).digest("hex");
  return createHmac("sha256", k).update(`${receiving} ${originating} ${streamId}`).digest("hex");
}

export function keysEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const dialbackFeature: FeatureProvider<S2SInStream> = {
  name: "dialback",
  namespaces: [NS_DIALBACK],
  offer(stream, features) {
    if (stream.encryptionRequired && !stream.secure) return;
    features.tag("dialback", { xmlns: NS_DIALBACK_FEATURE }).tag("errors").up().up();
  },
  handle: (stream, el) => stream.handleDialback(el),
};
