// Upload authorizations: a compact JWT (HS256) signed with the component's secret, carried in the
// PUT request's `Authorization: Bearer …` header. It names the slot, the file and the uploader, and
// expires.

import { createHmac, timingSafeEqual } from "node:crypto";

export interface UploadGrant {
  sub: string; // the uploader's bare JID
  slot: string;
  filename: string;
  filesize: number;
  filetype: string;
  exp: number; // seconds since the epoch
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString("base64url");
const HEADER = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));

function sign(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url");
}

export function createToken(secret: string, grant: UploadGrant): string {
  const body = `${HEADER}.${b64(JSON.stringify(grant))}`;
  return `${body}.${sign(secret, body)}`;
}

/** The grant of a valid, unexpired token; undefined otherwise. */
export function verifyToken(secret: string, token: string, now = Date.now() / 1000): UploadGrant | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
  const expected = Buffer.from(sign(secret, `${parts[0]}.${parts[1]}`));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  let grant: UploadGrant;
  try {
    grant = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as UploadGrant;
  } catch {
    return undefined;
  }
  if (typeof grant !== "object" || grant === null) return undefined;
  if (typeof grant.exp !== "number" || grant.exp < now) return undefined;
  if (typeof grant.slot !== "string" || typeof grant.filesize !== "number" || typeof grant.filetype !== "string") return undefined;
  return grant;
}
