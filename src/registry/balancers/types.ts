import type { ServiceInstance } from "../instance.js";

/** The balancing algorithms {@link createBalancer} builds. */
export type BalancerKind = "round-robin" | "p2c" | "ring" | "maglev" | "bounded";

export const BALANCER_KINDS: readonly BalancerKind[] = [
  "round-robin",
  "p2c",
  "ring",
  "maglev",
  "bounded",
];

/** The kinds that map a request key to an instance by consistent hashing. */
export type HashBalancerKind = "ring" | "maglev" | "bounded";

export interface PickOptions {
  /**
   * The request's hash key. Required by the hash kinds (ring, maglev,
   * bounded), which send equal keys to the same instance; ignored by the others.
   */
  readonly key?: string;
  /**
   * Instance ids not to pick, typically those a retry already tried. The hash
   * kinds then answer the key's next distinct owner (its next replica).
   */
  readonly exclude?: Iterable<string>;
}

/**
 * One pick. The instance counts it as in flight until `release()` (or its
 * alias `done()`, or disposal) is called; calling it again does nothing.
 */
export interface Picked extends Disposable {
  readonly instance: ServiceInstance;
  release(): void;
  done(): void;
}

/** What one {@link Balancer.update} changed. */
export interface UpdateReport {
  /** Ids of served instances that were not served before. */
  readonly added: readonly string[];
  /** Ids of instances no longer served (gone, or critical). */
  readonly removed: readonly string[];
  /** Ids still served whose record changed (weight, address, port, metadata or status). */
  readonly changed: readonly string[];
  /**
   * Hash kinds: the fraction of a fixed set of probe keys whose owner changed.
   * Null for kinds without key affinity.
   */
  readonly movedFraction: number | null;
  /**
   * The least fraction of keys any placement must move for this change: the
   * total variation between the old and new weight shares (1/(n+1) when one
   * of n equal instances joins, 1/n when one leaves).
   */
  readonly idealFraction: number;
}

/**
 * Chooses among a service's served instances. `update` replaces the set and
 * touches only what changed; `pick` chooses one instance for a request.
 */
export interface Balancer {
  readonly kind: BalancerKind;
  /** Number of served instances. */
  readonly size: number;
  /** Served instances, in the order they were first seen. */
  instances(): ServiceInstance[];
  /** Requests picked and not yet released, per instance id (0 for unknown ids). */
  inFlight(id: string): number;
  /** Replaces the instance set; instances that are not served (critical) are dropped. */
  update(instances: readonly ServiceInstance[]): UpdateReport;
  /** Chooses an instance; throws NoInstanceError when none is served (or all are excluded). */
  pick(options?: PickOptions): Picked;
}
