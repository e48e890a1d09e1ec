import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RaftNodeObserver } from "../raft/node/index.js";
import { DefenceMetrics, type DefenceSources } from "./defence-metrics.js";

/**
 * Prometheus metrics of one server: its node, its key space and its HTTP
 * traffic, in a registry of its own so several nodes in one process do not
 * collide. Gauges are read from their sources at scrape time.
 */

/** What the scrape-time gauges read; a RaftNode and a KvStore in production. */
export interface MetricsSources {
  readonly node: DefenceSources & {
    status(): {
      readonly term: number;
      readonly role: string;
      readonly leader: number;
      readonly commitIndex: number;
      readonly appliedIndex: number;
      readonly peers: readonly { readonly id: number; readonly lag: number }[];
    };
  };
  /** The backend quota writes are refused past (the server's quotaBackendBytes). */
  readonly quotaBytes?: number;
  readonly store: {
    readonly revision: number;
    readonly compactRevision: number;
    readonly keyCount: number;
    readonly leaseCount: number;
    readonly sizeBytes: number;
    readonly alarms: { has(alarm: "NOSPACE"): boolean };
  };
}

export interface ServerMetricsOptions {
  /** Prefix of every metric name; default `conclave_`. */
  readonly prefix?: string;
  /**
   * Sample this process's event-loop delay for `event_loop_delay_max_seconds`
   * (the member process turns it on; the figure is the whole process's, so
   * nodes sharing a process all show the same stalls). Off by default.
   */
  readonly eventLoopDelay?: boolean;
  /**
   * Add prom-client's process and Node.js metrics under their standard names
   * (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
   * `nodejs_heap_size_used_bytes`, `nodejs_eventloop_lag_seconds`, GC
   * durations...), so stock dashboards work. They describe the whole process:
   * the member process turns them on; several nodes in one process would all
   * report the same figures. Off by default.
   */
  readonly processMetrics?: boolean;
}

/** Seconds; persist (fsync) and apply are usually sub-millisecond to tens of ms. */
const STORAGE_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];
const HTTP_BUCKETS_S = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Sampling period of the event-loop delay monitor; delays shorter than this are not seen. */
export const LOOP_DELAY_RESOLUTION_MS = 10;

/** The route label of a request that matched no route: one series, not one per URL. */
export const UNMATCHED_ROUTE = "unmatched";

export class ServerMetrics {
  readonly registry = new Registry();
  /** Pass as RaftNodeOptions.observer so persist/apply timings and proposals are counted. */
  readonly nodeObserver: RaftNodeObserver;
  /** Refused connections, peer messages, credentials and membership changes. */
  readonly defences: DefenceMetrics;
  private sources: MetricsSources | undefined;
  private readActiveWatchers: (() => number) | undefined;
  private readWatchBufferedBytes: (() => number) | undefined;
  private readonly watchStreamsCut: Counter<"budget">;
  private readonly watchFramesEncoded: Counter;
  private readonly httpRequests: Counter<"method" | "route" | "status_code">;
  private readonly httpDuration: Histogram<"method" | "route" | "status_code">;
  private readonly leasesExpired: Counter;
  private readonly leaderForwards: Counter<"outcome">;
  private readonly batchedRequests: Counter;
  private readonly loopDelay: IntervalHistogram | undefined;

