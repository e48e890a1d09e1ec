import { InvalidArgumentError } from "../../errors.js";
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
  LockClientClosedError,
  LockLostError,
  NotLockOwnerError,
} from "../errors.js";
import { observeLeaderByPolling } from "../observe.js";
import { WakeChannels } from "../redis/channels.js";
import { validateKeyPrefix } from "../redis/keys.js";
import { type LeaderRecord, RedisLeaseNode } from "../redis/node.js";
import type { BackendGuarantees, LeaderSnapshot } from "../types.js";
import { positiveInteger } from "../validate.js";
import { type AttemptOutcome, waitForGrant } from "../wait.js";
import { Redis, type RedisOptions } from "./driver.js";
import { driftAllowanceMs, judgeQuorum, quorumOf } from "./quorum.js";

export interface RedlockBackendOptions {
  /**
   * The independent Redis servers (not replicas of each other): ioredis
   * clients (not closed by the backend) or options / redis:// URLs. Use an
   * odd number, at least 3, on machines that fail independently.
   */
  instances: readonly (Redis | RedisOptions | string)[];
  /** Prefix of every key. Default "conclave:lock". */
  keyPrefix?: string;
  /** Assumed relative clock drift between machines, as a fraction of the TTL. Default 0.01. */
  driftFactor?: number;
  /** Fixed part of the drift allowance (timer granularity). Default 2. */
  driftMarginMs?: number;
  /**
   * A single instance that does not reply within this long counts as failed.
   * Keep it small against the TTL: it bounds how much of a lease an attempt
   * can eat. Default 500.
   */
  operationTimeoutMs?: number;
  /** Longest sleep between attempts while waiting. Default 1000. */
  maxRetryDelayMs?: number;
  /** Random delay added between attempts so contenders that split the vote do not retry in lockstep. Default 50. */
  retryJitterMs?: number;
  clock?: Clock;
}

export const REDLOCK_GUARANTEES: BackendGuarantees = {
  backend: "redlock",
  fencing: "none",
  fair: false,
  reentrant: false,
  kinds: ["mutex", "read", "write", "leader"],
  onHolderCrash: "expires-after-ttl",
  partition:
    "a holder cut off from a majority cannot renew; its signal fires a safety margin before the quorum lease (less the drift allowance) ends; a minority side can never grant",
};

interface Instance {
  readonly node: RedisLeaseNode;
  readonly channels: WakeChannels;
  readonly owned: boolean;
}

/**
 * The Redlock algorithm over N independent Redis servers: a lease is held
 * when a majority granted it and the attempt took less than the TTL minus a
 * clock-drift allowance; every release and failed attempt is undone on all
 * servers.
 *
 * No fencing token: each server keeps its own counter, a majority's counters
 * do not form one increasing sequence, and a server that restarts without its
 * data can let a second holder in while the first still believes it holds.
 * The handle's `fencingToken` is therefore typed `undefined`. Semaphores are
 * not offered: a majority vote per permit cannot bound the number of holders
 * once permits > 1 (n+1 holders can each gather a different majority).
 */
export class RedlockBackend implements LockBackend<undefined> {
  readonly guarantees = REDLOCK_GUARANTEES;
  readonly clock: Clock;
  readonly #instances: Instance[];
  readonly #driftFactor: number;
  readonly #driftMarginMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #retryJitterMs: number;
  #closed = false;

