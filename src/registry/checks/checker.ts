import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CompactedError, type ConclaveClient } from "../../client/index.js";
import { type Clock, systemClock } from "../../clock.js";
import { InvalidArgumentError } from "../../errors.js";
import { sleep } from "../../lock/clock.js";
import { ConclaveLockBackend } from "../../lock/conclave/index.js";
import { LockClient } from "../../lock/index.js";
import { DEFAULT_KEY_PREFIX } from "../../lock/keyspace/backend.js";
import { QueueKeys } from "../../lock/keyspace/keys.js";
import type { LeaderHandle } from "../../lock/types.js";
import { allServicesPrefix, type RegistryLayout, validateLayout } from "../keys.js";
import { CheckedInstances, type LeadershipFence } from "./checked-instances.js";

export interface HealthCheckerOptions {
  readonly layout?: Partial<RegistryLayout>;
  /** The election's name: checkers with the same name share one leader. Default "conclave-registry-checker". */
  readonly name?: string;
  /** Aborting it stops the checker, as disposing does. */
  readonly signal?: AbortSignal;
  /** What this checker proclaims while it leads (for operators). Default host:pid:random. */
  readonly id?: string;
  /**
   * The leadership lease. A checker that dies is replaced after at most this
   * long; one cut off from the cluster stops checking a safety margin before
   * it. Default 10000.
   */
  readonly leaseTtlMs?: number;
  /** Key prefix of the lock layer's keys. Default "conclave/lock", the lock backend's own. */
  readonly lockKeyPrefix?: string;
  /** Where the check timers run. Default: the process clock. */
  readonly clock?: Clock;
  /** Told of every failure the checker carries on after (unreachable cluster, malformed record). */
  readonly onError?: (error: unknown) => void;
  /**
   * Called with true when a term starts (checks about to run) and with false
   * when it ends, after every runner of the term has stopped.
   */
  readonly onLeadership?: (leading: boolean) => void;
}

/** A running checker: campaigning, or leading and checking. */
export interface HealthChecker extends AsyncDisposable {
  /** True while this checker leads and runs the checks. */
  readonly leading: boolean;
  /** Persistent instances this checker runs checks for now (0 unless leading). */
  readonly checking: number;
  /** Stops checking, resigns, and waits for everything in flight. Idempotent. */
  dispose(): Promise<void>;
}

const DEFAULT_ELECTION = "conclave-registry-checker";
const DEFAULT_LEASE_TTL_MS = 10_000;
/** After a failed campaign or a watch that failed for another reason than compaction. */
const RETRY_MS = 500;

/**
 * The elected checker for persistent instances. Every process that runs it
 * campaigns in one election on the Conclave lock backend; the leader lists
 * and watches `<root>services/`, runs each persistent instance's checks, and
 * writes each change of status to the record and the naming-format key —
 * fenced by its election key, so a checker that lost leadership (and does not
 * know it yet) cannot write. On leadership loss every runner stops at once
 * and the checker campaigns again.
 */
export function runHealthChecker(
  client: ConclaveClient,
  options: HealthCheckerOptions = {},
): HealthChecker {
  return new ElectedChecker(client, options);
}

class ElectedChecker implements HealthChecker {
  readonly #client: ConclaveClient;
  readonly #layout: RegistryLayout;
  readonly #locks: LockClient;
  readonly #name: string;
  readonly #queuePrefix: string;
  readonly #id: string;
  readonly #leaseTtlMs: number;
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #onLeadership: (leading: boolean) => void;
  readonly #stop = new AbortController();
  readonly #running: Promise<void>;
  readonly #detachSignal: () => void;
  #instances: CheckedInstances | undefined;
  #disposed: Promise<void> | undefined;

