export {
  CONCLAVE_GUARANTEES,
  type ConclaveClientSecurity,
  type ConclaveConnection,
  ConclaveLockBackend,
  type ConclaveLockBackendOptions,
} from "./backend.js";
export type { ConclaveKeyspaceClient } from "./client-port.js";
