import { InvalidArgumentError } from "../../errors.js";
import { NoInstanceError } from "../errors.js";
import { isServed, type ServiceInstance } from "../instance.js";
import type { Balancer, BalancerKind, Picked, PickOptions, UpdateReport } from "./types.js";

/** A served instance and the requests picked for it that are still in flight. */
export interface Entry {
  instance: ServiceInstance;
  inFlight: number;
}

/** What an update changed, handed to a balancer's algorithm before the report is built. */
export interface SetChange {
  readonly added: readonly Entry[];
  readonly removed: readonly Entry[];
  /** Served before and after with a different weight; `oldWeight` is the weight before. */
  readonly reweighted: readonly { readonly entry: Entry; readonly oldWeight: number }[];
}

/**
 * The part every balancer shares: the served set keyed by instance id, the
 * diff an update makes, in-flight counts, and the pick handle. Subclasses hold
 * only their algorithm's state and change it by the diff, never rebuilding it
 * for instances that did not change.
 */
export abstract class BaseBalancer implements Balancer {
  abstract readonly kind: BalancerKind;
  /** Served instances by id, in the order they were first seen. */
  protected readonly entries = new Map<string, Entry>();
  private service: string;

  constructor(service: string | undefined) {
    this.service = service ?? "";
  }

  get size(): number {
    return this.entries.size;
  }

  instances(): ServiceInstance[] {
    return [...this.entries.values()].map((entry) => entry.instance);
  }

  inFlight(id: string): number {
    return this.entries.get(id)?.inFlight ?? 0;
  }

  update(instances: readonly ServiceInstance[]): UpdateReport {
    if (!Array.isArray(instances)) throw new InvalidArgumentError("instances must be an array");
    const next = new Map<string, ServiceInstance>();
    for (const instance of instances) {
      if (next.has(instance.id)) {
        throw new InvalidArgumentError(`instance id ${JSON.stringify(instance.id)} appears twice`);
      }
      if (this.service === "") this.service = instance.service;
      if (isServed(instance)) next.set(instance.id, instance);
    }
    this.admit(next);
    const oldWeights = new Map([...this.entries].map(([id, e]) => [id, e.instance.weight]));
    const added: Entry[] = [];
    const removed: Entry[] = [];
    const reweighted: { entry: Entry; oldWeight: number }[] = [];
    const changed: string[] = [];
    for (const [id, entry] of this.entries) {
      if (!next.has(id)) removed.push(entry);
    }
    for (const entry of removed) this.entries.delete(entry.instance.id);
    for (const [id, instance] of next) {
      const entry = this.entries.get(id);
      if (entry === undefined) {
        const fresh = { instance, inFlight: 0 };
        this.entries.set(id, fresh);
        added.push(fresh);
      } else if (!sameInstance(entry.instance, instance)) {
        changed.push(id);
        if (entry.instance.weight !== instance.weight) {
          reweighted.push({ entry, oldWeight: entry.instance.weight });
        }
        entry.instance = instance;
      }
    }
    const movedFraction = this.apply({ added, removed, reweighted });
    return {
      added: added.map((e) => e.instance.id),
      removed: removed.map((e) => e.instance.id),
      changed,
      movedFraction,
      idealFraction: idealFraction(oldWeights, this.entries),
    };
  }

  abstract pick(options?: PickOptions): Picked;

  /** Refuses, before anything changes, a served set the algorithm cannot hold. */
  protected admit(_served: ReadonlyMap<string, ServiceInstance>): void {}

  /** Applies a diff to the algorithm's state; returns the probe keys' moved fraction, or null. */
  protected abstract apply(change: SetChange): number | null;

  /** The ids to skip, or undefined when none of them is served. */
  protected excluded(options: PickOptions | undefined): ReadonlySet<string> | undefined {
    if (options?.exclude === undefined) return undefined;
    const set = new Set<string>();
    for (const id of options.exclude) if (this.entries.has(id)) set.add(id);
    return set.size === 0 ? undefined : set;
  }

  protected noInstance(excluded: ReadonlySet<string> | undefined): NoInstanceError {
    if (this.entries.size === 0) return new NoInstanceError(this.service);
    return new NoInstanceError(
      this.service,
      `all ${this.entries.size} served instances were excluded (${excluded?.size ?? 0} tried)`,
    );
  }

  /** Counts a request in flight on `entry` until the handle is released. */
  protected picked(entry: Entry, onRelease?: () => void): Picked {
    entry.inFlight++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      entry.inFlight--;
      onRelease?.();
    };
    return { instance: entry.instance, release, done: release, [Symbol.dispose]: release };
  }
}

/** Whether two records of one instance would be served the same way. */
function sameInstance(a: ServiceInstance, b: ServiceInstance): boolean {
  if (
    a.address !== b.address ||
    a.port !== b.port ||
    a.weight !== b.weight ||
    a.status !== b.status ||
    a.persistent !== b.persistent
  ) {
    return false;
  }
  const aKeys = Object.keys(a.metadata);
  if (aKeys.length !== Object.keys(b.metadata).length) return false;
  for (const key of aKeys) if (a.metadata[key] !== b.metadata[key]) return false;
  return JSON.stringify(a.checks) === JSON.stringify(b.checks);
}

/**
 * Half the L1 distance between the old and new weight shares: the fraction of
 * keys that must change owner whatever the placement. Nothing moves out of an
 * empty set; everything leaves when the set empties.
 */
function idealFraction(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, Entry>) {
  if (before.size === 0) return 0;
  if (after.size === 0) return 1;
  let oldTotal = 0;
  for (const w of before.values()) oldTotal += w;
  let newTotal = 0;
  for (const e of after.values()) newTotal += e.instance.weight;
  let distance = 0;
  for (const [id, w] of before) {
    const now = after.get(id);
    distance += Math.abs(w / oldTotal - (now === undefined ? 0 : now.instance.weight / newTotal));
  }
  for (const [id, e] of after) {
    if (!before.has(id)) distance += e.instance.weight / newTotal;
  }
  return distance / 2;
}
