/**
 * `conclave serve --shards N`: one node of the sharded tier. One peer
 * transport (authenticated as for an unsharded member) carries every group
 * this node hosts; each group keeps its log and key space under
 * `<data-dir>/groups/<group>/`; the agent runs the control loop and, on the
 * meta group's leader, the placement controller; the client API is
 * /v3/shard/* (routes.ts).
 */
import { access, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Logger, pino } from "pino";
import { gridClock, systemClock } from "../clock.js";
import type { MvccBackend } from "../kv/backend/backend.js";
import { KvStore } from "../kv/index.js";
import { processEnv } from "../raft/node/env.js";
import { NodeStorageFs, SharedJournal, WalStorage } from "../raft/storage/index.js";
import { GroupMux, isLoopbackHost, parsePeerAddress } from "../raft/transport/index.js";
import type { ServerLimits } from "../server/options.js";
import { DEFAULT_MAX_REQUEST_DEPTH } from "../server/request-depth.js";
import { createTransport } from "../server/runtime/assemble.js";
import type { ServeConfig } from "../server/runtime/config.js";
import { openKvBackend } from "../server/runtime/kv-backend.js";
import { ShardAgent } from "./agent.js";
import { initialMap } from "./controller.js";
import { GroupDirs } from "./group-dirs.js";
import { ShardHost } from "./host.js";
import { createShardApiApp, type DurabilityStats } from "./routes.js";
import type { GroupId } from "./types.js";

export interface ShardedReadyInfo {
  readonly ready: true;
  readonly sharded: true;
  readonly name: string;
  readonly id: number;
  readonly pid: number;
  readonly clientUrl: string;
  readonly peer: string;
  readonly dataDir: string;
  readonly shards: number;
}

export interface RunningShardedServer {
  readonly info: ShardedReadyInfo;
  stop(): Promise<void>;
  /** Settles with a non-zero exit code if a group's node fails on its own. */
  readonly failed: Promise<number>;
  readonly log: Logger;
  readonly host: ShardHost;
  readonly agent: ShardAgent;
}

const EXIT_NODE_FAILED = 70;

