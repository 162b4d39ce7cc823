// XEP-0215: External Service Discovery (STUN/TURN and the like), configured as in Prosody:
//
//   external_service_host = "turn.example.com"     -- default host of every service (the VirtualHost)
//   external_service_port = 3478                  -- default port
//   external_service_secret = "..."                -- shared secret for `secret = true` services
//   external_service_ttl = 86400                   -- lifetime of generated credentials, seconds
//   external_services = { { type = "turn"; transport = "udp"; secret = true }; ... }
//   external_service_access = { }                  -- JIDs/hosts allowed; empty: this host's users
//
// Services are prepared at each request, so TURN credentials are always fresh.

import { defineModule, type IqEvent } from "../../src/modules/api.js";
import { ConfigTable } from "../../src/config/options.js";
import { isClientSession } from "../../src/router/router.js";
import { jidBare, jidHost } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { prepareService, serviceElement, type Service, type ServiceConfig, type ServiceDefaults } from "./services.js";

export const NS_EXTDISCO = "urn:xmpp:extdisco:2";
/** COMPAT: XEP-0215 v0.6. */
export const NS_EXTDISCO_1 = "urn:xmpp:extdisco:1";

export default defineModule({
  load(module) {
    const o = module.options;
    const defaults: ServiceDefaults = {
      host: o.string("external_service_host", module.host),
      port: o.integer("external_service_port", undefined, { min: 1, max: 65535 }),
      secret: o.string("external_service_secret"),
      ttl: o.integer("external_service_ttl", 86400, { min: 1 }),
    };
    const access = o.set("external_service_access");

    const configured: ServiceConfig[] = [];
    const raw = o.raw("external_services");
    if (raw !== undefined) {
      if (!(raw instanceof ConfigTable)) module.log.error("external_services must be a list of service tables");
      else {
        for (const entry of raw.array) {
          if (!(entry instanceof ConfigTable)) {
            module.log.error(`external_services: a service must be a table, not ${String(entry)}`);
            continue;
          }
          configured.push(Object.fromEntries(entry.keys().map((k) => [k, entry.get(k)])) as ServiceConfig);
        }
      }
    }

    const services = (): Service[] => {
      const now = Math.floor(Date.now() / 1000);
      const out: Service[] = [];
      for (const item of configured) {
        const srv = prepareService(item, defaults, now);
        if (typeof srv !== "string") out.push(srv);
      }
      return out;
    };
    // Say at load what is wrong with the configuration, not at the first request.
    let usable = 0;
    for (const item of configured) {
      const srv = prepareService(item, defaults, 0);
      if (typeof srv === "string") module.log.error(`external_services: ${srv}`);
      else usable++;
    }
    // Nothing configured is a valid setup (an empty list, as on the embedded default); a list of
    // which nothing is usable is a mistake.
    if (configured.length === 0) module.log.info("No external services configured: the list is empty");
    else if (usable === 0) module.log.warn("None of the configured external services is usable");

    const allowed = (ev: IqEvent): boolean => {
      const from = ev.stanza.attrs.from ?? "";
      if (access.size === 0) return isClientSession(ev.origin);
      return access.has(jidBare(from)) || access.has(jidHost(from));
    };

    // XEP-0215 §3.1 (all services) and §3.2 (services of one type).
    const handleServices = (ev: IqEvent) => {
      if (!allowed(ev)) return new StanzaError("auth", "forbidden");
      const action = ev.payload;
      const wanted = action.attrs.type;
      const out = new Element("services", { xmlns: action.attrs.xmlns! });
      for (const srv of services()) if (wanted === undefined || srv.type === wanted) out.add(serviceElement(srv));
      return out;
    };

    // XEP-0215 §3.3: credentials of restricted services, each asked for by type and host (and port).
    const handleCredentials = (ev: IqEvent) => {
      if (!allowed(ev)) return new StanzaError("auth", "forbidden");
      const action = ev.payload;
      const requests = action.childElements("service");
      if (requests.length === 0 || requests.some((s) => s.attrs.type === undefined || s.attrs.host === undefined)) {
        return new StanzaError("modify", "bad-request", "Ask for services by type and host");
      }
      const restricted = services().filter((s) => s.restricted);
      const out = new Element("credentials", { xmlns: action.attrs.xmlns! });
      for (const req of requests) {
        const port = req.attrs.port === undefined ? undefined : Number(req.attrs.port);
        for (const srv of restricted) {
          if (srv.type === req.attrs.type && srv.host === req.attrs.host && (port === undefined || srv.port === port)) out.add(serviceElement(srv));
        }
      }
      return out;
    };

    for (const ns of [NS_EXTDISCO, NS_EXTDISCO_1]) {
      module.addFeature(ns);
      module.iq.get(ns, "services", handleServices);
      module.iq.get(ns, "credentials", handleCredentials);
    }
  },
});
