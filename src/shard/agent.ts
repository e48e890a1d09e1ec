/**
 * A node's side of the control loop. Every interval it sends the controller
 * a heartbeat with what its replicas see and carries out the answer: adopts
 * a newer shard map (opening a replica for each group the map places here),
 * runs the membership steps handed to the groups it leads, and deletes the
 * replicas whose groups no longer have it. When this node leads the meta
 * group, the controller runs here and the agent feeds it its own heartbeat
 * directly.
 */
import type { Clock } from "../clock.js";
import type { NodeId } from "../raft/core/types.js";
import { Role } from "../raft/core/types.js";
import { type GroupMux, parsePeerAddress, type Transport } from "../raft/transport/index.js";
import { decodeControl, encodeControl } from "./control-codec.js";
import { type ControllerOptions, PlacementController } from "./controller.js";
import type { ShardHost } from "./host.js";
import { META_GROUP } from "./keys.js";
import { PeerLiveness } from "./liveness.js";
import { MetaStore } from "./meta-store.js";
import type {
  ControlMessage,
  GroupId,
  HeartbeatReply,
  HeartbeatRequest,
  NodeRecord,
  Operator,
  ShardMap,
} from "./types.js";

export interface ShardAgentOptions {
  readonly self: Omit<NodeRecord, "draining">;
  readonly host: ShardHost;
  readonly mux: GroupMux;
  /** The process's peer transport: its control channel carries heartbeats. */
  readonly carrier: Transport;
  readonly clock: Clock;
  /** The founding map (every founder computes the same one, see initialMap). */
  readonly founding: ShardMap;
  /** Whether this node is one of the founders (it bootstraps its groups on first start). */
  readonly founder: boolean;
  /** Nodes to ask for the controller before any map is known: id → peer address. */
  readonly seeds: ReadonlyMap<NodeId, string>;
  readonly heartbeatIntervalMs: number;
  /**
   * Ping every node of the map this often and wake the host's quiescent
   * groups a peer takes part in once it was silent for `timeoutMs` (needed
   * when the host's groups quiesce; see liveness.ts).
   */
  readonly liveness?: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly controller: ControllerOptions;
  /** Whether this node ever founded its groups (durable), and how to record that it did. */
  readonly founded: { get(): Promise<boolean>; set(): Promise<void> };
  /** Told of every map this node adopts (the simulator checks epochs only grow). */
  readonly onMap?: (map: ShardMap) => void;
  /** Errors of background steps (logged by the process; they are retried). */
  readonly onError?: (err: unknown) => void;
  /** What the control loop does (the controller starting here, membership steps), for the log. */
  readonly onEvent?: (event: string) => void;
}

/** Replies older than this many intervals are treated as lost: the next controller candidate is tried. */
const SILENT_INTERVALS = 3;

export class ShardAgent {
  private map: ShardMap;
  private controller: { term: number; ready?: PlacementController } | undefined;
  private controllerHint: NodeId = 0;
  private seq = 0;
  private lastReplyAt: number;
  private readonly stepping = new Set<GroupId>();
  private cancel: (() => void) | undefined;
  private stopped = false;
  private seedTurn = 0;
  private readonly liveness: PeerLiveness | undefined;

  constructor(private readonly opts: ShardAgentOptions) {
    this.map = opts.founding;
    this.lastReplyAt = opts.clock.now();
    const l = opts.liveness;
    this.liveness =
      l === undefined
        ? undefined
        : new PeerLiveness({
            clock: opts.clock,
            intervalMs: l.intervalMs,
            timeoutMs: l.timeoutMs,
            peers: () => this.map.nodes.map((n) => n.id).filter((id) => id !== opts.self.id),
            ping: (peer) =>
              opts.carrier.sendControl(peer, encodeControl({ type: "ping", seq: ++this.seq })),
            onDown: (peer) => {
              const woken = opts.host.wakeWith(peer);
              if (woken > 0) opts.onEvent?.(`node ${peer} went silent: woke ${woken} quiet groups`);
            },
          });
  }

