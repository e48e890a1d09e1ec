import type { Random } from "../../raft/core/prng.js";
import { BaseBalancer, type Entry, type SetChange } from "./base.js";
import type { Picked, PickOptions } from "./types.js";

/**
 * Power of two choices (Mitzenmacher): draw two distinct instances at random,
 * each with probability proportional to its weight, and take the one with
 * fewer requests in flight per unit of weight. Nearly as even as "least
 * loaded" without its herding onto one idle instance, and it needs no shared
 * state beyond the in-flight counts this balancer keeps. Without exclusions
 * a draw is a binary search over cumulative weights kept since the last
 * update, O(log n); with exclusions (retries) it scans the candidates.
 */
export class PowerOfTwoBalancer extends BaseBalancer {
  readonly kind = "p2c" as const;
  private readonly random: Random;
  /** The served entries and their running weight totals, rebuilt on each update. */
  private order: Entry[] = [];
  private cumulative = new Float64Array(0);

  constructor(random: Random, service?: string) {
    super(service);
    this.random = random;
  }

  pick(options?: PickOptions): Picked {
    const excluded = this.excluded(options);
    if (excluded === undefined && this.order.length > 1) {
      const first = this.drawIndexed();
      // A second draw distinct from the first: retried a few times (a heavy
      // instance may come up again), then the next one in order.
      let second = this.drawIndexed();
      for (let tries = 0; second === first && tries < 8; tries++) second = this.drawIndexed();
      if (second === first)
        second = this.order[(this.order.indexOf(first) + 1) % this.order.length]!;
      return this.picked(load(second) < load(first) ? second : first);
    }
    const candidates: Entry[] = [];
    let totalWeight = 0;
    for (const [id, entry] of this.entries) {
      if (excluded?.has(id)) continue;
      candidates.push(entry);
      totalWeight += entry.instance.weight;
    }
    if (candidates.length === 0) throw this.noInstance(excluded);
    if (candidates.length === 1) return this.picked(candidates[0]!);
    const first = this.draw(candidates, totalWeight, undefined);
    const second = this.draw(candidates, totalWeight - first.instance.weight, first);
    return this.picked(load(second) < load(first) ? second : first);
  }

  protected apply(_change: SetChange): null {
    this.order = [...this.entries.values()];
    this.cumulative = new Float64Array(this.order.length);
    let total = 0;
    for (const [i, entry] of this.order.entries()) {
      total += entry.instance.weight;
      this.cumulative[i] = total;
    }
    return null;
  }

  /** One entry drawn in proportion to weight: the first whose running total exceeds the target. */
  private drawIndexed(): Entry {
    const total = this.cumulative[this.cumulative.length - 1]!;
    const target = this.random.float() * total;
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cumulative[mid]! > target) high = mid;
      else low = mid + 1;
    }
    return this.order[low]!;
  }

  /** One candidate, drawn in proportion to weight, never `skip`. */
  private draw(candidates: readonly Entry[], totalWeight: number, skip: Entry | undefined): Entry {
    let target = this.random.float() * totalWeight;
    let last: Entry | undefined;
    for (const entry of candidates) {
      if (entry === skip) continue;
      last = entry;
      target -= entry.instance.weight;
      if (target < 0) return entry;
    }
    // Rounding can leave target at a hair above zero after the last candidate.
    return last!;
  }
}

/** Requests in flight per unit of weight, counting the one about to be sent. */
function load(entry: Entry): number {
  return (entry.inFlight + 1) / entry.instance.weight;
}
