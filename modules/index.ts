// The modules Herald ships, by the name used in `modules_enabled` and `Component "x" "name"`.

import type { ModuleRegistry } from "../src/modules/api.js";

export const registry: ModuleRegistry = {
  disco: () => import("./mod_disco/index.js"),
  ping: () => import("./mod_ping/index.js"),
  // [im-roster-presence]
  // [im-messages]
  // [im-services]
  // [pubsub]
};
