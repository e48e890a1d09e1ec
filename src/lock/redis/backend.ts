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
import { type BackendGuarantees, LEASE_KINDS, type LeaderSnapshot } from "../types.js";
import { positiveInteger } from "../validate.js";
import { type AttemptOutcome, waitForGrant } from "../wait.js";
import { WakeChannels } from "./channels.js";
import { Redis, type RedisOptions } from "./driver.js";
import { validateKeyPrefix } from "./keys.js";
import { type LeaderRecord, RedisLeaseNode } from "./node.js";

export interface RedisLockBackendOptions {
  /**
   * An ioredis client to use (not closed by the backend), or connection
   * options / a redis:// URL for a client the backend creates and closes.
   */
  redis: Redis | RedisOptions | string;
  /** Prefix of every key. Default "conclave:lock". */
  keyPrefix?: string;
  /**
   * Grant waiters in arrival order through a queue kept in Redis (Redisson's
   * fair lock). Costs one more script step per attempt. Default false.
   */
  fair?: boolean;
  /** Fair queue: a waiter that has not retried for this long loses its place. Default 3000. */
  queueTtlMs?: number;
  /** A command without a reply after this long fails with BackendUnavailableError. Default 2000. */
  operationTimeoutMs?: number;
  /** Longest sleep between attempts while waiting (a missed notification costs at most this). Default 1000. */
  maxRetryDelayMs?: number;
  clock?: Clock;
}

export function redisGuarantees(fair: boolean): BackendGuarantees {
  return {
    backend: "redis",
    fencing: "strict",
    fair,
    reentrant: false,
    kinds: LEASE_KINDS,
    onHolderCrash: "expires-after-ttl",
    partition:
      "a holder cut off from Redis cannot renew; its signal fires a safety margin before the lease ends, after which Redis grants the lock to others",
  };
}

/**
 * Locks on one Redis server: SET NX PX with a random owner value, Lua
 * compare-and-extend and compare-and-delete, a per-name INCR fencing counter
 * in the same hash slot, release notifications over pub/sub, and an optional
 * fair queue. Fencing tokens are strictly increasing as long as Redis does not
 * lose writes (no failover to a lagging replica, persistence on restart).
 */
export class RedisLockBackend implements LockBackend<bigint> {
  readonly guarantees: BackendGuarantees;
  readonly clock: Clock;
  readonly node: RedisLeaseNode;
  readonly #channels: WakeChannels;
  readonly #ownsClient: boolean;
  readonly #queueTtlMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #fair: boolean;
  #closed = false;

  constructor(options: RedisLockBackendOptions) {
    const keyPrefix = validateKeyPrefix(options.keyPrefix ?? "conclave:lock");
    this.#fair = options.fair ?? false;
    this.#queueTtlMs = positiveInteger(options.queueTtlMs ?? 3000, "queueTtlMs");
    this.#maxRetryDelayMs = positiveInteger(options.maxRetryDelayMs ?? 1000, "maxRetryDelayMs");
    const operationTimeoutMs = positiveInteger(
      options.operationTimeoutMs ?? 2000,
      "operationTimeoutMs",
    );
    this.clock = options.clock ?? systemClock;
    this.guarantees = redisGuarantees(this.#fair);
    let redis: Redis;
    if (options.redis instanceof Redis) {
      redis = options.redis;
      this.#ownsClient = false;
    } else {
      redis =
        typeof options.redis === "string"
          ? new Redis(options.redis, { lazyConnect: false })
          : new Redis(options.redis);
      redis.on("error", () => {});
      this.#ownsClient = true;
    }
    this.node = new RedisLeaseNode({
      redis,
      keyPrefix,
      fair: this.#fair,
      queueTtlMs: this.#queueTtlMs,
      operationTimeoutMs,
      label: "redis",
    });
    this.#channels = new WakeChannels(() => redis.duplicate());
  }

  async acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    this.#checkOpen();
    // The uncontended fast path: one script call, no wait machinery.
    const first = await this.#attempt(request);
    if ("granted" in first) return first.granted;
    const keys = this.node.keys(request.kind, request.name);
    return waitForGrant<LeaseGrant<bigint>>({
      clock: this.clock,
      name: request.name,
      wait,
      first,
      attempt: () => this.#attempt(request),
      subscribe: (wake) => this.#channels.subscribe(keys.channel, wake),
      leave: this.#fair ? () => this.node.leaveQueue(request) : undefined,
      release: () => this.release(request).catch(() => {}),
    });
  }

  async #attempt(request: LeaseRequest): Promise<AttemptOutcome<LeaseGrant<bigint>>> {
    const startedMs = this.clock.now();
    const outcome = await this.node.tryGrant(request);
    if ("token" in outcome) {
      return { granted: { fencingToken: outcome.token, heldUntilMs: startedMs + request.ttlMs } };
    }
    // A fair waiter must come back before its place in the queue lapses.
    const cap = this.#fair ? Math.max(1, Math.floor(this.#queueTtlMs / 3)) : this.#maxRetryDelayMs;
    const hint = outcome.retryHintMs > 0 ? outcome.retryHintMs : cap;
    return { retryInMs: Math.min(hint, cap) };
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    this.#checkOpen();
    const startedMs = this.clock.now();
    if (!(await this.node.extend(lease, ttlMs))) {
      throw new LockLostError(lease.name, "Redis no longer records this owner (expired or taken)");
    }
    return { heldUntilMs: startedMs + ttlMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    this.#checkOpen();
    if (!(await this.node.release(lease))) throw new NotLockOwnerError(lease.name, "release");
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    this.#checkOpen();
    if (!(await this.node.proclaim(lease, value))) {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
  }

  async readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    this.#checkOpen();
    return toSnapshot(await this.node.readLeader(name));
  }

  observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    this.#checkOpen();
    return observeLeaderByPolling({
      clock: this.clock,
      signal,
      maxPollMs: this.#maxRetryDelayMs,
      read: async () => {
        const record = await this.node.readLeader(name);
        return { snapshot: toSnapshot(record), changesInMs: record?.pttlMs };
      },
      subscribe: (wake) => this.#channels.subscribe(this.node.keys("leader", name).channel, wake),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.close();
    if (this.#ownsClient) this.node.redis.disconnect();
  }

  /** Channels with live subscriptions (a leak check for tests). */
  get subscribedChannels(): number {
    return this.#channels.channelCount;
  }

  #checkOpen(): void {
    if (this.#closed) throw new LockClientClosedError("the Redis lock backend");
  }
}

function toSnapshot(record: LeaderRecord | undefined): LeaderSnapshot<bigint> | undefined {
  return record === undefined ? undefined : { value: record.value, fencingToken: record.token };
}
