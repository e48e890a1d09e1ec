import { BaseBalancer, type Entry, type SetChange } from "./base.js";
import type { Picked, PickOptions } from "./types.js";

/**
 * Smooth weighted round robin (the scheme nginx uses): every pick, each
 * instance earns its weight; the richest is chosen and pays the total. Equal
 * weights cycle in order; weights 5:1:1 give a a b a c a a, not a a a a a b c.
 * An instance keeps its earnings across updates, and a new one starts at zero.
 */
export class RoundRobinBalancer extends BaseBalancer {
  readonly kind = "round-robin" as const;
  private readonly earned = new Map<string, number>();

  constructor(service?: string) {
    super(service);
  }

  pick(options?: PickOptions): Picked {
    const excluded = this.excluded(options);
    let best: Entry | undefined;
    let bestEarned = 0;
    let total = 0;
    for (const [id, entry] of this.entries) {
      if (excluded?.has(id)) continue;
      const weight = entry.instance.weight;
      const earned = this.earned.get(id)! + weight;
      this.earned.set(id, earned);
      total += weight;
      if (best === undefined || earned > bestEarned) {
        best = entry;
        bestEarned = earned;
      }
    }
    if (best === undefined) throw this.noInstance(excluded);
    this.earned.set(best.instance.id, bestEarned - total);
    return this.picked(best);
  }

  protected apply(change: SetChange): null {
    for (const entry of change.removed) this.earned.delete(entry.instance.id);
    for (const entry of change.added) this.earned.set(entry.instance.id, 0);
    return null;
  }
}
