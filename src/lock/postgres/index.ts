export {
  POSTGRES_ADVISORY_GUARANTEES,
  PostgresAdvisoryLockBackend,
  type PostgresAdvisoryLockBackendOptions,
} from "./advisory.js";
export {
  POSTGRES_GUARANTEES,
  PostgresLockBackend,
  type PostgresLockBackendOptions,
} from "./backend.js";
export type { PostgresConnection } from "./connection.js";