export async function runShardedServe(config: ServeConfig): Promise<RunningShardedServer> {
  const log = pino(
    { level: config.logLevel, base: { name: config.name, id: config.nodeId, sharded: true } },
    pino.destination({ fd: 2, sync: true }),
  );
  const groupsDir = join(config.dataDir, "groups");
  const quiesce = config.shardQuiesceTicks > 0;
  await mkdir(groupsDir, { recursive: true });
  const fs = new NodeStorageFs();
  const dirs = new GroupDirs(groupsDir, fs);
  // What the journal holds goes back into the groups' logs before any opens,
  // also when this run does not use one (an earlier run may have).
  const journalDir = join(config.dataDir, "journal");
  const replayed = await SharedJournal.recover(fs, journalDir, (stream) => dirs.locate(stream));
  if (replayed.files > 0) {
    log.warn(
      { journal: replayed },
      "this node did not stop cleanly: its journal was replayed into the groups' logs",
    );
  }
  const journal = config.shardJournal ? await SharedJournal.open(fs, journalDir) : undefined;
  const transport = await createTransport(config, log.child({ component: "transport" }), {
    // A node joining the cluster announces itself on the control channel
    // before anyone has added it as a peer.
    admitUnknownPeers: true,
    // Every group's messages to a peer in one loop turn share a write.
    coalesceWrites: true,
  });
  const mux = new GroupMux(transport);
  let reportFailure: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => {
    reportFailure = resolve;
  });
  const backends = new Map<GroupId, MvccBackend>();
  const wals = new Map<GroupId, WalStorage>();
  // Counters of the logs already closed, so the totals survive moves.
  const closedLogs = { appends: 0, syncs: 0 };
  const durability = (): DurabilityStats => {
    let walAppends = closedLogs.appends;
    let walSegmentSyncs = closedLogs.syncs;
    for (const wal of wals.values()) {
      const st = wal.stats();
      walAppends += st.recordAppends;
      walSegmentSyncs += st.recordSyncs;
    }
    const j = journal?.stats;
    return {
      walAppends,
      walSegmentSyncs,
      ...(j !== undefined && { journal: { flushes: j.flushes, records: j.records } }),
    };
  };
  const host = new ShardHost({
    id: config.nodeId,
    mux,
    // Every group ticks on one grid (half a heartbeat): their heartbeats to a
    // peer leave in one write, not one per group.
    env: { ...processEnv, clock: gridClock(systemClock, config.heartbeatMs / 2) },
    timing: {
      heartbeatMs: config.heartbeatMs,
      electionMs: config.electionMs,
      requestTimeoutMs: config.requestTimeoutMs,
      snapshotEveryEntries: config.snapshotEveryEntries,
      leaseCheckMs: config.heartbeatMs * 5,
      // An idle group stops ticking: no timer, no heartbeats (see
      // raft/node/quiescence.ts); the agent's node-to-node pings wake the
      // groups of a peer that goes silent.
      ...(quiesce && { quiesceAfterTicks: config.shardQuiesceTicks }),
    },
    resources: {
      openStorage: async (group) => {
        const incarnation = await dirs.ensure(group);
        const stream = GroupDirs.stream(group, incarnation);
        const wal = await WalStorage.open(dirs.walDir(group), {
          clusterId: `${config.clusterId}/${group}`,
          nodeId: config.nodeId,
          snapshotCatchUpEntries: config.snapshotCatchUpEntries,
          snapshotCatchUpBytes: config.snapshotCatchUpBytes,
          fs,
          ...(journal !== undefined && { journal: { attach: (m) => journal.attach(stream, m) } }),
        });
        wals.set(group, wal);
        return wal;
      },
      openStore: (group) => {
        const backend = openKvBackend(config, dirs.kvDir(group));
        backends.set(group, backend);
        return new KvStore({ maxTxnRangeBytes: config.maxRangeBytes, backend });
      },
      release: async (group) => {
        const wal = wals.get(group);
        if (wal !== undefined) {
          const st = wal.stats();
          closedLogs.appends += st.recordAppends;
          closedLogs.syncs += st.recordSyncs;
          wals.delete(group);
        }
        const backend = backends.get(group);
        backends.delete(group);
        await backend?.close();
      },
      destroy: async (group) => {
        log.info({ group }, "replica removed from its group: deleting its data");
        await rm(dirs.dirOf(group), { recursive: true, force: true });
      },
      existing: () => dirs.existing(),
    },
    observe: {
      fatal: (group, err) => {
        log.fatal({ err, group }, "a group's raft node stopped on a fatal error");
        reportFailure(EXIT_NODE_FAILED);
      },
    },
  });
  const founders = config.initialCluster.map((m) => ({
    id: m.id,
    peer: m.peerAddress,
    client: m.clientUrl ?? "",
    capacity: 1,
    draining: false,
  }));
  const self = {
    id: config.nodeId,
    peer: config.advertisePeer,
    client: config.advertiseClientUrl,
    capacity: config.capacity,
  };
  const foundedFile = join(config.dataDir, "founded");
  const agent = new ShardAgent({
    self,
    host,
    mux,
    carrier: transport,
    clock: systemClock,
    founding: initialMap(
      founders.map((f) => (f.id === self.id ? { ...f, capacity: self.capacity } : f)),
      { shardCount: config.shards, replication: config.replication },
    ),
    founder: !config.join,
    seeds: new Map(
      config.initialCluster.filter((m) => m.id !== self.id).map((m) => [m.id, m.peerAddress]),
    ),
    heartbeatIntervalMs: Math.max(config.heartbeatMs * 5, 200),
    ...(quiesce && {
      liveness: { intervalMs: config.heartbeatMs, timeoutMs: config.electionMs },
    }),
    controller: {
      shardCount: config.shards,
      replication: config.replication,
      failureTimeoutMs: config.shardFailureTimeoutMs,
      maxMoving: config.shardMaxMoving,
      catchUpEntries: 64,
    },
    founded: {
      get: async () =>
        access(foundedFile).then(
          () => true,
          () => false,
        ),
      set: async () => writeFile(foundedFile, `${new Date().toISOString()}\n`),
    },
    onError: (err) => log.warn({ err }, "shard control loop"),
    onEvent: (event) => log.info(event),
  });
  await transport.start();
  await agent.start();
  const limits: ServerLimits = {
    bodyLimitBytes: config.bodyLimitBytes,
    maxKeyBytes: config.maxKeyBytes,
    maxValueBytes: config.maxValueBytes,
    maxTxnOps: config.maxTxnOps,
    maxRequestDepth: DEFAULT_MAX_REQUEST_DEPTH,
    requestTimeoutMs: config.requestTimeoutMs,
    maxRangeBytes: config.maxRangeBytes,
    quotaBackendBytes: config.quotaBackendBytes,
  };
  const app = createShardApiApp({
    host,
    agent,
    limits,
    clock: systemClock,
    watch: config,
    // Three election timeouts: an election in progress does not end streams.
    watchLeaderlessMs: config.electionMs * 3,
    durability,
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      agent.stop();
      await app.close();
      await host.stop();
      await journal?.close();
      await transport.stop();
      log.info("stopped");
    })();
    return stopping;
  };
  try {
    const listen = parsePeerAddress(config.listenClient);
    await app.listen({ host: listen.host, port: listen.port });
  } catch (err) {
    await stop();
    throw err;
  }
  if (!isLoopbackHost(parsePeerAddress(config.listenClient).host)) {
    log.warn(
      { insecure: true },
      "the sharded API has no client authentication: anyone who reaches this address can read and write every shard",
    );
  }
  const info: ShardedReadyInfo = {
    ready: true,
    sharded: true,
    name: config.name,
    id: config.nodeId,
    pid: process.pid,
    clientUrl: config.advertiseClientUrl,
    peer: config.advertisePeer,
    dataDir: config.dataDir,
    shards: config.shards,
  };
  log.info(info, "serving");
  return { info, stop, failed, log, host, agent };
}
