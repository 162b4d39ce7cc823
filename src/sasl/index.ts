// SASL for Herald: server mechanisms, credentials, SASLprep, and a SCRAM client for tests.

export { saslprep, SaslprepError } from "./saslprep.js";
export {
  deriveCredentials,
  deriveScramKeys,
  verifyPassword,
  DEFAULT_SCRAM_ITERATIONS,
  SCRAM_HASHES,
  type ScramHash,
  type ScramKeys,
  type StoredCredentials,
} from "./credentials.js";
export {
  createMechanism,
  listMechanisms,
  PLAIN,
  SCRAM_SHA_1,
  SCRAM_SHA_256,
  type MechanismOptions,
  type SaslBackend,
  type SaslChannel,
  type SaslFailure,
  type SaslMechanism,
  type SaslStep,
} from "./mechanism.js";
export { scramClient, type ScramClient } from "./client.js";
