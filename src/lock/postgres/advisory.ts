import { createHash } from "node:crypto";
import type pg from "pg";
import type {
  LeaseGrant,
  LeaseRef,
  LeaseRenewal,
  LeaseRequest,
  LockBackend,
  WaitControl,
} from "../backend.js";
import { type Clock, systemClock } from "../clock.js";
import {
  BackendUnavailableError,
  LockAbortedError,
  LockClientClosedError,
  LockLostError,
  LockTimeoutError,
  NotLockOwnerError,
  UnsupportedByBackendError,
} from "../errors.js";
import type { BackendGuarantees, LeaderSnapshot, LeaseKind } from "../types.js";
import { discardClient, type PostgresConnection } from "./connection.js";
import { LockTables } from "./tables.js";

export interface PostgresAdvisoryLockBackendOptions {
  /** A pg.Pool to use (not ended by the backend), or config / a connection string for one it owns. Each held lock pins one connection. */
  connection: PostgresConnection;
  /** Schema of the fencing-counter table. Default "public". */
  schema?: string;
  /** Prefix of the table names. Default "conclave_lock". */
  tablePrefix?: string;
  /** A call without a reply after this long fails with BackendUnavailableError. Default 5000. */
  operationTimeoutMs?: number;
  clock?: Clock;
}

export const POSTGRES_ADVISORY_GUARANTEES: BackendGuarantees = {
  backend: "postgres-advisory",
  fencing: "strict",
  fair: false,
  reentrant: false,
  kinds: ["mutex", "read", "write"],
  onHolderCrash: "released-on-disconnect",
  partition:
    "the lock lives in the holder's session; the server ends a session idle for ttlMs (idle_session_timeout), freeing the lock, and the holder's signal fires a safety margin before",
};

/** A held advisory lock and the session it lives in. */
interface Session {
  readonly client: pg.PoolClient;
  readonly key: string;
  readonly shared: boolean;
  readonly lost: AbortController;
  /** Removes the connection-loss listeners before the client goes back to the pool. */
  readonly detach: () => void;
}

const LOCK_NOT_AVAILABLE = "55P03";
const QUERY_CANCELED = "57014";

/**
 * Session-level advisory locks (pg_advisory_lock): the lock belongs to a
 * database session that this backend keeps open while the lock is held.
 * A crashed holder's locks are freed as soon as the server sees its
 * connection close. Each grant sets idle_session_timeout to ttlMs, so a
 * holder that stops renewing (hung, partitioned) loses its session, and with
 * it the lock, ttlMs after its last renewal. Read-write locks use the shared
 * variants; semaphores and elections are not offered (use PostgresLockBackend).
 */
export class PostgresAdvisoryLockBackend implements LockBackend<bigint> {
  readonly guarantees = POSTGRES_ADVISORY_GUARANTEES;
  readonly clock: Clock;
  readonly #tables: LockTables;
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(options: PostgresAdvisoryLockBackendOptions) {
    this.#tables = new LockTables("postgres-advisory", options);
    this.clock = options.clock ?? systemClock;
  }