  constructor(client: ConclaveClient, options: HealthCheckerOptions) {
    if (typeof client !== "object" || client === null) {
      throw new InvalidArgumentError("client must be a ConclaveClient");
    }
    this.#client = client;
    this.#layout = validateLayout(options.layout);
    this.#name = options.name ?? DEFAULT_ELECTION;
    this.#id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    this.#leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#onLeadership = options.onLeadership ?? (() => {});
    const lockKeyPrefix = options.lockKeyPrefix ?? DEFAULT_KEY_PREFIX;
    // The lock layer checks the name, prefix and TTL before anything starts.
    this.#locks = new LockClient(new ConclaveLockBackend({ client, keyPrefix: lockKeyPrefix }), {
      defaultTtlMs: this.#leaseTtlMs,
    });
    const election = this.#locks.election(this.#name);
    this.#queuePrefix = new QueueKeys(lockKeyPrefix).queue("leader", election.name);
    const outer = options.signal;
    const onAbort = () => void this.dispose();
    outer?.addEventListener("abort", onAbort, { once: true });
    this.#detachSignal = () => outer?.removeEventListener("abort", onAbort);
    if (outer?.aborted) this.#stop.abort();
    this.#running = this.#campaignLoop();
    if (outer?.aborted) void this.dispose();
  }

  get leading(): boolean {
    return this.#instances !== undefined;
  }

  get checking(): number {
    return this.#instances?.size ?? 0;
  }

  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      this.#detachSignal();
      this.#stop.abort();
      await this.#running;
      await this.#locks.close();
    })();
    return this.#disposed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  async #campaignLoop(): Promise<void> {
    const election = this.#locks.election(this.#name);
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      let handle: LeaderHandle;
      try {
        handle = await election.campaign(this.#id, { ttlMs: this.#leaseTtlMs, signal: stop });
      } catch (error) {
        if (stop.aborted) return;
        this.#onError(error);
        await sleep(systemClock, RETRY_MS, stop);
        continue;
      }
      try {
        await this.#lead(handle);
      } catch (error) {
        if (!stop.aborted) this.#onError(error);
      } finally {
        await handle.release().catch(() => {});
      }
    }
  }

  /** One leadership term: until the handle's lease may be lost, a fenced write fails, or stop. */
  async #lead(handle: LeaderHandle): Promise<void> {
    const lost = new AbortController();
    const term = AbortSignal.any([handle.signal, this.#stop.signal, lost.signal]);
    const fence = await this.#findFence(handle, term);
    if (fence === undefined) return;
    const instances = new CheckedInstances({
      client: this.#client,
      layout: this.#layout,
      fence,
      clock: this.#clock,
      onLeadershipLost: () => lost.abort(),
      onError: this.#onError,
    });
    this.#instances = instances;
    this.#notify(true);
    try {
      while (!term.aborted) {
        try {
          await this.#follow(instances, term);
        } catch (error) {
          if (term.aborted) break;
          // Compacted history: list again at once. Anything else: after a pause.
          if (!(error instanceof CompactedError)) {
            this.#onError(error);
            await sleep(systemClock, RETRY_MS, term);
          }
        }
      }
    } finally {
      this.#instances = undefined;
      await instances[Symbol.asyncDispose]();
      this.#notify(false);
    }
  }

  #notify(leading: boolean): void {
    try {
      this.#onLeadership(leading);
    } catch {
      // The listener's failure is its own.
    }
  }

  /** The election key this handle holds, read back: the compare every write carries. */
  async #findFence(
    handle: LeaderHandle,
    signal: AbortSignal,
  ): Promise<LeadershipFence | undefined> {
    const reply = await this.#client.range({
      key: this.#queuePrefix,
      prefix: true,
      keysOnly: true,
      sortTarget: "create",
      sortOrder: "ascend",
      limit: 1,
      signal,
    });
    const first = reply.kvs[0];
    if (first === undefined || BigInt(first.createRevision) !== handle.fencingToken) {
      return undefined;
    }
    return { key: first.keyString, createRevision: first.createRevision };
  }

  /** Lists every record, then applies every change after that list until the watch ends. */
  async #follow(instances: CheckedInstances, signal: AbortSignal): Promise<void> {
    const prefix = allServicesPrefix(this.#layout);
    const seen = new Set<string>();
    let revision: number | undefined;
    for await (const page of this.#client.rangePages({ key: prefix, prefix: true, signal })) {
      revision ??= page.revision;
      for (const kv of page.kvs) {
        seen.add(kv.keyString);
        instances.upsert(kv);
      }
    }
    if (revision === undefined || signal.aborted) return;
    instances.retainOnly(seen);
    const stream = this.#client.watch(prefix, {
      prefix: true,
      startRevision: revision + 1,
      signal,
    });
    try {
      for await (const batch of stream) {
        for (const event of batch.events) {
          if (event.type === "put") instances.upsert(event.kv);
          else instances.remove(event.kv.keyString);
        }
      }
    } finally {
      stream.cancel();
    }
  }
}
