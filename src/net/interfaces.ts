// Which addresses each listening service binds, exactly as Prosody's portmanager decides:
//
//   <service>_interfaces, else <service>_interface (pre-0.9 spelling),
//   else, for a private service, local_interfaces or { "127.0.0.1", "::1" },
//   else interfaces, else interface,
//   else { "*", "::" } (without "*" when use_ipv4 = false, without "::" when use_ipv6 = false).
//
// A service never inherits another service's interfaces: c2s_interfaces says nothing about
// c2s_direct_tls, http or https. Plain HTTP ("http") and external components ("component") are
// private, so they listen on loopback unless http_interfaces / component_interfaces (or
// local_interfaces) say otherwise; https is not. "*" is every IPv4 address,
// "::" every IPv6 address.

import type { OptionReader } from "../config/options.js";

export type Service = "c2s" | "c2s_direct_tls" | "http" | "https" | "s2s" | "s2s_direct_tls" | "component";

/** Services Prosody marks private: plain HTTP and external components (XEP-0114) listen on loopback by default. */
const PRIVATE: ReadonlySet<Service> = new Set(["http", "component"]);

export interface BindAddress {
  /** What the configuration says ("*", "::", "127.0.0.1", ...). */
  name: string;
  /** What Node listens on. */
  host: string;
  ipv6Only: boolean;
}

/** The interface names a service binds and the option they come from ("default" when none). */
export function serviceInterfaces(g: OptionReader, service: Service): { names: string[]; from: string } {
  const candidates = [`${service}_interfaces`, `${service}_interface`];
  if (PRIVATE.has(service)) candidates.push("local_interfaces");
  for (const option of candidates) if (g.has(option)) return { names: g.array(option), from: option };
  if (PRIVATE.has(service)) return { names: defaults(g, ["127.0.0.1", "::1"]), from: "default (loopback: a private service)" };
  for (const option of ["interfaces", "interface"]) if (g.has(option)) return { names: g.array(option), from: option };
  return { names: defaults(g, ["*", "::"]), from: "default" };
}

function defaults(g: OptionReader, [v4, v6]: [string, string]): string[] {
  const out: string[] = [];
  if (g.boolean("use_ipv4", true)) out.push(v4);
  if (g.boolean("use_ipv6", true)) out.push(v6);
  return out;
}

export function bindAddress(name: string): BindAddress {
  if (name === "*") return { name, host: "0.0.0.0", ipv6Only: false };
  if (name === "::") return { name, host: "::", ipv6Only: true };
  return { name, host: name, ipv6Only: false };
}
