export {
  POSTGRES_GUARANTEES,
  PostgresLockBackend,
  type PostgresLockBackendOptions,
} from "./backend.js";
