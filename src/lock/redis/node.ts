import type { Redis } from "ioredis";
import type { LeaseRef, LeaseRequest } from "../backend.js";
import { CallTimeouts } from "../timeout.js";
import { type ResourceKeys, resourceKeys } from "./keys.js";
import {
  ACQUIRE,
  ACQUIRE_MUTEX_FAST,
  EXTEND,
  LEAVE_QUEUE,
  OWNER_RECORD,
  PROCLAIM,
  READ_LEADER,
  RELEASE,
} from "./scripts.js";

export type GrantAttempt = { readonly token: bigint } | { readonly retryHintMs: number };

export interface LeaderRecord {
  readonly ownerId: string;
  readonly value: string;
  readonly token: bigint;
  readonly pttlMs: number;
}

export interface RedisNodeOptions {
  readonly redis: Redis;
  readonly keyPrefix: string;
  readonly fair: boolean;
  /** A fair-queue entry not refreshed for this long is dropped. */
  readonly queueTtlMs: number;
  /** A command without a reply after this long fails with BackendUnavailableError. */
  readonly operationTimeoutMs: number;
  /** Name in error messages ("redis", "redlock node 127.0.0.1:7001"). */
  readonly label: string;
}

/**
 * One Redis server as a lease store: every operation is one script call,
 * bounded by the operation timeout and mapped to typed errors. The single
 * Redis backend uses one node; Redlock uses several.
 */
export class RedisLeaseNode {
  readonly redis: Redis;
  readonly #options: RedisNodeOptions;
  readonly #timeouts: CallTimeouts;

  constructor(options: RedisNodeOptions) {
    this.redis = options.redis;
    this.#options = options;
    this.#timeouts = new CallTimeouts(options.label, options.operationTimeoutMs);
  }

  keys(kind: LeaseRef["kind"], name: string): ResourceKeys {
    return resourceKeys(this.#options.keyPrefix, kind, name);
  }

  async tryGrant(request: LeaseRequest): Promise<GrantAttempt> {
    const k = this.keys(request.kind, request.name);
    let reply: unknown;
    if (request.kind === "mutex" && !this.#options.fair) {
      reply = await this.#run(request.name, () =>
        ACQUIRE_MUTEX_FAST.run(this.redis, [k.main, k.fence], [request.ownerId, request.ttlMs]),
      );
    } else {
      reply = await this.#run(request.name, () =>
        ACQUIRE[request.kind].run(
          this.redis,
          [k.main, k.readers, k.fence, k.queue, k.queueDeadlines],
          [
            request.ownerId,
            request.ttlMs,
            this.#options.fair ? "1" : "0",
            this.#options.queueTtlMs,
            request.permits ?? 1,
            request.value ?? "",
            k.channel,
          ],
        ),
      );
    }
    const [granted, detail] = reply as [number, number];
    return granted === 1 ? { token: BigInt(detail) } : { retryHintMs: detail };
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<boolean> {
    const record = OWNER_RECORD[lease.kind];
    const k = this.keys(lease.kind, lease.name);
    const key = lease.kind === "read" ? k.readers : k.main;
    const reply = await this.#run(lease.name, () =>
      EXTEND[record].run(this.redis, [key], [lease.ownerId, ttlMs]),
    );
    return reply === 1;
  }

  async release(lease: LeaseRef): Promise<boolean> {
    const record = OWNER_RECORD[lease.kind];
    const k = this.keys(lease.kind, lease.name);
    const key = lease.kind === "read" ? k.readers : k.main;
    const reply = await this.#run(lease.name, () =>
      RELEASE[record].run(this.redis, [key], [lease.ownerId, k.channel]),
    );
    return reply === 1;
  }

  async leaveQueue(lease: LeaseRef): Promise<void> {
    const k = this.keys(lease.kind, lease.name);
    await this.#run(lease.name, () =>
      LEAVE_QUEUE.run(this.redis, [k.queue, k.queueDeadlines], [lease.ownerId, k.channel]),
    );
  }

  async proclaim(lease: LeaseRef, value: string): Promise<boolean> {
    const k = this.keys("leader", lease.name);
    const reply = await this.#run(lease.name, () =>
      PROCLAIM.run(this.redis, [k.main], [lease.ownerId, value, k.channel]),
    );
    return reply === 1;
  }

  async readLeader(name: string): Promise<LeaderRecord | undefined> {
    const k = this.keys("leader", name);
    const reply = (await this.#run(name, () => READ_LEADER.run(this.redis, [k.main], []))) as
      | [string, string, number, string]
      | [];
    if (reply.length === 0) return undefined;
    return { value: reply[0], token: BigInt(reply[1]), pttlMs: reply[2], ownerId: reply[3] };
  }

  #run<T>(lockName: string, command: () => Promise<T>): Promise<T> {
    return this.#timeouts.run(lockName, command);
  }
}
