import { BoundedLoadPlacement, createPlacement, type Placement } from "../../hashring/index.js";
import { BaseBalancer, type SetChange } from "./base.js";
import { requireKey } from "./hash.js";
import { changedFraction } from "./probes.js";
import type { Picked, PickOptions } from "./types.js";

interface BoundedSettings {
  readonly eps: number;
  readonly pointsPerNode: number;
}

/**
 * Consistent hashing with bounded loads over the keys in flight: a key is
 * placed (on `conclave/hashring`'s BoundedLoadPlacement) when its first
 * request is picked and released when its last one is, so no instance holds
 * more than ceil((1 + eps) x its weight share) of the distinct keys in flight,
 * and a key stays where it is while it has requests in flight. Many requests
 * with one key count once: a hot key stays on one instance.
 *
 * Two more structures sit beside it: a plain ring with the same points,
 * which gives a key's next distinct owners for `exclude`; and a second
 * bounded placement holding only the probe keys, which measures how many
 * keys an update moves.
 */
export class BoundedBalancer extends BaseBalancer {
  readonly kind = "bounded" as const;
  private readonly settings: BoundedSettings;
  private live: BoundedLoadPlacement;
  /** Requests in flight per key placed in `live`. */
  private readonly keyRequests = new Map<string, number>();
  private readonly ring: Placement;
  private probesPlacement: BoundedLoadPlacement;
  private readonly probes: readonly string[];

  constructor(settings: BoundedSettings, probes: readonly string[], service?: string) {
    super(service);
    this.settings = settings;
    this.live = this.emptyPlacement();
    this.probesPlacement = this.emptyPlacement();
    this.ring = createPlacement({ algorithm: "ring", pointsPerNode: settings.pointsPerNode });
    this.probes = probes;
  }

  /** Distinct keys in flight per instance id. */
  keyLoads(): Map<string, number> {
    return this.live.loads();
  }

  pick(options?: PickOptions): Picked {
    const key = requireKey(this.kind, options);
    const excluded = this.excluded(options);
    if (this.entries.size === 0) throw this.noInstance(excluded);
    const placedOwner = this.live.has(key) ? this.live.get(key) : undefined;
    if (excluded === undefined || (placedOwner !== undefined && !excluded.has(placedOwner))) {
      const owner = placedOwner ?? this.live.place(key);
      this.keyRequests.set(key, (this.keyRequests.get(key) ?? 0) + 1);
      return this.picked(this.entries.get(owner)!, () => this.releaseKey(key));
    }
    // A retry away from the key's instance: its next distinct owner on the
    // ring, outside the load accounting (a retry is not where the key lives).
    const owners = this.ring.getN(key, Math.min(excluded.size + 1, this.ring.size));
    const owner = owners.find((id) => !excluded.has(id));
    if (owner === undefined) throw this.noInstance(excluded);
    return this.picked(this.entries.get(owner)!);
  }

  protected apply(change: SetChange): number | null {
    const measure = this.probes.length > 0 && this.probesPlacement.size > 0;
    const before = measure ? this.probes.map((key) => this.probesPlacement.get(key)) : [];
    this.live = this.change(this.live, change, false);
    this.probesPlacement = this.change(this.probesPlacement, change, true);
    for (const entry of change.added) this.ring.addNode(entry.instance.id, entry.instance.weight);
    for (const { entry } of change.reweighted) {
      this.ring.removeNode(entry.instance.id);
      this.ring.addNode(entry.instance.id, entry.instance.weight);
    }
    for (const entry of change.removed) this.ring.removeNode(entry.instance.id);
    if (this.probes.length === 0) return null;
    if (!measure) return 0;
    if (this.probesPlacement.size === 0) return 1;
    return changedFraction(
      before,
      this.probes.map((key) => this.probesPlacement.get(key)),
    );
  }

  /**
   * Applies a diff to one bounded placement: joins first, so keys have
   * somewhere to go, then reweights, then departures. A placement left with
   * no instance is replaced by an empty one (its keys are placed again when
   * an instance returns).
   */
  private change(
    placement: BoundedLoadPlacement,
    change: SetChange,
    holdsProbes: boolean,
  ): BoundedLoadPlacement {
    if (this.entries.size === 0) return this.emptyPlacement();
    let wasEmpty = placement.size === 0;
    for (const entry of change.added) placement.addNode(entry.instance.id, entry.instance.weight);
    for (const { entry } of change.reweighted) {
      if (placement.size === 1) {
        // The only instance cannot leave while it holds keys: start over with its new weight.
        placement = this.emptyPlacement();
        wasEmpty = true;
      } else {
        placement.removeNode(entry.instance.id);
      }
      placement.addNode(entry.instance.id, entry.instance.weight);
    }
    for (const entry of change.removed) placement.removeNode(entry.instance.id);
    if (wasEmpty) {
      const keys = holdsProbes ? this.probes : [...this.keyRequests.keys()];
      for (const key of keys) placement.place(key);
    }
    return placement;
  }

  private releaseKey(key: string): void {
    const requests = this.keyRequests.get(key)! - 1;
    if (requests > 0) {
      this.keyRequests.set(key, requests);
      return;
    }
    this.keyRequests.delete(key);
    if (this.live.has(key)) this.live.release(key);
  }

  private emptyPlacement(): BoundedLoadPlacement {
    return new BoundedLoadPlacement({
      eps: this.settings.eps,
      pointsPerNode: this.settings.pointsPerNode,
    });
  }
}
