/**
 * What the phases need from a system under test: the same calls are made,
 * from the same process, against etcd (npm etcd3) and Conclave (our SDK),
 * plus each system's own way to read a member's status and metrics.
 */
import type { SystemName } from "./options.js";

export interface Watching {
  /** Stops the watch and releases its connection. */
  stop(): Promise<void>;
}

/** A lease kept alive through the client's normal keep-alive path. */
export interface KeptLease {
  /** Stops keeping it alive and revokes it. */
  revoke(): Promise<void>;
  /** Stops keeping it alive without revoking (it expires on its own); idempotent. */
  close(): void;
}

export interface MemberStatus {
  readonly term: number;
  readonly isLeader: boolean;
  readonly appliedIndex: number;
}

export interface KvTarget {
  readonly name: SystemName;
  /** The server processes whose CPU and memory are measured (they change on restart). */
  readonly pids: readonly number[];
  readonly endpoints: readonly string[];
  /** One data dir per member, in member order. */
  readonly dataDirs: readonly string[];
  /**
   * The /metrics counter of WAL fsyncs: etcd's exactly; Conclave's counts
   * persisted batches, an upper bound (a commit-index-only save skips the fsync).
   */
  readonly fsyncMetric: string;
  put(key: string, value: Uint8Array): Promise<void>;
  /** A linearizable read of one key. */
  get(key: string): Promise<void>;
  /**
   * Opens watcher number `index` on every key under `prefix`. `onEvents`
   * receives the number of events of each delivered batch. The watch may go
   * live after this resolves: callers confirm it with a probe put.
   */
  watchPrefix(prefix: string, index: number, onEvents: (count: number) => void): Promise<Watching>;
  /** Grants a lease and keeps it alive with the client's own keep-alive loop. */
  keptLease(ttlSeconds: number): Promise<KeptLease>;
  /** Keep-alives answered so far, over every lease this target kept. */
  keepAlivesAnswered(): number;
  /** Member `index`'s status, read from that member alone. */
  memberStatus(index: number, timeoutMs: number): Promise<MemberStatus>;
  /** Member `index`'s /metrics text. */
  metricsText(index: number, timeoutMs: number): Promise<string>;
  close(): Promise<void>;
}

/** A started cluster: its load target plus what stops and restarts its members. */
export interface RunningCluster {
  readonly target: KvTarget;
  readonly endpoints: readonly string[];
  /** etcd v3 gRPC endpoints, when the cluster serves them besides `endpoints`. */
  readonly grpcEndpoints?: readonly string[];
  /** Stops every member (SIGTERM, then SIGKILL after a grace period) and waits for the exits. */
  stop(): Promise<void>;
  /** Starts every member again with the same flags and data dirs; does not wait for them. */
  startAgain(): void;
}
