import { type Clock, systemClock } from "../clock.js";
import type { LeaderSnapshot, LeaseKind } from "../types.js";

/** One lease holder of a resource. */
export interface MemoryHolder {
  readonly shared: boolean;
  expiresAtMs: number;
  readonly fencingToken: bigint;
  value: string | undefined;
}

/** A queued request; the store grants it by calling `grant`. */
export interface MemoryWaiter {
  readonly kind: LeaseKind;
  readonly ownerId: string;
  readonly permits: number;
  readonly ttlMs: number;
  readonly value: string | undefined;
  grant(holder: MemoryHolder): void;
}

/** The state of one name in one namespace. */
interface Resource {
  readonly holders: Map<string, MemoryHolder>;
  readonly queue: MemoryWaiter[];
  cancelExpiryTimer: (() => void) | undefined;
}

/**
 * The shared state of the in-memory backend: every `MemoryLockBackend` built
 * on one store sees the same locks, like clients of one server. Grants are
 * strictly FIFO: a request is granted only when every request queued before
 * it has been, so a writer is never starved by a stream of readers.
 */
export class MemoryLockStore {
  readonly clock: Clock;
  readonly #resources = new Map<string, Resource>();
  /** Last fencing token per resource; kept after the resource goes idle so tokens never repeat. */
  readonly #lastTokens = new Map<string, bigint>();
  readonly #leaderVersions = new Map<string, number>();
  readonly #leaderListeners = new Map<string, Set<() => void>>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Grants at once if nobody is queued and the lease is compatible; otherwise queues the waiter. */
  request(waiter: MemoryWaiter, name: string, mayQueue: boolean): MemoryHolder | "queued" | "busy" {
    const key = resourceKey(waiter.kind, name);
    const resource = this.#resource(key);
    this.#prune(key, resource);
    if (resource.queue.length === 0 && admits(resource, waiter)) {
      return this.#grant(key, resource, waiter);
    }
    if (!mayQueue) {
      this.#dropIfIdle(key, resource);
      return "busy";
    }
    resource.queue.push(waiter);
    return "queued";
  }

  /** Removes a waiter (timed out, aborted, disconnected) and lets those behind it move up. */
  dequeue(waiter: MemoryWaiter, name: string): void {
    const key = resourceKey(waiter.kind, name);
    const resource = this.#resources.get(key);
    if (resource === undefined) return;
    const index = resource.queue.indexOf(waiter);
    if (index >= 0) resource.queue.splice(index, 1);
    this.#pump(key, resource);
  }

  /** The live holder entry of `ownerId`, or undefined if it has none (expired, released, never held). */
  holder(kind: LeaseKind, name: string, ownerId: string): MemoryHolder | undefined {
    const key = resourceKey(kind, name);
    const resource = this.#resources.get(key);
    if (resource === undefined) return undefined;
    this.#prune(key, resource);
    return resource.holders.get(ownerId);
  }

  extend(kind: LeaseKind, name: string, ownerId: string, ttlMs: number): number | undefined {
    const holder = this.holder(kind, name, ownerId);
    if (holder === undefined) return undefined;
    holder.expiresAtMs = this.clock.now() + ttlMs;
    this.#armExpiry(resourceKey(kind, name));
    return holder.expiresAtMs;
  }

  release(kind: LeaseKind, name: string, ownerId: string): boolean {
    const key = resourceKey(kind, name);
    const resource = this.#resources.get(key);
    if (resource === undefined) return false;
    this.#prune(key, resource);
    if (!resource.holders.delete(ownerId)) return false;
    if (kind === "leader") this.#leaderChanged(name);
    this.#pump(key, resource);
    return true;
  }

  proclaim(name: string, ownerId: string, value: string): boolean {
    const holder = this.holder("leader", name, ownerId);
    if (holder === undefined) return false;
    holder.value = value;
    this.#leaderChanged(name);
    return true;
  }

  leader(name: string): LeaderSnapshot<bigint> | undefined {
    const key = resourceKey("leader", name);
    const resource = this.#resources.get(key);
    if (resource === undefined) return undefined;
    this.#prune(key, resource);
    for (const holder of resource.holders.values()) {
      return { value: holder.value ?? "", fencingToken: holder.fencingToken };
    }
    return undefined;
  }

  /** Increases whenever the leader of `name` may have changed. */
  leaderVersion(name: string): number {
    return this.#leaderVersions.get(name) ?? 0;
  }

