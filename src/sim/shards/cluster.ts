/**
 * The sharded tier under the simulator: every node is the shipped
 * ShardHost + ShardAgent (and, on the meta group's leader, the
 * PlacementController), with one MemoryTransport per process multiplexed
 * over groups by GroupMux, on simulated disks (one per group, surviving
 * crashes), clocks and network, all driven by one seeded scheduler.
 *
 * Checked as the run goes: per group, election safety and state machine
 * safety; per node, that every map it adopts is newer than the last and no
 * group's epoch goes back; at every sample, that no group lacks a quorum of
 * live voters unless more than half of its voters' nodes are down (a
 * replica deleted while still a voter would break it).
 */
import { KvStore } from "../../kv/index.js";
import { Xoshiro128 } from "../../raft/core/prng.js";
import { EntryType, type NodeId } from "../../raft/core/types.js";
import { GroupMux, type MemoryTransport } from "../../raft/transport/index.js";
import { ShardAgent } from "../../shard/agent.js";
import { type ControllerOptions, initialMap } from "../../shard/controller.js";
import { type GroupReplica, type GroupTiming, ShardHost } from "../../shard/host.js";
import type { GroupId, NodeRecord, ShardMap } from "../../shard/types.js";
import { addressOf } from "../cluster.js";
import { SimDisk } from "../disk.js";
import { CALM_NETWORK, SimNetwork } from "../network.js";
import { SimProcess } from "../process.js";
import { SafetyChecker, SafetyViolation } from "../safety.js";
import { Scheduler } from "../scheduler.js";

export interface ShardSimOptions {
  readonly seed: number;
  /** Founding nodes 1..founders. */
  readonly founders: number;
  readonly shardCount: number;
  readonly replication: number;
  readonly timing: GroupTiming;
  readonly heartbeatIntervalMs: number;
  /** Node-to-node liveness pings (needed when timing.quiesceAfterTicks is set). */
  readonly liveness?: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly controller: Omit<ControllerOptions, "shardCount" | "replication">;
  readonly diskDelayMs?: readonly [number, number];
  readonly trace?: (line: string) => void;
}

const SAMPLE_EVERY_MS = 100;

interface Running {
  readonly process: SimProcess;
  readonly transport: MemoryTransport;
  readonly host: ShardHost;
  readonly agent: ShardAgent;
}

/** One simulated server: its disks (one per group) survive crashes; what runs on them does not. */
export class SimShardNode {
  readonly disks = new Map<GroupId, SimDisk>();
  founded = false;
  epoch = 0;
  running: Running | undefined;
  /** The newest map revision this incarnation adopted, and each group's epoch in it. */
  mapRevision = 0;
  readonly epochs = new Map<GroupId, number>();

  constructor(
    readonly id: NodeId,
    readonly capacity: number,
  ) {}

  get record(): NodeRecord {
    return {
      id: this.id,
      peer: addressOf(this.id),
      client: "",
      capacity: this.capacity,
      draining: false,
    };
  }

  get up(): boolean {
    return this.running?.process.alive === true;
  }
}

export class ShardSim {
  readonly scheduler = new Scheduler();
  readonly random: Xoshiro128;
  readonly network: SimNetwork;
  readonly nodes = new Map<NodeId, SimShardNode>();
  /** Per group: election and state machine safety. */
  readonly safety = new Map<GroupId, SafetyChecker>();
  violation: Error | undefined;
  /** Maps adopted by nodes, and group epochs seen, for the report. */
  mapsAdopted = 0;
  /** Samples taken, and replicas seen quiescent summed over them (idle groups go quiet). */
  samples = 0;
  quietReplicaSamples = 0;
  private readonly founding: ShardMap;
  private readonly diskRandom: Xoshiro128;

