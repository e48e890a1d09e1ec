import { createPlacement, type Placement } from "../../src/hashring/index.js";

/** Every fast-check run in these tests is reproducible from this seed. */
export const FC_SEED = 424242;

export const STATELESS_ALGORITHMS = ["ring", "ketama", "jump", "rendezvous", "maglev"] as const;
export type StatelessAlgorithm = (typeof STATELESS_ALGORITHMS)[number];

/** A small deterministic PRNG for building fixed key sets. */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** `count` distinct printable keys from a seed. */
export function seededKeys(count: number, seed: number, prefix = "key"): string[] {
  const next = splitmix32(seed);
  return Array.from({ length: count }, (_, i) => `${prefix}:${i}:${next().toString(36)}`);
}

export function nodeNames(count: number, prefix = "node"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** A placement of the given algorithm; rings use fewer points so property runs stay quick. */
export function build(algorithm: StatelessAlgorithm, nodes: readonly string[]): Placement {
  return algorithm === "ring"
    ? createPlacement({ algorithm, pointsPerNode: 200, nodes })
    : createPlacement({ algorithm, nodes });
}

export function owners(placement: Placement, keys: readonly string[]): string[] {
  return keys.map((k) => placement.get(k));
}
