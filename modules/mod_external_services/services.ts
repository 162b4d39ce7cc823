// XEP-0215 service records from the configuration, the way Prosody builds them, and the TURN REST
// credentials (draft-uberti-behave-turn-rest-00 §2.2): username = expiry timestamp (optionally
// "<expiry>:<user>"), password = base64(HMAC-SHA1(secret, username)).

import { createHmac } from "node:crypto";
import { xmppDateTime } from "../../src/util/datetime.js";
import { Element } from "../../src/xml/stanza.js";

/** One entry of `external_services`, as read from the config. */
export interface ServiceConfig {
  type?: unknown;
  transport?: unknown;
  host?: unknown;
  port?: unknown;
  username?: unknown;
  password?: unknown;
  restricted?: unknown;
  expires?: unknown;
  ttl?: unknown;
  secret?: unknown;
  algorithm?: unknown;
}

export interface ServiceDefaults {
  host: string;
  port?: number;
  secret?: string;
  /** Lifetime of generated credentials, seconds. */
  ttl: number;
}

export interface Service {
  type: string;
  transport?: string;
  host: string;
  port?: number;
  username?: string;
  password?: string;
  restricted?: boolean;
  /** Seconds since the epoch. */
  expires?: number;
}

export function turnRestCredentials(secret: string, expires: number, user?: string): { username: string; password: string } {
  const username = user === undefined ? String(expires) : `${expires}:${user}`;
  return { username, password: createHmac("sha1", secret).update(username).digest("base64") };
}

/** Algorithms that derive credentials from a shared secret, by name (or by service type). */
const ALGORITHMS: Record<string, true> = { turn: true, turns: true };

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** A service record from a config entry; an error text when the entry is unusable. */
export function prepareService(item: ServiceConfig, defaults: ServiceDefaults, nowSeconds: number): Service | string {
  const type = str(item.type);
  if (type === undefined) return "a service needs a 'type'";
  const srv: Service = { type, host: str(item.host) ?? defaults.host };
  const transport = str(item.transport);
  if (transport !== undefined) srv.transport = transport;
  const port = num(item.port) ?? defaults.port;
  if (port !== undefined) srv.port = port;
  const username = str(item.username);
  if (username !== undefined) srv.username = username;
  const password = str(item.password);
  if (password !== undefined) {
    srv.password = password;
    srv.restricted = true;
  }
  if (item.restricted === true) srv.restricted = true;
  const expires = num(item.expires);
  const ttl = num(item.ttl);
  if (expires !== undefined) srv.expires = expires;
  else if (ttl !== undefined) srv.expires = nowSeconds + ttl;

  const secret = item.secret === true ? defaults.secret : str(item.secret);
  const algorithm = str(item.algorithm) ?? type;
  if (secret !== undefined && ALGORITHMS[algorithm]) {
    const until = srv.expires ?? nowSeconds + (ttl ?? defaults.ttl);
    const creds = turnRestCredentials(secret, Math.floor(until), username);
    srv.username = creds.username;
    srv.password = creds.password;
    srv.restricted = true;
  }
  return srv;
}


/** XEP-0215 §3 <service/>. */
export function serviceElement(srv: Service): Element {
  const attrs: Record<string, string> = { type: srv.type };
  if (srv.transport !== undefined) attrs.transport = srv.transport;
  attrs.host = srv.host;
  if (srv.port !== undefined) attrs.port = String(Math.trunc(srv.port));
  if (srv.username !== undefined) attrs.username = srv.username;
  if (srv.password !== undefined) attrs.password = srv.password;
  if (srv.expires !== undefined) attrs.expires = xmppDateTime(srv.expires * 1000);
  if (srv.restricted) attrs.restricted = "1";
  return new Element("service", attrs);
}