  get shardMap(): ShardMap {
    return this.map;
  }

  /** The controller running here, if this node leads the meta group. */
  get activeController(): PlacementController | undefined {
    return this.controller?.ready;
  }

  /** The node believed to run the controller (0: unknown). */
  get controllerNode(): NodeId {
    if (this.controller?.ready !== undefined) return this.opts.self.id;
    const metaLeader = this.metaLeader();
    return metaLeader !== 0 ? metaLeader : this.controllerHint;
  }

  async start(): Promise<void> {
    const { host, carrier, founding } = this.opts;
    carrier.onControl((from, payload) => this.receive(from, payload));
    for (const n of founding.nodes) this.pin(n.id, n.peer);
    for (const [id, peer] of this.opts.seeds) this.pin(id, peer);
    await host.reopen();
    if (this.opts.founder && !(await this.opts.founded.get())) {
      await this.opts.founded.set();
      const peers = new Map(founding.nodes.map((n) => [n.id, n.peer]));
      await Promise.all(
        founding.groups
          .filter((g) => g.replicas.includes(this.opts.self.id))
          .map((g) =>
            host.open(g.group, {
              cluster: new Map(g.replicas.map((id) => [id, peers.get(id) ?? ""])),
              join: false,
            }),
          ),
      );
    }
    this.schedule();
    this.liveness?.start();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.liveness?.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.opts.clock.setTimer(() => {
      this.tick();
      this.schedule();
    }, this.opts.heartbeatIntervalMs);
  }

  private pin(id: NodeId, peer: string): void {
    if (id === this.opts.self.id || peer === "") return;
    this.opts.mux.pinPeer(id, parsePeerAddress(peer));
  }

  private tick(): void {
    const now = this.opts.clock.now();
    this.followMetaLeadership();
    const request: HeartbeatRequest = {
      type: "heartbeat",
      seq: ++this.seq,
      node: this.opts.self,
      mapRevision: this.map.revision,
      groups: this.opts.host.reports(),
    };
    const controller = this.controller?.ready;
    if (controller !== undefined) {
      this.apply(controller.heartbeat(request, now));
      controller.plan(now).catch((err) => this.opts.onError?.(err));
      return;
    }
    // Nobody answered for a while: forget the hint and ask someone else once
    // (a replica removed from the meta group still names its old leader).
    let rotate = false;
    if (now - this.lastReplyAt > SILENT_INTERVALS * this.opts.heartbeatIntervalMs) {
      this.controllerHint = 0;
      this.lastReplyAt = now;
      rotate = true;
    }
    const to = this.controllerCandidate(rotate);
    if (to !== undefined) this.opts.carrier.sendControl(to, encodeControl(request));
  }

  /** Starts the controller when this node's meta replica leads, drops it when it no longer does. */
  private followMetaLeadership(): void {
    const meta = this.opts.host.get(META_GROUP);
    const status = meta?.node.basicStatus();
    if (meta === undefined || status === undefined || status.role !== Role.Leader) {
      this.controller = undefined;
      return;
    }
    if (this.controller?.term === status.term) return;
    const term = status.term;
    const slot: { term: number; ready?: PlacementController } = { term };
    this.controller = slot;
    PlacementController.load(
      new MetaStore(meta.kv),
      this.opts.controller,
      this.opts.founding,
      this.opts.clock.now(),
    ).then(
      (c) => {
        if (this.controller !== slot) return;
        slot.ready = c;
        this.opts.onEvent?.(`controller running here, meta term ${term}`);
      },
      (err) => {
        if (this.controller === slot) this.controller = undefined;
        this.opts.onError?.(err);
      },
    );
  }

  /** The meta group's leader as this node's replica of it knows it (0: none, or no replica here). */
  private metaLeader(): NodeId {
    return this.opts.host.get(META_GROUP)?.node.basicStatus().lead ?? 0;
  }

