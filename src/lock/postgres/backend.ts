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
import { LockClientClosedError, LockLostError, NotLockOwnerError } from "../errors.js";
import { observeLeaderByPolling } from "../observe.js";
import {
  type BackendGuarantees,
  LEASE_KINDS,
  type LeaderSnapshot,
  type LeaseKind,
} from "../types.js";
import { positiveInteger } from "../validate.js";
import { waitForGrant } from "../wait.js";
import { NotificationHub, type PostgresConnection } from "./connection.js";
import { LockTables } from "./tables.js";

export interface PostgresLockBackendOptions {
  /** A pg.Pool to use (not ended by the backend), or config / a connection string for one it owns. */
  connection: PostgresConnection;
  /** Schema holding the tables and functions. Default "public". */
  schema?: string;
  /** Prefix of the table and function names. Default "conclave_lock". */
  tablePrefix?: string;
  /** A call without a reply after this long fails with BackendUnavailableError. Default 5000. */
  operationTimeoutMs?: number;
  /** Longest sleep between attempts while waiting. Default 1000. */
  maxRetryDelayMs?: number;
  clock?: Clock;
}

export const POSTGRES_GUARANTEES: BackendGuarantees = {
  backend: "postgres",
  fencing: "strict",
  fair: false,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "a holder cut off from the database cannot renew; its signal fires a safety margin before the lease ends by the database clock, after which others are granted it",
};

const NAMESPACE: Record<LeaseKind, string> = {
  mutex: "mutex",
  read: "rw",
  write: "rw",
  semaphore: "sem",
  leader: "leader",
};

/**
 * Locks in a PostgreSQL lease table. A grant is a row with an expiry judged by
 * the database clock and a token from a per-name counter row locked in the
 * same transaction, so tokens strictly increase per name. Waiters sleep until
 * the earliest lease end or a NOTIFY on release. Not fair.
 */
export class PostgresLockBackend implements LockBackend<bigint> {
  readonly guarantees = POSTGRES_GUARANTEES;
  readonly clock: Clock;
  readonly #tables: LockTables;
  readonly #maxRetryDelayMs: number;
  readonly #hub: NotificationHub;
  #closed = false;

  constructor(options: PostgresLockBackendOptions) {
    // Validated before LockTables opens a pool, so bad input leaves no pool behind.
    this.#maxRetryDelayMs = positiveInteger(options.maxRetryDelayMs ?? 1000, "maxRetryDelayMs");
    this.#tables = new LockTables("postgres", options);
    this.clock = options.clock ?? systemClock;
    this.#hub = new NotificationHub(this.#tables.pool, this.#tables.names.channel);
  }

  async acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    await this.#prepare(request.name);
    const ns = NAMESPACE[request.kind];
    return waitForGrant<LeaseGrant<bigint>>({
      clock: this.clock,
      name: request.name,
      wait,
      attempt: async () => {
        const startedMs = this.clock.now();
        const result = await this.#query<{
          granted: boolean;
          token: string | null;
          retry_ms: string;
        }>(
          request.name,
          `SELECT granted, token, retry_ms FROM ${this.#tables.names.acquire}($1, $2, $3, $4, $5, $6, $7)`,
          [
            ns,
            request.name,
            request.kind,
            request.ownerId,
            request.ttlMs,
            request.permits ?? 1,
            request.value ?? null,
          ],
        );
        const row = result.rows[0];
        if (row?.granted === true && row.token !== null) {
          return {
            granted: { fencingToken: BigInt(row.token), heldUntilMs: startedMs + request.ttlMs },
          };
        }
        return {
          retryInMs: Math.min(
            Number(row?.retry_ms ?? this.#maxRetryDelayMs),
            this.#maxRetryDelayMs,
          ),
        };
      },
      subscribe: (wake) => this.#hub.subscribe(`${ns}:${request.name}`, wake),
      release: () => this.release(request).catch(() => {}),
    });
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    await this.#prepare(lease.name);
    const startedMs = this.clock.now();
    const result = await this.#query(
      lease.name,
      `UPDATE ${this.#tables.names.leases} SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
        WHERE ns = $1 AND name = $2 AND owner_id = $3 AND expires_at > clock_timestamp()`,
      [NAMESPACE[lease.kind], lease.name, lease.ownerId, ttlMs],
    );
    if (result.rowCount !== 1) {
      throw new LockLostError(lease.name, "the lease row expired or belongs to another owner");
    }
    return { heldUntilMs: startedMs + ttlMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    await this.#prepare(lease.name);
    const result = await this.#query<{ released: boolean }>(
      lease.name,
      `SELECT ${this.#tables.names.release}($1, $2, $3) AS released`,
      [NAMESPACE[lease.kind], lease.name, lease.ownerId],
    );
    if (result.rows[0]?.released !== true) throw new NotLockOwnerError(lease.name, "release");
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    await this.#prepare(lease.name);
    const result = await this.#query<{ ok: number }>(
      lease.name,
      `WITH updated AS (
         UPDATE ${this.#tables.names.leases} SET value = $3
          WHERE ns = 'leader' AND name = $1 AND owner_id = $2 AND expires_at > clock_timestamp()
          RETURNING 1)
       SELECT count(*)::int AS ok, pg_notify('${this.#tables.names.channel}', 'leader:' || $1::text)
         FROM updated`,
      [lease.name, lease.ownerId, value],
    );
    if (result.rows[0]?.ok !== 1) throw new NotLockOwnerError(lease.name, "proclaim on");
  }

  async readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    return (await this.#readLeader(name)).snapshot;
  }

  observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    return observeLeaderByPolling({
      clock: this.clock,
      signal,
      maxPollMs: this.#maxRetryDelayMs,
      read: () => this.#readLeader(name),
      subscribe: async (wake) => {
        await this.#prepare(name);
        return this.#hub.subscribe(`leader:${name}`, wake);
      },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#hub.close();
    if (this.#tables.ownsPool) await this.#tables.pool.end();
  }

  /** Notification listeners still registered (a leak check for tests). */
  get listenerCount(): number {
    return this.#hub.listenerCount;
  }

  async #readLeader(
    name: string,
  ): Promise<{ snapshot: LeaderSnapshot<bigint> | undefined; changesInMs?: number }> {
    await this.#prepare(name);
    const result = await this.#query<{ value: string | null; token: string; remaining_ms: string }>(
      name,
      `SELECT value, fencing_token AS token,
              ceil(extract(epoch FROM (expires_at - clock_timestamp())) * 1000)::bigint AS remaining_ms
         FROM ${this.#tables.names.leases}
        WHERE ns = 'leader' AND name = $1 AND expires_at > clock_timestamp()`,
      [name],
    );
    const row = result.rows[0];
    if (row === undefined) return { snapshot: undefined };
    return {
      snapshot: { value: row.value ?? "", fencingToken: BigInt(row.token) },
      changesInMs: Number(row.remaining_ms),
    };
  }

  #prepare(lockName: string): Promise<void> {
    if (this.#closed)
      return Promise.reject(new LockClientClosedError("the PostgreSQL lock backend"));
    return this.#tables.ensureSchema(lockName);
  }

  #query<R extends pg.QueryResultRow>(
    lockName: string,
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#tables.call(lockName, () => this.#tables.pool.query<R>(text, values));
  }
}
