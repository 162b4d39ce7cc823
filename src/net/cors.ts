// Which web origins may call an HTTP service, as Prosody 0.12+ decides it for its HTTP modules:
// on unless `http_default_cors_enabled = false`; the origins in `access_control_allow_origins` (none
// or "*": any); both overridden per service by `http_cors_override = { <service> = { enabled = …,
// origins = { … } } }`.

import { ConfigTable } from "../config/values.js";
import type { OptionReader } from "../config/options.js";

export interface CorsPolicy {
  enabled: boolean;
  /** The origins allowed; undefined: any. */
  origins?: ReadonlySet<string>;
}

/** The policy of `service`, starting from the global defaults or from `base` (a legacy option). */
export function corsPolicy(g: OptionReader, service: string, base?: { enabled: boolean; origins: string[] }): CorsPolicy {
  let enabled = base?.enabled ?? g.boolean("http_default_cors_enabled", true);
  let origins: string[] = base?.origins ?? g.array("access_control_allow_origins", []);
  const override = g.table("http_cors_override")?.get(service);
  if (override instanceof ConfigTable) {
    const e = override.get("enabled");
    if (typeof e === "boolean") enabled = e;
    const o = override.get("origins");
    if (o instanceof ConfigTable) origins = o.array.map(String);
    else if (typeof o === "string") origins = [o];
  }
  return { enabled, origins: origins.length === 0 || origins.includes("*") ? undefined : new Set(origins) };
}

/** May a request from `origin` (undefined: no Origin header) be answered with CORS headers? */
export function corsAllows(policy: CorsPolicy, origin: string | undefined): boolean {
  return policy.enabled && (policy.origins === undefined || (origin !== undefined && policy.origins.has(origin)));
}
