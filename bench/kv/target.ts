/**
 * What the load generator needs from a system under test: the same calls are
 * made, from the same process, against etcd (npm etcd3) and Conclave (our SDK).
 */
import type { SystemName } from "./options.js";

export interface Watching {
  /** Stops the watch and releases its connection. */
  stop(): Promise<void>;
}

export interface KvTarget {
  readonly name: SystemName;
  /** The server processes whose CPU and memory are measured. */
  readonly pids: readonly number[];
  put(key: string, value: Uint8Array): Promise<void>;
  /** A linearizable read of one key. */
  get(key: string): Promise<void>;
  /**
   * Opens watcher number `index` on every key under `prefix`. `onEvents`
   * receives the number of events of each delivered batch. The watch may go
   * live after this resolves: callers confirm it with a probe put.
   */
  watchPrefix(prefix: string, index: number, onEvents: (count: number) => void): Promise<Watching>;
  close(): Promise<void>;
}

/** A started cluster: its load target plus what stops it. */
export interface RunningCluster {
  readonly target: KvTarget;
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}