  /** Calls `listener` at the next leader change of `name`; returns an unsubscribe function. */
  onLeaderChange(name: string, listener: () => void): () => void {
    let listeners = this.#leaderListeners.get(name);
    if (listeners === undefined) {
      listeners = new Set();
      this.#leaderListeners.set(name, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.#leaderListeners.delete(name);
    };
  }

  /** Number of queued requests for a name (for tests of code that uses locks). */
  queueLength(kind: LeaseKind, name: string): number {
    return this.#resources.get(resourceKey(kind, name))?.queue.length ?? 0;
  }

  /** Number of live holders of a name. */
  holderCount(kind: LeaseKind, name: string): number {
    const key = resourceKey(kind, name);
    const resource = this.#resources.get(key);
    if (resource === undefined) return 0;
    this.#prune(key, resource);
    return resource.holders.size;
  }

  #resource(key: string): Resource {
    let resource = this.#resources.get(key);
    if (resource === undefined) {
      resource = { holders: new Map(), queue: [], cancelExpiryTimer: undefined };
      this.#resources.set(key, resource);
    }
    return resource;
  }

  #grant(key: string, resource: Resource, waiter: MemoryWaiter): MemoryHolder {
    const fencingToken = (this.#lastTokens.get(key) ?? 0n) + 1n;
    this.#lastTokens.set(key, fencingToken);
    const holder: MemoryHolder = {
      shared: waiter.kind === "read" || waiter.kind === "semaphore",
      expiresAtMs: this.clock.now() + waiter.ttlMs,
      fencingToken,
      value: waiter.value,
    };
    resource.holders.set(waiter.ownerId, holder);
    if (waiter.kind === "leader") this.#leaderChanged(nameOf(key));
    this.#armExpiry(key);
    return holder;
  }

  /** Grants queued requests from the head while they fit. */
  #pump(key: string, resource: Resource): void {
    this.#prune(key, resource);
    for (;;) {
      const head = resource.queue[0];
      if (head === undefined || !admits(resource, head)) break;
      resource.queue.shift();
      head.grant(this.#grant(key, resource, head));
    }
    this.#dropIfIdle(key, resource);
  }

  #prune(key: string, resource: Resource): void {
    const now = this.clock.now();
    let removedLeader = false;
    for (const [ownerId, holder] of resource.holders) {
      if (holder.expiresAtMs <= now) {
        resource.holders.delete(ownerId);
        removedLeader ||= key.startsWith("leader\u0000");
      }
    }
    if (removedLeader) this.#leaderChanged(nameOf(key));
  }

  /** One timer per resource, at its earliest lease end, so expiry wakes waiters and observers. */
  #armExpiry(key: string): void {
    const resource = this.#resources.get(key);
    if (resource === undefined) return;
    resource.cancelExpiryTimer?.();
    resource.cancelExpiryTimer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const holder of resource.holders.values()) {
      earliest = Math.min(earliest, holder.expiresAtMs);
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    resource.cancelExpiryTimer = this.clock.setTimer(() => {
      resource.cancelExpiryTimer = undefined;
      this.#pump(key, resource);
      if (this.#resources.get(key) === resource) this.#armExpiry(key);
    }, earliest - this.clock.now());
  }

  #dropIfIdle(key: string, resource: Resource): void {
    if (resource.holders.size === 0 && resource.queue.length === 0) {
      resource.cancelExpiryTimer?.();
      this.#resources.delete(key);
    } else {
      this.#armExpiry(key);
    }
  }

  #leaderChanged(name: string): void {
    this.#leaderVersions.set(name, this.leaderVersion(name) + 1);
    const listeners = this.#leaderListeners.get(name);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) listener();
  }
}

function resourceKey(kind: LeaseKind, name: string): string {
  const namespace = kind === "read" || kind === "write" ? "rw" : kind;
  return `${namespace}\u0000${name}`;
}

function nameOf(key: string): string {
  return key.slice(key.indexOf("\u0000") + 1);
}

function admits(resource: Resource, waiter: MemoryWaiter): boolean {
  const holders = resource.holders;
  switch (waiter.kind) {
    case "read":
      for (const holder of holders.values()) if (!holder.shared) return false;
      return true;
    case "semaphore":
      return holders.size < waiter.permits;
    default:
      return holders.size === 0;
  }
}
