import type { HashKey } from "./keys.js";
import type { NodeSpec } from "./nodes.js";

/** The stateless algorithms that share the {@link Placement} interface. */
export type AlgorithmName = "ring" | "ketama" | "jump" | "rendezvous" | "maglev";

/** Configuration format tag written by every toJSON(); restore() checks it. */
export const CONFIG_FORMAT = "conclave.hashring/v1";

interface ConfigBase {
  readonly format: typeof CONFIG_FORMAT;
  readonly nodes: readonly NodeSpec[];
}

export interface RingConfig extends ConfigBase {
  readonly algorithm: "ring";
  readonly pointsPerNode: number;
}
export interface KetamaConfig extends ConfigBase {
  readonly algorithm: "ketama";
}
export interface JumpConfig extends ConfigBase {
  readonly algorithm: "jump";
}
export interface RendezvousConfig extends ConfigBase {
  readonly algorithm: "rendezvous";
}
export interface MaglevConfig extends ConfigBase {
  readonly algorithm: "maglev";
  /** Current table size; null until the first node arrives when sized automatically. */
  readonly tableSize: number | null;
  /** True when the size was chosen automatically and may grow with the node count. */
  readonly autoSize: boolean;
}

export type PlacementConfig =
  | RingConfig
  | KetamaConfig
  | JumpConfig
  | RendezvousConfig
  | MaglevConfig;

/**
 * The one small interface behind every stateless algorithm: maintain a set of
 * weighted nodes and map keys to them. All methods are synchronous; lookups
 * allocate nothing for string keys (getN allocates its result array).
 */
export interface Placement {
  readonly algorithm: AlgorithmName;
  /** Number of nodes. */
  readonly size: number;
  /** Adds a node; weight defaults to 1. */
  addNode(id: string, weight?: number): void;
  /** Removes a node; its keys move to the nodes that now own them. */
  removeNode(id: string): void;
  hasNode(id: string): boolean;
  /** The nodes in insertion order. */
  nodes(): NodeSpec[];
  /** The node that owns `key`. */
  get(key: HashKey): string;
  /** `n` distinct nodes for `key` (replicas), the owner first, in a stable order. */
  getN(key: HashKey, n: number): string[];
  /** The configuration: JSON-safe, and restore(toJSON()) maps every key the same. */
  toJSON(): PlacementConfig;
}