  async acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    this.#checkKind(request.kind);
    await this.#tables.ensureSchema(request.name);
    const client = await this.#tables.call(request.name, () => this.#tables.pool.connect());
    const shared = request.kind === "read";
    const key = advisoryKey(request.kind, request.name);
    const lost = new AbortController();
    const onConnectionLost = () => lost.abort();
    client.on("error", onConnectionLost);
    client.on("end", onConnectionLost);
    const detach = () => {
      client.off("error", onConnectionLost);
      client.off("end", onConnectionLost);
    };
    let granted = false;
    try {
      const fn = shared ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock";
      const tried = await this.#tables.call(request.name, () =>
        client.query<{ ok: boolean }>(`SELECT ${fn}($1::bigint) AS ok`, [key]),
      );
      if (tried.rows[0]?.ok !== true) await this.#waitBlocking(client, request, wait, key, shared);
      if (wait.signal.aborted) {
        await this.#unlock(client, key, shared).catch(() => {});
        throw new LockAbortedError(request.name, { cause: wait.signal.reason });
      }
      // Renewal and fencing in one statement: the idle timer restarts when it completes.
      const startedMs = this.clock.now();
      const fenced = await this.#tables.call(request.name, () =>
        client.query<{ token: string }>(
          `WITH bumped AS (
             INSERT INTO ${this.#tables.names.fences} AS f (ns, name, last_token) VALUES ($1, $2, 1)
               ON CONFLICT (ns, name) DO UPDATE SET last_token = f.last_token + 1
               RETURNING last_token)
           SELECT set_config('idle_session_timeout', $3, false), (SELECT last_token FROM bumped) AS token`,
          [
            `advisory-${request.kind === "mutex" ? "mutex" : "rw"}`,
            request.name,
            String(request.ttlMs),
          ],
        ),
      );
      granted = true;
      this.#sessions.set(request.ownerId, { client, key, shared, lost, detach });
      return {
        fencingToken: BigInt(fenced.rows[0]!.token),
        heldUntilMs: startedMs + request.ttlMs,
        lost: lost.signal,
      };
    } finally {
      if (!granted) {
        detach();
        // The session may hold a half-granted lock or changed settings: do not reuse it.
        discardClient(client);
      }
    }
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    const session = this.#sessions.get(lease.ownerId);
    if (session === undefined || session.lost.signal.aborted) {
      throw new LockLostError(lease.name, "the session holding the advisory lock has ended");
    }
    const startedMs = this.clock.now();
    await this.#tables.call(lease.name, () =>
      session.client.query("SELECT set_config('idle_session_timeout', $1, false)", [String(ttlMs)]),
    );
    return { heldUntilMs: startedMs + ttlMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    const session = this.#sessions.get(lease.ownerId);
    if (session === undefined) throw new NotLockOwnerError(lease.name, "release");
    this.#sessions.delete(lease.ownerId);
    session.detach();
    if (session.lost.signal.aborted) {
      discardClient(session.client);
      throw new NotLockOwnerError(lease.name, "release");
    }
    let unlocked = false;
    try {
      unlocked = await this.#unlock(session.client, session.key, session.shared);
    } finally {
      if (unlocked) session.client.release();
      else discardClient(session.client);
    }
    if (!unlocked) throw new NotLockOwnerError(lease.name, "release");
  }

  async proclaim(lease: LeaseRef): Promise<void> {
    throw this.#noElections(lease.name);
  }

  async readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    throw this.#noElections(name);
  }

  observeLeader(name: string): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    throw this.#noElections(name);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Closing the sessions frees their locks, as a crash would.
    for (const session of this.#sessions.values()) {
      session.detach();
      discardClient(session.client);
    }
    this.#sessions.clear();
    if (this.#tables.ownsPool) await this.#tables.pool.end();
  }

  async #waitBlocking(
    client: pg.PoolClient,
    request: LeaseRequest,
    wait: WaitControl,
    key: string,
    shared: boolean,
  ): Promise<void> {
    const remainingMs = wait.deadlineMs - this.clock.now();
    if (remainingMs <= 0) throw new LockTimeoutError(request.name, wait.waitMs);
    if (wait.signal.aborted)
      throw new LockAbortedError(request.name, { cause: wait.signal.reason });
    const lockTimeout = Number.isFinite(remainingMs)
      ? String(Math.max(1, Math.ceil(remainingMs)))
      : "0";
    await this.#tables.call(request.name, () =>
      client.query("SELECT set_config('lock_timeout', $1, false)", [lockTimeout]),
    );
    wait.onQueued();
    // Cancelling the waiting query is the only way to stop a blocked pg_advisory_lock.
    const pid = (client as unknown as { processID: number }).processID;
    const cancel = () => {
      this.#tables.pool.query("SELECT pg_cancel_backend($1)", [pid]).catch(() => {});
    };
    wait.signal.addEventListener("abort", cancel, { once: true });
    try {
      const fn = shared ? "pg_advisory_lock_shared" : "pg_advisory_lock";
      await client.query(`SELECT ${fn}($1::bigint)`, [key]);
      await client.query("SELECT set_config('lock_timeout', '0', false)");
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(request.name, wait.waitMs);
      if (code === QUERY_CANCELED && wait.signal.aborted) {
        throw new LockAbortedError(request.name, { cause: wait.signal.reason });
      }
      const detail = error instanceof Error ? error.message : String(error);
      throw new BackendUnavailableError("postgres-advisory", detail, request.name, {
        cause: error,
      });
    } finally {
      wait.signal.removeEventListener("abort", cancel);
    }
  }

  async #unlock(client: pg.PoolClient, key: string, shared: boolean): Promise<boolean> {
    const fn = shared ? "pg_advisory_unlock_shared" : "pg_advisory_unlock";
    const result = await this.#tables.call(undefined, () =>
      client.query<{ ok: boolean }>(
        `SELECT ${fn}($1::bigint) AS ok, set_config('idle_session_timeout', '0', false)`,
        [key],
      ),
    );
    return result.rows[0]?.ok === true;
  }

  #checkKind(kind: LeaseKind): void {
    if (this.#closed) throw new LockClientClosedError("the PostgreSQL advisory lock backend");
    if (!this.guarantees.kinds.includes(kind)) {
      throw new UnsupportedByBackendError(
        "postgres-advisory",
        kind === "semaphore" ? "semaphores" : "elections",
        "advisory locks are exclusive or shared only; use PostgresLockBackend",
      );
    }
  }

  #noElections(name: string): UnsupportedByBackendError {
    void name;
    return new UnsupportedByBackendError(
      "postgres-advisory",
      "elections",
      "advisory locks carry no value to observe; use PostgresLockBackend",
    );
  }
}

/** A 64-bit advisory key per (namespace, name); mutex and read-write lock of one name differ. */
function advisoryKey(kind: LeaseKind, name: string): string {
  const namespace = kind === "mutex" ? "mutex" : "rw";
  const digest = createHash("sha256").update(`conclave:${namespace}\u0000${name}`).digest();
  return digest.readBigInt64BE(0).toString();
}
