/**
 * The balancers measured in process: decisions per second for each kind
 * (pick + release, keyed for the hash kinds) and, for the hash kinds, the
 * fraction of keys that change owner when one instance leaves or joins,
 * against the ideal (1/n). Medians over rounds.
 */
import {
  BALANCER_KINDS,
  type BalancerKind,
  createBalancer,
  type ServiceInstance,
  validateInstance,
} from "../../src/registry/index.js";

export interface BalancerFigures {
  readonly instances: number;
  /** Median decisions per second by kind. */
  readonly decisionsPerSecond: Record<BalancerKind, number>;
  /** For the hash kinds: median moved fraction / ideal fraction, on leave and on join. */
  readonly movedVsIdeal: Partial<Record<BalancerKind, { leave: number; join: number }>>;
}

const HASH_KINDS: readonly BalancerKind[] = ["ring", "maglev", "bounded"];

function instancesOf(count: number): ServiceInstance[] {
  return Array.from({ length: count }, (_, i) =>
    validateInstance({
      service: "bench",
      id: `i-${i}`,
      address: `10.0.${i >> 8}.${i & 255}`,
      port: 8080,
    }),
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function decisionsPerSecond(
  kind: BalancerKind,
  instances: readonly ServiceInstance[],
  picks: number,
): number {
  const balancer = createBalancer(kind, { instances, seed: 7, probeKeyCount: 0 });
  const keys = Array.from({ length: 4096 }, (_, i) => `user-${i}`);
  const hashed = HASH_KINDS.includes(kind);
  const started = process.hrtime.bigint();
  for (let i = 0; i < picks; i++) {
    const picked = hashed ? balancer.pick({ key: keys[i & 4095] as string }) : balancer.pick();
    picked.release();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return picks / seconds;
}

function movedVsIdeal(kind: BalancerKind, count: number): { leave: number; join: number } {
  const all = instancesOf(count + 1);
  const balancer = createBalancer(kind, { instances: all.slice(0, count), seed: 7 });
  const join = balancer.update(all);
  const leave = balancer.update(all.slice(1));
  const ratio = (r: { movedFraction: number | null; idealFraction: number }) =>
    (r.movedFraction ?? Number.NaN) / r.idealFraction;
  return { leave: ratio(leave), join: ratio(join) };
}

/** Runs `rounds` rounds, every kind in each, and reports medians. */
export function measureBalancers(options: {
  instances: number;
  picks: number;
  rounds: number;
}): BalancerFigures {
  const instances = instancesOf(options.instances);
  const rates = new Map<BalancerKind, number[]>();
  const moved = new Map<BalancerKind, { leave: number[]; join: number[] }>();
  for (let round = 0; round < options.rounds; round++) {
    for (const kind of BALANCER_KINDS) {
      const rate = decisionsPerSecond(kind, instances, options.picks);
      rates.set(kind, [...(rates.get(kind) ?? []), rate]);
      if (!HASH_KINDS.includes(kind)) continue;
      const m = movedVsIdeal(kind, options.instances);
      const acc = moved.get(kind) ?? { leave: [], join: [] };
      acc.leave.push(m.leave);
      acc.join.push(m.join);
      moved.set(kind, acc);
    }
  }
  const decisions = Object.fromEntries(
    BALANCER_KINDS.map((k) => [k, median(rates.get(k) ?? [])]),
  ) as Record<BalancerKind, number>;
  const movedVs: BalancerFigures["movedVsIdeal"] = {};
  for (const [kind, acc] of moved) {
    movedVs[kind] = { leave: median(acc.leave), join: median(acc.join) };
  }
  return { instances: options.instances, decisionsPerSecond: decisions, movedVsIdeal: movedVs };
}