  constructor(options: ServerMetricsOptions = {}) {
    const p = options.prefix ?? "conclave_";
    const registers = [this.registry];
    const status = () => this.sources?.node.status();
    const store = () => this.sources?.store;
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: p + name,
        help,
        registers,
        collect() {
          const v = read();
          if (v !== undefined) this.set(v);
        },
      });

    gauge("raft_term", "Current Raft term of this node.", () => status()?.term);
    gauge("raft_commit_index", "Highest log index this node knows committed.", () => {
      return status()?.commitIndex;
    });
    gauge("raft_applied_index", "Highest log index applied to the key space.", () => {
      return status()?.appliedIndex;
    });
    gauge("raft_leader_id", "Node id of the known leader; 0 when none is known.", () => {
      return status()?.leader;
    });
    gauge("raft_is_leader", "1 when this node is the leader, else 0.", () => {
      const st = status();
      return st === undefined ? undefined : st.role === "leader" ? 1 : 0;
    });
    gauge("kv_revision", "Current revision of the key space.", () => store()?.revision);
    gauge("kv_compact_revision", "Revision the history was compacted at.", () => {
      return store()?.compactRevision;
    });
    gauge("kv_keys", "Keys with history in the key space.", () => store()?.keyCount);
    gauge("kv_leases", "Leases in the key space.", () => store()?.leaseCount);
    gauge("kv_size_bytes", "Size of the key space as the backend quota counts it.", () => {
      return store()?.sizeBytes;
    });
    gauge(
      "kv_quota_bytes",
      "The backend quota: writes that take space are refused past it.",
      () => {
        return this.sources?.quotaBytes;
      },
    );
    new Gauge({
      name: `${p}raft_follower_lag_entries`,
      help: "On the leader: entries each follower's match index is behind the leader's last index (no series elsewhere).",
      labelNames: ["peer"] as const,
      registers,
      collect() {
        this.reset();
        const st = status();
        if (st === undefined || st.role !== "leader") return;
        for (const peer of st.peers) this.set({ peer: String(peer.id) }, peer.lag);
      },
    });
    gauge("kv_nospace_alarm", "1 while a NOSPACE alarm refuses writes, else 0.", () => {
      const s = store();
      return s === undefined ? undefined : s.alarms.has("NOSPACE") ? 1 : 0;
    });
    gauge("watchers_active", "Watch streams open on this server.", () => {
      return this.readActiveWatchers?.();
    });
    gauge(
      "watch_buffered_bytes",
      "Bytes watch streams hold for their readers (queued or in sockets), a shared frame once.",
      () => this.readWatchBufferedBytes?.(),
    );
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
    if (options.eventLoopDelay === true) {
      const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
      loopDelay.enable();
      this.loopDelay = loopDelay;
      // The worst stall between two scrapes: a snapshot or a GC pause that
      // blocks for a second shows even when the scrapes are a minute apart.
      gauge(
        "event_loop_delay_max_seconds",
        "Longest event-loop delay of this process since the previous scrape.",
        () => {
          const maxNs = loopDelay.max;
          loopDelay.reset();
          return maxNs / 1e9;
        },
      );
    }
    this.watchStreamsCut = new Counter({
      name: `${p}watch_streams_cut_total`,
      help: "Watch streams ended with WATCH_TOO_SLOW, by the budget they were over (stream or total).",
      labelNames: ["budget"] as const,
      registers,
    });
    for (const budget of ["stream", "total"]) this.watchStreamsCut.inc({ budget }, 0);
    this.watchFramesEncoded = new Counter({
      name: `${p}watch_frames_encoded_total`,
      help: "Watch event messages encoded: one per revision and distinct event set, however many streams send it.",
      registers,
    });

    const leaderChanges = new Counter({
      name: `${p}raft_leader_changes_total`,
      help: "Times this node saw the leader change (including to none).",
      registers,
    });
    const proposals = new Counter({
      name: `${p}raft_proposals_total`,
      help: "Proposals made on this node, by outcome (committed or failed).",
      labelNames: ["outcome"] as const,
      registers,
    });
    const persist = new Histogram({
      name: `${p}raft_persist_duration_seconds`,
      help: "Time to persist (append and fsync) one batch of Raft state.",
      buckets: STORAGE_BUCKETS_S,
      registers,
    });
    const apply = new Histogram({
      name: `${p}raft_apply_duration_seconds`,
      help: "Time to apply one batch of committed entries to the key space.",
      buckets: STORAGE_BUCKETS_S,
      registers,
    });
    const snapshots = new Counter({
      name: `${p}raft_snapshots_total`,
      help: "Snapshots this node created of its state or installed from a leader.",
      labelNames: ["kind"] as const,
      registers,
    });
    // Present from the start so a scrape shows 0 rather than no series.
    for (const outcome of ["committed", "failed"]) proposals.inc({ outcome }, 0);
    for (const kind of ["created", "installed"]) snapshots.inc({ kind }, 0);

    this.nodeObserver = {
      onPersist: (durationMs) => persist.observe(durationMs / 1000),
      onApply: (durationMs) => apply.observe(durationMs / 1000),
      onLeaderChange: () => leaderChanges.inc(),
      onProposal: (outcome) => proposals.inc({ outcome }),
      onSnapshot: (kind) => snapshots.inc({ kind }),
    };

    this.defences = new DefenceMetrics(this.registry, p, () => this.sources?.node);

    this.httpRequests = new Counter({
      name: `${p}http_requests_total`,
      help: "HTTP requests answered, by method, route pattern and status code.",
      labelNames: ["method", "route", "status_code"] as const,
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: "Time from receiving a request to sending its answer.",
      labelNames: ["method", "route", "status_code"] as const,
      buckets: HTTP_BUCKETS_S,
      registers,
    });
    this.leasesExpired = new Counter({
      name: `${p}lease_expired_total`,
      help: "Leases this node revoked because their TTL passed while it led.",
      registers,
    });
    this.leaderForwards = new Counter({
      name: `${p}leader_forwards_total`,
      help: "Requests a follower sent on to the leader, by outcome (see leader-forward.ts).",
      labelNames: ["outcome"] as const,
      registers,
    });
    this.batchedRequests = new Counter({
      name: `${p}kv_batched_requests_total`,
      help: "Key-space requests that arrived in a /v3/kv/batch (each batch counts once in http_requests_total).",
      registers,
    });
  }

  /** Points the scrape-time gauges at a node and store (createServer does this). */
  bindSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** Makes `watchers_active` read `count` at each scrape (for the watch route). */
  setActiveWatchers(count: () => number): void {
    this.readActiveWatchers = count;
  }

  /** Makes `watch_buffered_bytes` read `bytes` at each scrape (for the watch route). */
  setWatchBufferedBytes(bytes: () => number): void {
    this.readWatchBufferedBytes = bytes;
  }

  watchStreamCut(budget: "stream" | "total"): void {
    this.watchStreamsCut.inc({ budget });
  }

  watchFrameEncoded(): void {
    this.watchFramesEncoded.inc();
  }

  /** `route` is the route pattern (never the raw URL, to bound the label's values). */
  observeRequest(method: string, route: string, statusCode: number, durationMs: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, durationMs / 1000);
  }

  leaseExpired(): void {
    this.leasesExpired.inc();
  }

  /** A /v3/kv/batch carrying `requests` requests. */
  batchArrived(requests: number): void {
    this.batchedRequests.inc(requests);
  }

  /** One request this follower tried to forward to the leader, and what came of it. */
  leaderForward(outcome: string): void {
    this.leaderForwards.inc({ outcome });
  }

  /** Stops sampling the event loop (the server's close). */
  close(): void {
    this.loopDelay?.disable();
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Metrics for one server. Create them before the node so `nodeObserver` can
 * be passed to RaftNode.start, then pass the result as createServer's `metrics`.
 */
export function createServerMetrics(options?: ServerMetricsOptions): ServerMetrics {
  return new ServerMetrics(options);
}
