import { InvalidArgumentError } from "../../errors.js";
import { createPlacement, NotEnoughNodesError, type Placement } from "../../hashring/index.js";
import type { ServiceInstance } from "../instance.js";
import { BaseBalancer, type SetChange } from "./base.js";
import { changedFraction } from "./probes.js";
import type { Picked, PickOptions } from "./types.js";

/**
 * Consistent hashing of a request key onto the served instances, on a
 * `conclave/hashring` placement (the virtual-node ring or Maglev). Instance
 * ids are the node ids and instance weights the node weights, so an update
 * adds, removes or reweights only the nodes that changed. With `exclude`, a
 * key goes to its next distinct owner (the placement's replica order).
 */
export class HashBalancer extends BaseBalancer {
  readonly kind: "ring" | "maglev";
  private readonly placement: Placement;
  private readonly probes: readonly string[];
  private readonly tableSize: number | undefined;

  constructor(
    kind: "ring" | "maglev",
    settings: { pointsPerNode: number; tableSize: number | undefined },
    probes: readonly string[],
    service?: string,
  ) {
    super(service);
    this.kind = kind;
    this.placement =
      kind === "ring"
        ? createPlacement({ algorithm: "ring", pointsPerNode: settings.pointsPerNode })
        : settings.tableSize === undefined
          ? createPlacement({ algorithm: "maglev" })
          : createPlacement({ algorithm: "maglev", tableSize: settings.tableSize });
    this.probes = probes;
    this.tableSize = settings.tableSize;
  }

  protected override admit(served: ReadonlyMap<string, ServiceInstance>): void {
    if (this.tableSize !== undefined && served.size > this.tableSize) {
      throw new InvalidArgumentError(
        `a maglev table of ${this.tableSize} slots cannot hold ${served.size} instances`,
      );
    }
  }

  pick(options?: PickOptions): Picked {
    const key = requireKey(this.kind, options);
    const excluded = this.excluded(options);
    if (this.entries.size === 0) throw this.noInstance(excluded);
    if (excluded === undefined) return this.picked(this.entries.get(this.placement.get(key))!);
    // Among the key's first |excluded| + 1 distinct owners at least one is not excluded.
    const wanted = Math.min(excluded.size + 1, this.placement.size);
    let owners: string[];
    try {
      owners = this.placement.getN(key, wanted);
    } catch (error) {
      // Maglev: an instance whose weight is tiny against the heaviest may own no slot.
      if (error instanceof NotEnoughNodesError) throw this.noInstance(excluded);
      throw error;
    }
    const owner = owners.find((id) => !excluded.has(id));
    if (owner === undefined) throw this.noInstance(excluded);
    return this.picked(this.entries.get(owner)!);
  }

  protected apply(change: SetChange): number | null {
    const measure = this.probes.length > 0 && this.placement.size > 0;
    const before = measure ? this.probes.map((key) => this.placement.get(key)) : [];
    for (const entry of change.added)
      this.placement.addNode(entry.instance.id, entry.instance.weight);
    for (const { entry } of change.reweighted) {
      this.placement.removeNode(entry.instance.id);
      this.placement.addNode(entry.instance.id, entry.instance.weight);
    }
    for (const entry of change.removed) this.placement.removeNode(entry.instance.id);
    if (this.probes.length === 0) return null;
    if (!measure) return 0;
    if (this.placement.size === 0) return 1;
    return changedFraction(
      before,
      this.probes.map((key) => this.placement.get(key)),
    );
  }
}

export function requireKey(kind: string, options: PickOptions | undefined): string {
  const key = options?.key;
  if (typeof key !== "string") {
    throw new InvalidArgumentError(`a ${kind} balancer picks by key: pass pick({ key })`);
  }
  return key;
}