  constructor(options: RedlockBackendOptions) {
    if (!Array.isArray(options.instances) || options.instances.length === 0) {
      throw new InvalidArgumentError("Redlock needs at least one Redis instance");
    }
    const keyPrefix = validateKeyPrefix(options.keyPrefix ?? "conclave:lock");
    this.#driftFactor = options.driftFactor ?? 0.01;
    if (!(this.#driftFactor >= 0 && this.#driftFactor < 0.5)) {
      throw new InvalidArgumentError(`driftFactor must be in [0, 0.5), got ${this.#driftFactor}`);
    }
    this.#driftMarginMs = options.driftMarginMs ?? 2;
    if (!(Number.isInteger(this.#driftMarginMs) && this.#driftMarginMs >= 0)) {
      throw new InvalidArgumentError("driftMarginMs must be a non-negative integer");
    }
    const operationTimeoutMs = positiveInteger(
      options.operationTimeoutMs ?? 500,
      "operationTimeoutMs",
    );
    this.#maxRetryDelayMs = positiveInteger(options.maxRetryDelayMs ?? 1000, "maxRetryDelayMs");
    this.#retryJitterMs = positiveInteger(options.retryJitterMs ?? 50, "retryJitterMs");
    this.clock = options.clock ?? systemClock;
    this.#instances = options.instances.map((instance, index) => {
      const owned = !(instance instanceof Redis);
      let redis: Redis;
      if (instance instanceof Redis) redis = instance;
      else {
        redis = typeof instance === "string" ? new Redis(instance) : new Redis(instance);
        redis.on("error", () => {});
      }
      const node = new RedisLeaseNode({
        redis,
        keyPrefix,
        fair: false,
        queueTtlMs: 1,
        operationTimeoutMs,
        label: `redlock instance ${index}`,
      });
      return { node, channels: new WakeChannels(() => redis.duplicate()), owned };
    });
  }

  get instanceCount(): number {
    return this.#instances.length;
  }

  async acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<undefined>> {
    this.#checkOpen();
    const channel = this.#instances[0]!.node.keys(request.kind, request.name).channel;
    return waitForGrant<LeaseGrant<undefined>>({
      clock: this.clock,
      name: request.name,
      wait,
      attempt: () => this.#attempt(request),
      subscribe: async (wake) => {
        const subscriptions = await Promise.allSettled(
          this.#instances.map((i) => i.channels.subscribe(channel, wake)),
        );
        return () => {
          for (const s of subscriptions) if (s.status === "fulfilled") s.value();
        };
      },
      release: () => this.#releaseEverywhere(request).then(() => {}),
    });
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    this.#checkOpen();
    const startedMs = this.clock.now();
    const results = await Promise.allSettled(
      this.#instances.map((i) => i.node.extend(lease, ttlMs)),
    );
    const verdict = judgeQuorum({
      granted: results.filter((r) => r.status === "fulfilled" && r.value).length,
      failed: results.filter((r) => r.status === "rejected").length,
      total: this.#instances.length,
      ttlMs,
      elapsedMs: this.clock.now() - startedMs,
      driftMs: this.#driftMs(ttlMs),
    });
    switch (verdict.outcome) {
      case "held":
        return { heldUntilMs: startedMs + ttlMs - this.#driftMs(ttlMs) };
      case "unavailable":
        throw this.#unavailable(lease.name, results);
      default:
        throw new LockLostError(
          lease.name,
          verdict.outcome === "too-slow"
            ? "renewal took longer than the lease minus drift"
            : "a majority of instances no longer records this owner",
        );
    }
  }

  async release(lease: LeaseRef): Promise<void> {
    this.#checkOpen();
    const results = await this.#releaseEverywhere(lease);
    const released = results.filter((r) => r.status === "fulfilled" && r.value).length;
    if (released >= quorumOf(this.#instances.length)) return;
    const failed = results.filter((r) => r.status === "rejected").length;
    if (released + failed >= quorumOf(this.#instances.length)) {
      throw this.#unavailable(lease.name, results);
    }
    throw new NotLockOwnerError(lease.name, "release");
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    this.#checkOpen();
    const results = await Promise.allSettled(
      this.#instances.map((i) => i.node.proclaim(lease, value)),
    );
    const done = results.filter((r) => r.status === "fulfilled" && r.value).length;
    if (done < quorumOf(this.#instances.length)) {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
  }

  async readLeader(name: string): Promise<LeaderSnapshot<undefined> | undefined> {
    return (await this.#readLeader(name)).snapshot;
  }

  observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<undefined> | undefined> {
    this.#checkOpen();
    const channel = this.#instances[0]!.node.keys("leader", name).channel;
    return observeLeaderByPolling({
      clock: this.clock,
      signal,
      maxPollMs: this.#maxRetryDelayMs,
      read: () => this.#readLeader(name),
      subscribe: async (wake) => {
        const subscriptions = await Promise.allSettled(
          this.#instances.map((i) => i.channels.subscribe(channel, wake)),
        );
        return () => {
          for (const s of subscriptions) if (s.status === "fulfilled") s.value();
        };
      },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const instance of this.#instances) {
      instance.channels.close();
      if (instance.owned) instance.node.redis.disconnect();
    }
  }

  async #attempt(request: LeaseRequest): Promise<AttemptOutcome<LeaseGrant<undefined>>> {
    const startedMs = this.clock.now();
    const results = await Promise.allSettled(this.#instances.map((i) => i.node.tryGrant(request)));
    const verdict = judgeQuorum({
      granted: results.filter((r) => r.status === "fulfilled" && "token" in r.value).length,
      failed: results.filter((r) => r.status === "rejected").length,
      total: this.#instances.length,
      ttlMs: request.ttlMs,
      elapsedMs: this.clock.now() - startedMs,
      driftMs: this.#driftMs(request.ttlMs),
    });
    if (verdict.outcome === "held") {
      return {
        granted: {
          fencingToken: undefined,
          heldUntilMs: startedMs + request.ttlMs - this.#driftMs(request.ttlMs),
        },
      };
    }
    // Undo partial grants everywhere, including instances whose reply was lost.
    await this.#releaseEverywhere(request);
    if (verdict.outcome === "unavailable") throw this.#unavailable(request.name, results);
    let hintMs = this.#maxRetryDelayMs;
    for (const r of results) {
      if (r.status === "fulfilled" && "retryHintMs" in r.value && r.value.retryHintMs > 0) {
        hintMs = Math.min(hintMs, r.value.retryHintMs);
      }
    }
    return { retryInMs: hintMs + Math.floor(Math.random() * this.#retryJitterMs) };
  }

  #releaseEverywhere(lease: LeaseRef): Promise<PromiseSettledResult<boolean>[]> {
    return Promise.allSettled(this.#instances.map((i) => i.node.release(lease)));
  }

  async #readLeader(
    name: string,
  ): Promise<{ snapshot: LeaderSnapshot<undefined> | undefined; changesInMs?: number }> {
    this.#checkOpen();
    const results = await Promise.allSettled(this.#instances.map((i) => i.node.readLeader(name)));
    const failed = results.filter((r) => r.status === "rejected").length;
    const quorum = quorumOf(this.#instances.length);
    if (this.#instances.length - failed < quorum) throw this.#unavailable(name, results);
    const byOwner = new Map<string, LeaderRecord[]>();
    for (const r of results) {
      if (r.status !== "fulfilled" || r.value === undefined) continue;
      const records = byOwner.get(r.value.ownerId) ?? [];
      records.push(r.value);
      byOwner.set(r.value.ownerId, records);
    }
    for (const records of byOwner.values()) {
      if (records.length < quorum) continue;
      const pttls = records.map((r) => r.pttlMs).sort((a, b) => a - b);
      return {
        snapshot: { value: records[0]!.value, fencingToken: undefined },
        // The quorum holds until its quorum-th longest lease ends.
        changesInMs: pttls[records.length - quorum],
      };
    }
    return { snapshot: undefined };
  }

  #driftMs(ttlMs: number): number {
    return driftAllowanceMs(ttlMs, this.#driftFactor, this.#driftMarginMs);
  }

  #unavailable(name: string, results: PromiseSettledResult<unknown>[]): BackendUnavailableError {
    const reachable = results.filter((r) => r.status === "fulfilled").length;
    const firstError = results.find((r) => r.status === "rejected") as
      | PromiseRejectedResult
      | undefined;
    return new BackendUnavailableError(
      "redlock",
      `${reachable} of ${this.#instances.length} instances answered; a majority of ${quorumOf(this.#instances.length)} is needed`,
      name,
      { cause: firstError?.reason },
    );
  }

  #checkOpen(): void {
    if (this.#closed) throw new LockClientClosedError("the Redlock backend");
  }
}
