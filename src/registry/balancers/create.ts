import { InvalidArgumentError } from "../../errors.js";
import { DEFAULT_EPSILON, MAX_POINTS_PER_NODE } from "../../hashring/index.js";
import { isPrime } from "../../hashring/primes.js";
import { type Random, Xoshiro128 } from "../../raft/core/prng.js";
import { intIn } from "../check-spec.js";
import { MAX_WEIGHT, type ServiceInstance } from "../instance.js";
import { BoundedBalancer } from "./bounded.js";
import { HashBalancer } from "./hash.js";
import { PowerOfTwoBalancer } from "./p2c.js";
import { DEFAULT_PROBE_KEY_COUNT, MAX_PROBE_KEY_COUNT, probeKeys } from "./probes.js";
import { RoundRobinBalancer } from "./round-robin.js";
import { BALANCER_KINDS, type Balancer, type BalancerKind } from "./types.js";

/** Ring points for an instance of weight 1 (ring and bounded kinds). */
export const DEFAULT_BALANCER_POINTS_PER_NODE = 256;
/** The most points per weight unit: an instance of the heaviest weight must fit the ring's limit. */
export const MAX_BALANCER_POINTS_PER_NODE = Math.floor(MAX_POINTS_PER_NODE / MAX_WEIGHT);

export interface BalancerOptions {
  /** Named in NoInstanceError; learnt from the first update when omitted. */
  readonly service?: string;
  /** Instances to start with, as if passed to `update`. */
  readonly instances?: readonly ServiceInstance[];
  /** p2c: the random source's seed (default: a random seed). */
  readonly seed?: number;
  /** p2c: a random source of your own, instead of `seed`. */
  readonly random?: Random;
  /** ring, bounded: ring points per unit of weight, 1..419 (default 256). */
  readonly pointsPerNode?: number;
  /** maglev: a fixed prime table size (default: sized from the instance count). */
  readonly tableSize?: number;
  /** bounded: allowed excess over the average keys in flight (> 0, default 0.25). */
  readonly eps?: number;
  /** Hash kinds: probe keys an update report measures (0 turns measuring off; default 4096). */
  readonly probeKeyCount?: number;
}

/** Builds a balancer; see {@link BalancerKind} for the algorithms. */
export function createBalancer(kind: BalancerKind, options: BalancerOptions = {}): Balancer {
  if (!BALANCER_KINDS.includes(kind)) {
    throw new InvalidArgumentError(
      `balancer kind must be one of ${BALANCER_KINDS.join(", ")}, got ${JSON.stringify(kind)}`,
    );
  }
  if (options.service !== undefined && typeof options.service !== "string") {
    throw new InvalidArgumentError("service must be a string");
  }
  const probes = probeKeys(
    intIn(options.probeKeyCount, DEFAULT_PROBE_KEY_COUNT, 0, MAX_PROBE_KEY_COUNT, "probeKeyCount"),
  );
  const pointsPerNode = intIn(
    options.pointsPerNode,
    DEFAULT_BALANCER_POINTS_PER_NODE,
    1,
    MAX_BALANCER_POINTS_PER_NODE,
    "pointsPerNode",
  );
  let balancer: Balancer;
  switch (kind) {
    case "round-robin":
      balancer = new RoundRobinBalancer(options.service);
      break;
    case "p2c":
      balancer = new PowerOfTwoBalancer(randomSource(options), options.service);
      break;
    case "ring":
      balancer = new HashBalancer(
        "ring",
        { pointsPerNode, tableSize: undefined },
        probes,
        options.service,
      );
      break;
    case "maglev":
      balancer = new HashBalancer(
        "maglev",
        { pointsPerNode, tableSize: tableSize(options.tableSize) },
        probes,
        options.service,
      );
      break;
    case "bounded":
      balancer = new BoundedBalancer(
        { pointsPerNode, eps: epsilon(options.eps) },
        probes,
        options.service,
      );
      break;
  }
  if (options.instances !== undefined) balancer.update(options.instances);
  return balancer;
}

function randomSource(options: BalancerOptions): Random {
  if (options.random !== undefined) {
    if (typeof options.random.float !== "function") {
      throw new InvalidArgumentError("random must have a float() method");
    }
    return options.random;
  }
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isSafeInteger(seed)) {
    throw new InvalidArgumentError(`seed must be an integer, got ${JSON.stringify(seed)}`);
  }
  return new Xoshiro128(seed);
}

function tableSize(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || !isPrime(value)) {
    throw new InvalidArgumentError(`tableSize must be a prime, got ${JSON.stringify(value)}`);
  }
  return value;
}

function epsilon(value: number | undefined): number {
  if (value === undefined) return DEFAULT_EPSILON;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`eps must be a finite number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}