  /** Whom to send the heartbeat: whoever answered last, the meta leader if known, or the next node. */
  private controllerCandidate(rotate: boolean): NodeId | undefined {
    const self = this.opts.self.id;
    if (!rotate) {
      if (this.controllerHint !== 0 && this.controllerHint !== self) return this.controllerHint;
      const metaLeader = this.metaLeader();
      if (metaLeader !== 0 && metaLeader !== self) return metaLeader;
    }
    const candidates = [
      ...new Set([...this.map.nodes.map((n) => n.id), ...this.opts.seeds.keys()]),
    ].filter((id) => id !== self);
    if (candidates.length === 0) return undefined;
    this.seedTurn = (this.seedTurn + 1) % candidates.length;
    return candidates[this.seedTurn];
  }

  private receive(from: NodeId, payload: Uint8Array): void {
    let message: ControlMessage;
    try {
      message = decodeControl(payload);
    } catch (err) {
      this.opts.onError?.(err);
      return;
    }
    this.liveness?.heard(from);
    switch (message.type) {
      case "ping":
        return;
      case "heartbeat":
        this.answer(from, message);
        return;
      case "heartbeat-reply":
        this.lastReplyAt = this.opts.clock.now();
        this.controllerHint = from;
        this.apply(message);
        return;
      case "redirect":
        this.lastReplyAt = this.opts.clock.now();
        this.controllerHint = message.controller;
        if (message.controller !== 0) this.pin(message.controller, message.peer);
        return;
    }
  }

  private answer(from: NodeId, request: HeartbeatRequest): void {
    const { carrier, clock } = this.opts;
    // The reply travels back on our outbound connection: the sender must be a known peer.
    this.pin(from, request.node.peer);
    const controller = this.controller?.ready;
    if (controller !== undefined) {
      carrier.sendControl(from, encodeControl(controller.heartbeat(request, clock.now())));
      return;
    }
    const leader = this.metaLeader();
    const hint = leader !== 0 && leader !== this.opts.self.id ? leader : this.controllerHint;
    const peer = this.map.nodes.find((n) => n.id === hint)?.peer ?? "";
    carrier.sendControl(
      from,
      encodeControl({ type: "redirect", seq: request.seq, controller: hint, peer }),
    );
  }

  private apply(reply: HeartbeatReply): void {
    if (reply.map !== undefined && reply.map.revision > this.map.revision) this.adopt(reply.map);
    for (const op of reply.operators) this.step(op);
    for (const group of reply.destroy) {
      const target = this.map.groups.find((g) => g.group === group);
      if (target?.replicas.includes(this.opts.self.id)) continue;
      this.opts.host.close(group, true).catch((err) => this.opts.onError?.(err));
    }
  }

  private adopt(map: ShardMap): void {
    this.map = map;
    this.opts.onMap?.(map);
    const peers = new Map(map.nodes.map((n) => [n.id, n.peer]));
    for (const n of map.nodes) this.pin(n.id, n.peer);
    for (const g of map.groups) {
      if (!g.replicas.includes(this.opts.self.id) || this.opts.host.has(g.group)) continue;
      this.opts.host
        .open(g.group, {
          cluster: new Map(g.replicas.map((id) => [id, peers.get(id) ?? ""])),
          join: true,
        })
        .catch((err) => this.opts.onError?.(err));
    }
  }

  /** Runs one membership step on a group this node leads; one at a time per group. */
  private step(op: Operator): void {
    const replica = this.opts.host.get(op.group);
    if (replica === undefined || this.stepping.has(op.group)) return;
    this.stepping.add(op.group);
    this.opts.onEvent?.(`group ${op.group}: ${op.kind} ${op.node}`);
    const node = replica.node;
    const run = (): Promise<unknown> => {
      switch (op.kind) {
        case "add-learner":
          return node.addLearner(op.node, op.peer);
        case "promote":
          return node.addVoter(op.node, op.peer);
        case "remove":
          return node.removeMember(op.node);
        case "transfer-leader":
          return node.transferLeadership(op.node);
      }
    };
    run()
      .catch((err) => this.opts.onError?.(err))
      .finally(() => this.stepping.delete(op.group));
  }
}
