/**
 * conclave/hashring — consistent hashing behind one small interface.
 *
 * Stateless placements (all implement {@link Placement}):
 *   VirtualNodeRing  the default ring: virtual nodes, murmur3, weights
 *   KetamaRing       libmemcached / twemproxy ketama, byte for byte
 *   JumpHash         Lamping & Veach jump consistent hash over buckets
 *   RendezvousHash   weighted highest-random-weight
 *   MaglevHash       Maglev lookup table
 * Stateful:
 *   BoundedLoadPlacement  consistent hashing with bounded loads
 * Migration plans: planArcMigration (rings), planKeyMigration (any).
 */
export {
  type BoundedLoadConfig,
  type BoundedLoadNodeConfig,
  type BoundedLoadOptions,
  BoundedLoadPlacement,
  boundedCapacity,
  DEFAULT_EPSILON,
  type KeyMove,
} from "./bounded-loads.js";
export { createPlacement, type PlacementOptions, restore, restoreBoundedLoads } from "./config.js";
export {
  DuplicateNodeError,
  EmptyRingError,
  HashringError,
  IncompatiblePlacementsError,
  InvalidConfigurationError,
  InvalidKeyError,
  InvalidNodeIdError,
  InvalidOptionError,
  InvalidWeightError,
  KeyNotPlacedError,
  NotEnoughNodesError,
  TableSizeNotPrimeError,
  UnknownNodeError,
  UnsupportedChangeError,
} from "./errors.js";
export { JumpHash, jumpBucket, jumpBucketBigInt, MAX_JUMP_BUCKETS } from "./jump.js";
export {
  KetamaRing,
  ketamaPointCount,
  ketamaPosition,
  MAX_KETAMA_TOTAL_WEIGHT,
} from "./ketama.js";
export type { KeyJson } from "./key-identity.js";
export type { HashKey } from "./keys.js";
export {
  AUTO_MAX_TABLE_SIZE,
  AUTO_REGROW_FRACTION,
  AUTO_SLOTS_PER_NODE,
  AUTO_SLOTS_PER_NODE_SQUARED,
  autoTableSlots,
  MAX_TABLE_SIZE,
  MaglevHash,
  type MaglevOptions,
} from "./maglev.js";
export {
  type ArcMove,
  findArc,
  type KeyOwnerChange,
  planArcMigration,
  planKeyMigration,
} from "./migration.js";
export { murmur3Key } from "./murmur3.js";
export { MAX_NODE_ID_LENGTH, type NodeSpec } from "./nodes.js";
export { RendezvousHash } from "./rendezvous.js";
export {
  DEFAULT_POINTS_PER_NODE,
  MAX_POINTS_PER_NODE,
  type RingOptions,
  ringPosition,
  VirtualNodeRing,
} from "./ring.js";
export {
  type AlgorithmName,
  CONFIG_FORMAT,
  type JumpConfig,
  type KetamaConfig,
  type MaglevConfig,
  type Placement,
  type PlacementConfig,
  type RendezvousConfig,
  type RingConfig,
} from "./types.js";
