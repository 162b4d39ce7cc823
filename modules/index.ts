// The modules Herald ships, by the name used in `modules_enabled` and `Component "x" "name"`.

import type { ModuleRegistry } from "../src/modules/api.js";
import { autoloadModules, builtinModules, componentAutoloadModules, externalComponentAutoloadModules } from "./defaults.js";

export { autoloadModules, builtinModules, componentAutoloadModules, externalComponentAutoloadModules, defaultConfigText } from "./defaults.js";

export const registry: ModuleRegistry = {
  disco: () => import("./mod_disco/index.js"),
  // [stream features]
  tls: () => import("./mod_tls/index.js"),
  saslauth: () => import("./mod_saslauth/index.js"),
  bind: () => import("./mod_bind/index.js"),
  dialback: () => import("./mod_dialback/index.js"),
  s2s: () => import("./mod_s2s/index.js"),
  component: () => import("./mod_component/index.js"),
  ping: () => import("./mod_ping/index.js"),
  // [im-roster-presence]
  roster: () => import("./mod_roster/index.js"),
  presence: () => import("./mod_presence/index.js"),
  // [im-messages]
  message: () => import("./mod_message/index.js"),
  offline: () => import("./mod_offline/index.js"),
  carbons: () => import("./mod_carbons/index.js"),
  blocklist: () => import("./mod_blocklist/index.js"),
  // [mam]
  mam: () => import("./mod_mam/index.js"),
  // [im-services]
  version: () => import("./mod_version/index.js"),
  time: () => import("./mod_time/index.js"),
  uptime: () => import("./mod_uptime/index.js"),
  lastactivity: () => import("./mod_lastactivity/index.js"),
  register: () => import("./mod_register/index.js"),
  vcard: () => import("./mod_vcard/index.js"),
  private: () => import("./mod_private/index.js"),
  server_contact_info: () => import("./mod_server_contact_info/index.js"),
  external_services: () => import("./mod_external_services/index.js"),
  http_openmetrics: () => import("./mod_http_openmetrics/index.js"),
  // [mobile]
  smacks: () => import("./mod_smacks/index.js"),
  csi_simple: () => import("./mod_csi_simple/index.js"),
  cloud_notify: () => import("./mod_cloud_notify/index.js"),
  // [pubsub]
  pubsub: () => import("./mod_pubsub/index.js"),
  pep: () => import("./mod_pep/index.js"),
  pubsub_post: () => import("./mod_pubsub_post/index.js"),
  pubsub_http: () => import("./mod_pubsub_http/index.js"),
  vcard_legacy: () => import("./mod_vcard_legacy/index.js"),
  vcard4: () => import("./mod_vcard4/index.js"),
  // [upload-tombstones-bookmarks]
  http_file_share: () => import("./mod_http_file_share/index.js"),
  tombstones: () => import("./mod_tombstones/index.js"),
  bookmarks: () => import("./mod_bookmarks/index.js"),
  // [muc]
  muc: () => import("./mod_muc/index.js"),
};

/** What the core needs to know of the modules Herald ships: `new Server({ config, ...shippedModules })`. */
export const shippedModules = { registry, builtinModules, autoloadModules, componentAutoloadModules, externalComponentAutoloadModules };
