export {
  CONCLAVE_GUARANTEES,
  type ConclaveConnection,
  ConclaveLockBackend,
  type ConclaveLockBackendOptions,
} from "./backend.js";
export type { ConclaveKeyspaceClient } from "./client-port.js";
