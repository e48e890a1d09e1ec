import { BaseBalancer, type Entry, type SetChange } from "./base.js";
import type { Picked, PickOptions } from "./types.js";

/**
 * Smooth weighted round robin (the scheme nginx uses): every pick, each
 * instance earns its weight; the richest is chosen and pays the total. Equal
 * weights cycle in order; weights 5:1:1 give a a b a c a a, not a a a a a b c.
 * An instance keeps its earnings across updates, and a new one starts at zero.
 * With equal weights (the common case) and nothing excluded, the same order
 * is kept by a cursor in O(1) rather than the scheme's O(n) per pick.
 */
export class RoundRobinBalancer extends BaseBalancer {
  readonly kind = "round-robin" as const;
  private readonly earned = new Map<string, number>();
  /** The served entries in order, and whether they all weigh the same. */
  private order: Entry[] = [];
  private uniform = true;
  private cursor = 0;

  constructor(service?: string) {
    super(service);
  }

  pick(options?: PickOptions): Picked {
    const excluded = this.excluded(options);
    if (excluded === undefined && this.uniform && this.order.length > 0) {
      const entry = this.order[this.cursor % this.order.length]!;
      this.cursor = (this.cursor + 1) % this.order.length;
      return this.picked(entry);
    }
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
    this.order = [...this.entries.values()];
    const weight = this.order[0]?.instance.weight;
    this.uniform = this.order.every((entry) => entry.instance.weight === weight);
    if (this.order.length > 0) this.cursor %= this.order.length;
    return null;
  }
}
