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

/** Multiplicative inverse of an odd 32-bit number modulo 2^32 (Newton's iteration). */
function inverseOdd(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x;
}

const INV_C1 = inverseOdd(0xcc9e2d51);
const INV_C2 = inverseOdd(0x1b873593);
const INV_5 = inverseOdd(5);
const INV_FMIX1 = inverseOdd(0x85ebca6b);
const INV_FMIX2 = inverseOdd(0xc2b2ae35);

/**
 * A 4-byte key whose murmur3_x86_32 (seed 0) is exactly `position`: every
 * step of murmur3 on one block is invertible, so adversarial key sets (all
 * keys hashing into one tiny arc) can be built directly.
 */
export function keyAtPosition(position: number): Uint8Array {
  // Undo fmix32.
  let h = position | 0;
  h ^= h >>> 16;
  h = Math.imul(h, INV_FMIX2);
  h ^= (h >>> 13) ^ (h >>> 26);
  h = Math.imul(h, INV_FMIX1);
  h ^= h >>> 16;
  // Undo the length xor and the block round (the seed is 0).
  h ^= 4;
  h = Math.imul((h - 0xe6546b64) | 0, INV_5);
  let k = (h >>> 13) | (h << 19);
  k = Math.imul(k, INV_C2);
  k = (k >>> 15) | (k << 17);
  k = Math.imul(k, INV_C1);
  return new Uint8Array(new Uint32Array([k >>> 0]).buffer);
}
