// The pubsub service (XEP-0060), layer 1 of ARCHITECTURE.md §7: pure logic, no XML, no I/O.

export { PubsubService, type PubsubServiceDeps } from "./service.js";
export { MemoryPubsubStore, type PubsubStore, type ItemListQuery, type ItemDeleteQuery } from "./store.js";
export { PubsubEventBus, type PubsubBusEvents, type PubsubBusEventName, type NodeCreatedEvent } from "./bus.js";
export {
  PUBSUB_ERRORS,
  PUBSUB_ERRORS_NS,
  errorSpec,
  fail,
  ok,
  type PubsubErrorKey,
  type PubsubErrorSpec,
  type StanzaErrorType,
} from "./errors.js";
export {
  CAPABILITIES,
  accessModelAllows,
  checkCapability,
  grantOf,
  mayHoldSubscription,
  publishModelAllows,
  type AccessFacts,
  type Capability,
  type Grant,
} from "./acl.js";
export {
  COMPONENT_NODE_DEFAULTS,
  NODE_CONFIG_FIELDS,
  PEP_NODE_DEFAULTS,
  checkPreconditions,
  configFieldByVar,
  copyNodeConfig,
  effectiveMaxItems,
  effectiveMaxPayloadSize,
  itemLifetimeMs,
  mergeNodeConfig,
  nodeConfigToForm,
  parseBoolean,
  parseNodeConfigForm,
  resolveServiceConfig,
  validateNodeConfig,
  type NodeConfigField,
} from "./config.js";
export {
  DEFAULT_SUBSCRIPTION_OPTIONS,
  SHOW_VALUES,
  SUBSCRIPTION_OPTION_VARS,
  leaseExpired,
  mergeSubscriptionOptions,
  parseSubscriptionOptionsForm,
  validateSubscriptionOptions,
} from "./options.js";
export { pageByKey } from "./nodes.js";
export * from "./types.js";