  constructor(readonly opts: ShardSimOptions) {
    this.random = new Xoshiro128(opts.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), (to, arrive) => {
      const process = this.nodes.get(to)?.running?.process;
      if (process !== undefined) process.run(arrive);
    });
    this.network.faults = CALM_NETWORK;
    this.diskRandom = this.random.fork();
    for (let id = 1; id <= opts.founders; id++) this.nodes.set(id, new SimShardNode(id, 1));
    this.founding = initialMap(
      [...this.nodes.values()].map((n) => n.record),
      { shardCount: opts.shardCount, replication: opts.replication },
    );
  }

  get now(): number {
    return this.scheduler.now;
  }

  trace(line: string): void {
    this.opts.trace?.(`t=${this.now.toFixed(1)} ${line}`);
  }

  private check(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.violation ??= err as Error;
    }
  }

  private safetyOf(group: GroupId): SafetyChecker {
    let s = this.safety.get(group);
    if (s === undefined) {
      s = new SafetyChecker();
      this.safety.set(group, s);
    }
    return s;
  }

  /** Starts every founder and the sampling of the quorum invariant. */
  start(): void {
    for (const n of this.nodes.values()) this.startNode(n);
    const sample = (): void => {
      this.checkQuorums();
      this.samples++;
      for (const n of this.nodes.values()) {
        this.quietReplicaSamples += n.running?.host.quietCount() ?? 0;
      }
      this.scheduler.after(SAMPLE_EVERY_MS, sample);
    };
    this.scheduler.after(SAMPLE_EVERY_MS, sample);
  }

  /** Adds an empty node that registers with the controller (capacity 1 unless said). */
  addNode(id: NodeId, capacity = 1): SimShardNode {
    const node = new SimShardNode(id, capacity);
    this.nodes.set(id, node);
    this.trace(`n${id} added`);
    this.startNode(node);
    return node;
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    const running = node.running;
    if (running === undefined) return;
    this.trace(`n${id} crash`);
    node.epoch++;
    running.process.kill();
    running.agent.stop();
    void running.transport.stop();
    for (const disk of node.disks.values()) disk.crash();
    node.running = undefined;
  }

  restart(id: NodeId): void {
    this.trace(`n${id} restart`);
    this.startNode(this.node(id));
  }

  /** Asks the controller (wherever it runs) to drain a node. */
  drain(id: NodeId): boolean {
    for (const n of this.nodes.values()) {
      const c = n.running?.agent.activeController;
      if (c !== undefined && n.up) {
        this.trace(`drain n${id} via controller on n${n.id}`);
        return c.drain(id, true);
      }
    }
    return false;
  }

  node(id: NodeId): SimShardNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private startNode(node: SimShardNode): void {
    if (node.running !== undefined) return;
    node.epoch++;
    const epoch = node.epoch;
    // A new incarnation starts from the founding map: epochs are checked per incarnation.
    node.mapRevision = 0;
    node.epochs.clear();
    const process = new SimProcess(this.scheduler, 1, this.random.fork());
    const transport = this.network.memory.transport(node.id);
    const mux = new GroupMux(transport);
    const seeds = this.random.fork();
    const [dmin, dmax] = this.opts.diskDelayMs ?? [0, 0];
    const diskRandom = this.diskRandom;
    const diskOf = (group: GroupId): SimDisk => {
      let disk = node.disks.get(group);
      if (disk === undefined) {
        disk = new SimDisk(
          {
            writeDelayMs: () => (dmax <= 0 ? 0 : dmin + diskRandom.float() * (dmax - dmin)),
            tornWrites: false,
          },
          this.random.fork(),
        );
        node.disks.set(group, disk);
      }
      return disk;
    };
    const host = new ShardHost({
      id: node.id,
      mux,
      env: { clock: process.clock, seed: () => seeds.nextUint32() },
      timing: this.opts.timing,
      resources: {
        openStorage: async (group) => diskOf(group).mount(process, () => {}),
        openStore: () => new KvStore(),
        release: async () => {},
        destroy: async (group) => {
          this.trace(`n${node.id} deletes its replica of group ${group}`);
          node.disks.delete(group);
        },
        existing: async () => [...node.disks.keys()],
      },
      observe: {
        stateMachine: (group, inner) => ({
          apply: (entry) => {
            const result = inner.apply(entry);
            if (node.epoch === epoch) {
              this.check(() =>
                this.safetyOf(group).entryApplied(node.id, { ...entry, type: EntryType.Normal }),
              );
            }
            return result;
          },
          snapshot: () => inner.snapshot(),
          restore: (data) => inner.restore(data),
        }),
        observer: (group) => ({
          onLeaderChange: (term, leader) => {
            if (node.epoch !== epoch || leader !== node.id) return;
            this.trace(`n${node.id} leads group ${group} in term ${term}`);
            this.check(() => this.safetyOf(group).leaderElected(node.id, term));
          },
        }),
        fatal: (group, err) => {
          if (node.epoch === epoch) {
            this.violation ??= new Error(
              `node ${node.id} group ${group} stopped: ${err.stack ?? err.message}`,
            );
          }
        },
      },
    });
    const agent = new ShardAgent({
      self: { id: node.id, peer: addressOf(node.id), client: "", capacity: node.capacity },
      host,
      mux,
      carrier: transport,
      clock: process.clock,
      founding: this.founding,
      founder: node.id <= this.opts.founders,
      seeds: new Map(
        [...this.nodes.keys()].filter((id) => id !== node.id).map((id) => [id, addressOf(id)]),
      ),
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      ...(this.opts.liveness !== undefined && { liveness: this.opts.liveness }),
      controller: {
        ...this.opts.controller,
        shardCount: this.opts.shardCount,
        replication: this.opts.replication,
      },
      founded: {
        get: async () => node.founded,
        set: async () => {
          node.founded = true;
        },
      },
      onError: (err) => {
        if (node.epoch === epoch) this.trace(`n${node.id} agent: ${(err as Error).message}`);
      },
      onEvent: (event) => {
        if (node.epoch === epoch) this.trace(`n${node.id} ${event}`);
      },
      onMap: (map) => {
        if (node.epoch === epoch) this.mapAdopted(node, map);
      },
    });
    node.running = { process, transport, host, agent };
    process.run(() => {
      transport
        .start()
        .then(
          () => agent.start(),
          (err: Error) => {
            this.violation ??= err;
          },
        )
        .catch((err: Error) => {
          if (node.epoch === epoch) this.violation ??= err;
        });
    });
  }

  /** A node's maps only move forward, and no group's epoch goes back. */
  private mapAdopted(node: SimShardNode, map: ShardMap): void {
    this.mapsAdopted++;
    this.check(() => {
      if (map.revision <= node.mapRevision) {
        throw new SafetyViolation(
          "map epochs",
          `node ${node.id} adopted map revision ${map.revision} after ${node.mapRevision}`,
        );
      }
      node.mapRevision = map.revision;
      for (const g of map.groups) {
        const before = node.epochs.get(g.group) ?? 0;
        if (g.epoch < before) {
          throw new SafetyViolation(
            "map epochs",
            `node ${node.id}: group ${g.group} epoch went from ${before} to ${g.epoch}`,
          );
        }
        node.epochs.set(g.group, g.epoch);
      }
    });
  }

  /** Replicas of a group on running nodes. */
  replicas(group: GroupId): { node: SimShardNode; replica: GroupReplica }[] {
    const out: { node: SimShardNode; replica: GroupReplica }[] = [];
    for (const node of this.nodes.values()) {
      const replica = node.up ? node.running?.host.get(group) : undefined;
      if (replica !== undefined) out.push({ node, replica });
    }
    return out;
  }

  /** The group's committed configuration as its most advanced live replica knows it. */
  configuration(group: GroupId): { voters: NodeId[]; learners: NodeId[] } | undefined {
    let best: { applied: number; voters: NodeId[]; learners: NodeId[] } | undefined;
    for (const { replica } of this.replicas(group)) {
      const s = replica.node.status();
      if (best === undefined || s.appliedIndex > best.applied) {
        best = {
          applied: s.appliedIndex,
          voters: [...new Set([...s.confState.voters, ...s.confState.votersOutgoing])],
          learners: [...s.confState.learners],
        };
      }
    }
    return best;
  }

  /**
   * No group short of a quorum of voters that hold its data, unless more
   * than R/2 of its voters' nodes are down.
   */
  private checkQuorums(): void {
    for (let group = 0; group <= this.opts.shardCount; group++) {
      const config = this.configuration(group);
      if (config === undefined) continue;
      // A group of R replicas must survive any floor(R/2) of them down,
      // including while it moves (add before remove keeps that true).
      const down = config.voters.filter((id) => !this.nodes.get(id)?.up).length;
      if (down > Math.floor(this.opts.replication / 2)) continue;
      const holding = config.voters.filter((id) => {
        const n = this.nodes.get(id);
        // An empty replica holds nothing of the group: it cannot help a quorum.
        return n?.up === true && (n.disks.get(group)?.durable.lastIndex() ?? 0) > 0;
      }).length;
      if (holding >= Math.floor(config.voters.length / 2) + 1) continue;
      this.check(() => {
        throw new SafetyViolation(
          "quorum",
          `group ${group}: voters ${config.voters.join(",")}, only ${holding} hold its data with ${down} down`,
        );
      });
    }
  }

  async runFor(ms: number): Promise<void> {
    await this.scheduler.run(this.now + ms, () => this.violation !== undefined);
  }

  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    await this.scheduler.run(this.now + maxMs, () => this.violation !== undefined || done());
    return done();
  }

  /** Every group has exactly its target as voters (per the controller's map), on live nodes. */
  converged(): boolean {
    return this.unsettled().length === 0;
  }

  /** Why the run has not converged: each group out of place, with its target and configuration. */
  unsettled(): string[] {
    const map = this.controllerMap();
    if (map === undefined) return ["no controller"];
    const out: string[] = [];
    for (const g of map.groups) {
      const config = this.configuration(g.group);
      const want = new Set(g.replicas);
      const ok =
        config !== undefined &&
        config.learners.length === 0 &&
        g.replicas.length === Math.min(this.opts.replication, this.liveNodes().length) &&
        config.voters.length === want.size &&
        config.voters.every((v) => want.has(v) && this.nodes.get(v)?.up === true);
      if (!ok) {
        out.push(
          `group ${g.group}: target ${g.replicas.join(",")} voters ${config?.voters.join(",") ?? "?"} learners ${config?.learners.join(",") ?? "?"}`,
        );
      }
    }
    return out;
  }

  /** The map of the controller running now, if any. */
  controllerMap(): ShardMap | undefined {
    for (const n of this.nodes.values()) {
      const c = n.up ? n.running?.agent.activeController : undefined;
      if (c !== undefined) return c.shardMap();
    }
    return undefined;
  }

  liveNodes(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up).map((n) => n.id);
  }

  /** How many replicas each node hosts (for reports). */
  replicaCounts(): Map<NodeId, number> {
    const out = new Map<NodeId, number>();
    for (const n of this.nodes.values()) out.set(n.id, n.running?.host.groups().length ?? 0);
    return out;
  }
}
