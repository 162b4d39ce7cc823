// Dialback keys (XEP-0185), used by both directions of server streams.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

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
