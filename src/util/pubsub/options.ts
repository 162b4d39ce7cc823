// Subscription options (pubsub#subscribe_options, XEP-0060 §6.3): defaults, form parsing,
// validation, and lease clamping (§12.18).

import { fail, ok } from "./errors.js";
import { parseBoolean } from "./config.js";
import type { Result, SubscriptionOptions } from "./types.js";

export const DEFAULT_SUBSCRIPTION_OPTIONS: Readonly<SubscriptionOptions> = Object.freeze({
  deliver: true,
  includeBody: false,
});

/** pubsub#show-values options (XEP-0060 §16.4.2). */
export const SHOW_VALUES: readonly string[] = ["away", "chat", "dnd", "online", "xa"];

export const SUBSCRIPTION_OPTION_VARS = {
  deliver: "pubsub#deliver",
  includeBody: "pubsub#include_body",
  expire: "pubsub#expire",
  showValues: "pubsub#show-values",
} as const satisfies Record<keyof SubscriptionOptions, string>;

/**
 * Parse submitted pubsub#subscribe_options values. pubsub#expire is an XEP-0082 dateTime or the
 * literal "presence" (§12.17). Unknown fields and bad values -> invalid-options (§6.3.5).
 */
export function parseSubscriptionOptionsForm(
  fields: Readonly<Record<string, string | string[]>>,
): Result<Partial<SubscriptionOptions>> {
  const out: Partial<SubscriptionOptions> = {};
  for (const [name, raw] of Object.entries(fields)) {
    const value = Array.isArray(raw) ? (raw[0] ?? "") : raw;
    switch (name) {
      case "FORM_TYPE":
        break;
      case "pubsub#deliver":
      case "pubsub#include_body": {
        const b = parseBoolean(value.trim());
        if (b === undefined) return fail("invalid-options", `${name}: not a boolean`);
        if (name === "pubsub#deliver") out.deliver = b;
        else out.includeBody = b;
        break;
      }
      case "pubsub#expire": {
        if (value === "presence") {
          out.expire = "presence";
          break;
        }
        const t = Date.parse(value);
        if (value === "" || Number.isNaN(t)) return fail("invalid-options", `${name}: not a dateTime`);
        out.expire = t;
        break;
      }
      case "pubsub#show-values":
        out.showValues = Array.isArray(raw) ? [...raw] : raw === "" ? [] : [raw];
        break;
      default:
        return fail("invalid-options", `${name}: unknown field`);
    }
  }
  return validateSubscriptionOptions(out);
}

/** Type-check a typed partial; anything wrong -> invalid-options. */
export function validateSubscriptionOptions(
  partial: Readonly<Record<string, unknown>>,
): Result<Partial<SubscriptionOptions>> {
  for (const [key, v] of Object.entries(partial)) {
    if (v === undefined) continue;
    switch (key) {
      case "deliver":
      case "includeBody":
        if (typeof v !== "boolean") return fail("invalid-options", `${key}: not a boolean`);
        break;
      case "expire":
        if (v !== "presence" && !(typeof v === "number" && Number.isFinite(v))) {
          return fail("invalid-options", "expire: not a time or presence");
        }
        break;
      case "showValues":
        if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && SHOW_VALUES.includes(s))) {
          return fail("invalid-options", "show-values: not a list of show values");
        }
        break;
      default:
        return fail("invalid-options", `${key}: unknown option`);
    }
  }
  return ok(partial as Partial<SubscriptionOptions>);
}

/**
 * Merge options, shortening a lease beyond the service's longest to now + that maximum
 * (XEP-0060 §12.18: "MUST change the value of the field").
 */
export function mergeSubscriptionOptions(
  base: Readonly<SubscriptionOptions>,
  partial: Partial<SubscriptionOptions>,
  now: number,
  maxLeaseSeconds: number | undefined,
): SubscriptionOptions {
  const merged: SubscriptionOptions = { ...base };
  if (base.showValues) merged.showValues = [...base.showValues];
  for (const [key, v] of Object.entries(partial)) {
    const target = merged as unknown as Record<string, unknown>;
    if (v === undefined) delete target[key];
    else target[key] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  if (maxLeaseSeconds !== undefined && typeof merged.expire === "number") {
    merged.expire = Math.min(merged.expire, now + maxLeaseSeconds * 1000);
  }
  return merged;
}

export function sameSubscriptionOptions(a: Readonly<SubscriptionOptions>, b: Readonly<SubscriptionOptions>): boolean {
  const show = (o: Readonly<SubscriptionOptions>) => (o.showValues ? [...o.showValues].sort().join(",") : undefined);
  return a.deliver === b.deliver && a.includeBody === b.includeBody && a.expire === b.expire && show(a) === show(b);
}

/** Is the lease over? "presence" leases end through PubsubService.onUnavailable. */
export function leaseExpired(options: Readonly<SubscriptionOptions>, now: number): boolean {
  return typeof options.expire === "number" && options.expire <= now;
}
