import type pg from "pg";
import { CallTimeouts } from "../timeout.js";
import { positiveInteger } from "../validate.js";
import { openPool, type PostgresConnection } from "./connection.js";
import { ensureSchema, type SqlNames, sqlNames } from "./schema.js";

/** The options both PostgreSQL backends take to reach their tables. */
export interface LockTablesOptions {
  readonly connection: PostgresConnection;
  readonly schema?: string;
  readonly tablePrefix?: string;
  readonly operationTimeoutMs?: number;
}

/**
 * A backend's way to its tables: the pool, the validated SQL names, calls
 * bounded by operationTimeoutMs, and the schema created on first use.
 */
export class LockTables {
  readonly pool: pg.Pool;
  /** True when the backend created the pool and so ends it on close. */
  readonly ownsPool: boolean;
  readonly names: SqlNames;
  readonly #schema: string;
  readonly #timeouts: CallTimeouts;
  #ready: Promise<void> | undefined;

  /** `backend` names it in BackendUnavailableError ("postgres", "postgres-advisory"). */
  constructor(backend: string, options: LockTablesOptions) {
    this.#schema = options.schema ?? "public";
    this.names = sqlNames(this.#schema, options.tablePrefix ?? "conclave_lock");
    this.#timeouts = new CallTimeouts(
      backend,
      positiveInteger(options.operationTimeoutMs ?? 5000, "operationTimeoutMs"),
    );
    const { pool, owned } = openPool(options.connection);
    this.pool = pool;
    this.ownsPool = owned;
  }

  /** Runs one call to the database within operationTimeoutMs. */
  call<T>(lockName: string | undefined, call: () => Promise<T>): Promise<T> {
    return this.#timeouts.run(lockName, call);
  }

  /** Creates the tables once; a failed attempt is tried again on the next call. */
  ensureSchema(lockName: string): Promise<void> {
    this.#ready ??= this.call(lockName, () => ensureSchema(this.pool, this.names, this.#schema));
    const ready = this.#ready;
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }
}
