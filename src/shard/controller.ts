/**
 * The placement controller. It runs on whichever node leads the meta group
 * (the meta group's Raft election is the controller's election) and keeps
 * its decisions there, so a new leader picks up where the last one stopped.
 *
 * Like a placement driver, it never touches a shard's group itself: nodes
 * send it heartbeats with what their replicas see; it judges liveness from
 * them (a node silent for failureTimeoutMs is down: its lease lapsed), plans
 * target replica sets by consistent hashing over the live nodes, writes them
 * to the meta group, and answers each shard leader's heartbeat with the next
 * membership step for its group. Steps are one at a time per group and
 * always add before they remove: a learner is added, catches up (by
 * snapshot if need be), is promoted, and only then is a replica removed, and
 * never one whose removal would leave the live voters short of a quorum.
 */
import { InvalidArgumentError } from "../errors.js";
import { invariant } from "../raft/core/errors.js";
import type { NodeId } from "../raft/core/types.js";
import type { MetaChanges, MetaState, MetaStore } from "./meta-store.js";
import { planPlacement } from "./placement.js";
import type {
  GroupId,
  GroupRecord,
  GroupReport,
  HeartbeatReply,
  HeartbeatRequest,
  NodeRecord,
  Operator,
  ShardMap,
} from "./types.js";

export interface ControllerStatus {
  readonly revision: number;
  readonly nodes: readonly {
    readonly id: NodeId;
    readonly client: string;
    readonly live: boolean;
    readonly draining: boolean;
    /** Replicas its targets give it. */
    readonly replicas: number;
    /** Groups it leads, as reported. */
    readonly leaders: number;
  }[];
  readonly groups: readonly {
    readonly group: GroupId;
    readonly epoch: number;
    readonly target: readonly NodeId[];
    readonly voters: readonly NodeId[];
    readonly learners: readonly NodeId[];
    readonly leader: NodeId;
    /** Its leader reports exactly the target as voters. */
    readonly settled: boolean;
  }[];
}

export interface ControllerOptions {
  readonly shardCount: number;
  readonly replication: number;
  /** A node not heard from for this long is down and its replicas are replaced. */
  readonly failureTimeoutMs: number;
  /** Groups whose configuration may differ from their target at once. */
  readonly maxMoving: number;
  /** A learner this many entries or fewer behind the leader's commit is promoted. */
  readonly catchUpEntries: number;
}

/** The founding map: a pure function of the founders and the configuration, the same on every founder. */
export function initialMap(
  founders: readonly NodeRecord[],
  config: { readonly shardCount: number; readonly replication: number },
): ShardMap {
  const groups = allGroups(config.shardCount);
  const placed = planPlacement(groups, new Map(), founders, { replicas: config.replication });
  return {
    revision: 0,
    shardCount: config.shardCount,
    replication: config.replication,
    nodes: [...founders].sort((a, b) => a.id - b.id),
    groups: groups.map((group) => ({ group, epoch: 1, replicas: placed.get(group) ?? [] })),
  };
}

export function allGroups(shardCount: number): GroupId[] {
  return Array.from({ length: shardCount + 1 }, (_, i) => i);
}

interface Seen {
  readonly report: GroupReport;
  readonly from: NodeId;
  readonly at: number;
}

export class PlacementController {
  private readonly nodes = new Map<NodeId, NodeRecord>();
  private readonly lastSeen = new Map<NodeId, number>();
  private readonly targets = new Map<GroupId, { record: GroupRecord; modRevision: number }>();
  /** The latest report from each group's leader (highest term wins). */
  private readonly leaders = new Map<GroupId, Seen>();
  /**
   * What each replica last said of itself: whether its own log names it a
   * member (it holds the log up to its admission, so it is not empty).
   */
  private readonly replicas = new Map<GroupId, Map<NodeId, { member: boolean; at: number }>>();
  private revision = 0;
  private map: ShardMap | undefined;
  /** When this controller started: it balances leaders only once every live node has reported. */
  private startedAt = 0;
  /** Node records to write at the next plan (new or changed). */
  private readonly dirtyNodes = new Map<NodeId, NodeRecord>();

  private constructor(
    private readonly meta: MetaStore,
    private readonly options: ControllerOptions,
  ) {}

  /**
   * Loads the state from the meta group, writing the founding map first if
   * the group is new. `now` starts every known node's lease: a new
   * controller gives everyone a full timeout to be heard from.
   */
  static async load(
    meta: MetaStore,
    options: ControllerOptions,
    founding: ShardMap,
    now: number,
  ): Promise<PlacementController> {
    const c = new PlacementController(meta, options);
    let state = await meta.read();
    if (state.config === undefined) {
      await meta.write({
        config: { shardCount: founding.shardCount, replication: founding.replication },
        nodes: founding.nodes,
        groups: founding.groups.map((record) => ({ record, modRevision: 0 })),
      });
      state = await meta.read();
    }
    c.adopt(state);
    c.startedAt = now;
    for (const id of c.nodes.keys()) c.lastSeen.set(id, now);
    return c;
  }

  private adopt(state: MetaState): void {
    invariant(state.config !== undefined, "the meta group holds a configuration");
    this.revision = state.revision;
    for (const n of state.nodes) this.nodes.set(n.id, n);
    for (const g of state.groups) this.targets.set(g.record.group, g);
    this.map = undefined;
  }

  /** The map as nodes cache it. */
  shardMap(): ShardMap {
    this.map ??= {
      revision: this.revision,
      shardCount: this.options.shardCount,
      replication: this.options.replication,
      nodes: [...this.nodes.values()].sort((a, b) => a.id - b.id),
      groups: [...this.targets.values()].map((t) => t.record).sort((a, b) => a.group - b.group),
    };
    return this.map;
  }

  live(now: number): NodeId[] {
    const out: NodeId[] = [];
    for (const [id, at] of this.lastSeen) {
      const known = this.nodes.has(id) || this.dirtyNodes.has(id);
      if (now - at < this.options.failureTimeoutMs && known) out.push(id);
    }
    return out.sort((a, b) => a - b);
  }

  /** Marks a node to be emptied (or no longer). Written at the next plan. */
  drain(id: NodeId, draining: boolean): boolean {
    const n = this.nodes.get(id);
    if (n === undefined) return false;
    if (n.draining !== draining) this.dirtyNodes.set(id, { ...n, draining });
    return true;
  }

  /**
   * Moves the group's replica on `from` to `to` (an operator's request). The
   * planner keeps it there while `to` is live and within its load bound.
   * Resolves with the group's new epoch; InvalidArgumentError when the move
   * makes no sense.
   */
  async move(group: GroupId, from: NodeId, to: NodeId, now: number): Promise<number> {
    const t = this.targets.get(group);
    if (t === undefined) throw new InvalidArgumentError(`no group ${group}`);
    if (!t.record.replicas.includes(from)) {
      throw new InvalidArgumentError(`node ${from} holds no replica of group ${group}`);
    }
    if (t.record.replicas.includes(to)) {
      throw new InvalidArgumentError(`node ${to} already holds a replica of group ${group}`);
    }
    const node = this.dirtyNodes.get(to) ?? this.nodes.get(to);
    if (node === undefined || node.draining) {
      throw new InvalidArgumentError(`node ${to} is not a member that can take replicas`);
    }
    const record: GroupRecord = {
      group,
      epoch: t.record.epoch + 1,
      replicas: t.record.replicas.map((n) => (n === from ? to : n)),
    };
    // A move the planner would undo at its next round is refused, not
    // accepted and silently reverted: loads must stay within their bounds.
    const current = new Map(
      [...this.targets.values()].map((x) => [x.record.group, x.record.replicas] as const),
    );
    current.set(group, record.replicas);
    if (!sameSet(this.placement(current, now).get(group) ?? [], record.replicas)) {
      throw new InvalidArgumentError(
        `moving group ${group} from node ${from} to node ${to} would take a node outside its load bound (or onto a node that is down): the placement would move it back`,
      );
    }
    if (!(await this.commit([{ record, modRevision: t.modRevision }]))) {
      throw new InvalidArgumentError(`group ${group} changed meanwhile; try again`);
    }
    return record.epoch;
  }

  /** What the controller sees: each node's liveness and load, each group's target and state. */
  status(now: number): ControllerStatus {
    const live = new Set(this.live(now));
    const replicas = new Map<NodeId, number>();
    for (const t of this.targets.values()) {
      for (const n of t.record.replicas) replicas.set(n, (replicas.get(n) ?? 0) + 1);
    }
    const leaders = this.leaderCounts(now);
    return {
      revision: this.revision,
      nodes: [...this.nodes.values()]
        .sort((a, b) => a.id - b.id)
        .map((n) => ({
          id: n.id,
          client: n.client,
          live: live.has(n.id),
          draining: (this.dirtyNodes.get(n.id) ?? n).draining,
          replicas: replicas.get(n.id) ?? 0,
          leaders: leaders.get(n.id) ?? 0,
        })),
      groups: [...this.targets.values()]
        .map((t) => t.record)
        .sort((a, b) => a.group - b.group)
        .map((g) => {
          const seen = this.leaders.get(g.group);
          const fresh = seen !== undefined && now - seen.at < this.options.failureTimeoutMs;
          return {
            group: g.group,
            epoch: g.epoch,
            target: [...g.replicas],
            voters: fresh ? [...seen.report.voters] : [],
            learners: fresh ? [...seen.report.learners] : [],
            leader: fresh ? seen.from : 0,
            settled: this.settled(g.group, now),
          };
        }),
    };
  }

  /** The leader of each group as last reported (0: none recently). */
  leaderOf(group: GroupId, now: number): NodeId {
    const seen = this.leaders.get(group);
    return seen !== undefined && now - seen.at < this.options.failureTimeoutMs ? seen.from : 0;
  }

  /** Answers a node's heartbeat: renews its lease, learns its replicas, hands it its next steps. */
  heartbeat(req: HeartbeatRequest, now: number): HeartbeatReply {
    const known = this.dirtyNodes.get(req.node.id) ?? this.nodes.get(req.node.id);
    const record: NodeRecord = { ...req.node, draining: known?.draining ?? false };
    if (
      known === undefined ||
      known.peer !== record.peer ||
      known.client !== record.client ||
      known.capacity !== record.capacity
    ) {
      this.dirtyNodes.set(record.id, record);
    }
    this.lastSeen.set(req.node.id, now);
    for (const report of req.groups) {
      let seen = this.replicas.get(report.group);
      if (seen === undefined) {
        seen = new Map();
        this.replicas.set(report.group, seen);
      }
      const self = req.node.id;
      seen.set(self, {
        member: report.voters.includes(self) || report.learners.includes(self),
        at: now,
      });
      if (report.leader !== req.node.id) continue;
      const prev = this.leaders.get(report.group);
      if (prev === undefined || prev.report.term <= report.term) {
        this.leaders.set(report.group, { report, from: req.node.id, at: now });
      }
    }
    const operators: Operator[] = [];
    const destroy: GroupId[] = [];
    const live = new Set(this.live(now));
    // Leader counts are complete only once every live node has reported;
    // counted once per heartbeat, and only if a step needs them.
    const warm = now - this.startedAt >= this.options.failureTimeoutMs;
    let counts: Map<NodeId, number> | undefined;
    const leaderCounts = () => (counts ??= warm ? this.leaderCounts(now) : new Map());
    for (const report of req.groups) {
      const target = this.targets.get(report.group)?.record;
      if (target === undefined) continue;
      if (report.leader === req.node.id) {
        const op = this.nextStep(report, target, live, leaderCounts, now);
        if (op !== undefined) operators.push(op);
      } else if (
        !target.replicas.includes(req.node.id) &&
        this.removedFrom(report.group, req.node.id)
      ) {
        destroy.push(report.group);
      }
    }
    return {
      type: "heartbeat-reply",
      seq: req.seq,
      ...(req.mapRevision < this.revision && { map: this.shardMap() }),
      operators,
      destroy,
    };
  }

  /** The group's committed configuration, as its leader last reported, no longer has `node`. */
  private removedFrom(group: GroupId, node: NodeId): boolean {
    const seen = this.leaders.get(group);
    if (seen === undefined) return false;
    const r = seen.report;
    return !r.voters.includes(node) && !r.learners.includes(node) && !r.outgoing.includes(node);
  }

  private leaderCounts(now: number): Map<NodeId, number> {
    const counts = new Map<NodeId, number>();
    for (const seen of this.leaders.values()) {
      if (now - seen.at >= this.options.failureTimeoutMs) continue;
      counts.set(seen.from, (counts.get(seen.from) ?? 0) + 1);
    }
    return counts;
  }

  /** The one membership step the group's leader should take next, if any. */
  private nextStep(
    r: GroupReport,
    target: GroupRecord,
    live: ReadonlySet<NodeId>,
    leaderCounts: () => Map<NodeId, number>,
    now: number,
  ): Operator | undefined {
    if (r.outgoing.length > 0) return undefined; // a joint configuration is still being left
    const group = r.group;
    const want = new Set(target.replicas);
    const match = new Map(r.match);
    // Caught up: its own log names it a member (so it is not an empty
    // replica, which must never count towards a quorum) and the leader has
    // it within catchUpEntries of the commit index.
    const caughtUp = (n: NodeId) => {
      if (n === r.leader) return true;
      const m = match.get(n) ?? 0;
      const self = this.replicas.get(group)?.get(n);
      if (self === undefined || !self.member) return false;
      return (
        m > 0 &&
        m + this.options.catchUpEntries >= r.commit &&
        now - self.at < this.options.failureTimeoutMs
      );
    };
    const peer = (n: NodeId) => this.nodes.get(n)?.peer ?? "";
    const wanted = r.learners.filter((n) => want.has(n));
    const ready = wanted.find(caughtUp);
    if (ready !== undefined) return { group, kind: "promote", node: ready, peer: peer(ready) };
    if (wanted.length > 0) return undefined; // a learner is still catching up
    const missing = target.replicas.find((n) => !r.voters.includes(n) && live.has(n));
    if (missing !== undefined && peer(missing) !== "") {
      return { group, kind: "add-learner", node: missing, peer: peer(missing) };
    }
    const strayLearner = r.learners.find((n) => !want.has(n));
    if (strayLearner !== undefined) return { group, kind: "remove", node: strayLearner };
    if (target.replicas.some((n) => !r.voters.includes(n) && live.has(n))) return undefined;
    // Every live target replica is a voter: surplus voters may go, dead ones first.
    const surplus = r.voters
      .filter((n) => !want.has(n))
      .sort((a, b) => Number(live.has(a)) - Number(live.has(b)) || a - b);
    for (const x of surplus) {
      const rest = r.voters.filter((n) => n !== x);
      const liveRest = rest.filter((n) => live.has(n) && caughtUp(n)).length;
      if (liveRest < Math.floor(rest.length / 2) + 1) continue;
      if (x !== r.leader) return { group, kind: "remove", node: x };
      const to = this.leastLoaded(
        r.voters.filter((n) => want.has(n) && live.has(n) && caughtUp(n)),
        leaderCounts(),
      );
      if (to !== undefined) return { group, kind: "transfer-leader", node: to };
    }
    if (surplus.length > 0 || leaderCounts().size === 0) return undefined;
    return this.balanceLeader(r, live, caughtUp, leaderCounts());
  }

  /** Moves leadership off a node that leads clearly more groups than its share. */
  private balanceLeader(
    r: GroupReport,
    live: ReadonlySet<NodeId>,
    caughtUp: (n: NodeId) => boolean,
    leaderCounts: Map<NodeId, number>,
  ): Operator | undefined {
    // The meta group's leader is the controller: moving it costs a reload, not worth a balance.
    if (r.group === 0) return undefined;
    const mine = leaderCounts.get(r.leader) ?? 0;
    const fair = Math.ceil((this.options.shardCount + 1) / Math.max(1, live.size));
    if (mine <= fair) return undefined;
    const to = this.leastLoaded(
      r.voters.filter((n) => n !== r.leader && live.has(n) && caughtUp(n)),
      leaderCounts,
    );
    if (to === undefined || (leaderCounts.get(to) ?? 0) + 1 >= mine) return undefined;
    // Counted at once, so the next group in the same heartbeat sees the move.
    leaderCounts.set(r.leader, mine - 1);
    leaderCounts.set(to, (leaderCounts.get(to) ?? 0) + 1);
    return { group: r.group, kind: "transfer-leader", node: to };
  }

  private leastLoaded(
    candidates: readonly NodeId[],
    leaderCounts: ReadonlyMap<NodeId, number>,
  ): NodeId | undefined {
    let best: NodeId | undefined;
    for (const n of candidates) {
      if (best === undefined || (leaderCounts.get(n) ?? 0) < (leaderCounts.get(best) ?? 0)) {
        best = n;
      }
    }
    return best;
  }

  /**
   * Plans targets over the live nodes and writes what changed: new node
   * records and, rate-limited to maxMoving groups out of place at once,
   * new replica sets (groups that lost a replica first).
   */
  async plan(now: number): Promise<void> {
    const liveSet = new Set(this.live(now));
    const groups = allGroups(this.options.shardCount);
    const current = new Map(groups.map((g) => [g, this.targets.get(g)?.record.replicas ?? []]));
    const desired = this.placement(current, now);
    // In motion: led groups whose configuration is not their target yet. A
    // group with no leader cannot move at all and takes no share of the budget.
    let moving = groups.filter((g) => this.leaderSeen(g, now) && !this.settled(g, now)).length;
    const candidates = groups
      .filter((g) => !sameSet(desired.get(g) ?? [], current.get(g) ?? []))
      .filter((g) => this.leaderSeen(g, now))
      .sort(
        (a, b) =>
          lost(current.get(b) ?? [], liveSet) - lost(current.get(a) ?? [], liveSet) || a - b,
      );
    const changes: { record: GroupRecord; modRevision: number }[] = [];
    for (const g of candidates) {
      // A group already in motion may change course (a node it was moving
      // to died) without counting again; a settled one starts moving only
      // while fewer than maxMoving are.
      if (this.settled(g, now)) {
        if (moving >= this.options.maxMoving) continue;
        moving++;
      }
      const t = this.targets.get(g);
      invariant(t !== undefined, "every group has a target");
      changes.push({
        record: { group: g, epoch: t.record.epoch + 1, replicas: desired.get(g) ?? [] },
        modRevision: t.modRevision,
      });
    }
    if (changes.length === 0 && this.dirtyNodes.size === 0) return;
    await this.commit(changes);
  }

  /**
   * Writes group changes with every node record not yet written (a target
   * never names a node the map does not list), fenced on each group's mod
   * revision. False when another controller wrote first: its state is taken.
   */
  private async commit(changes: { record: GroupRecord; modRevision: number }[]): Promise<boolean> {
    const nodeChanges = [...this.dirtyNodes.values()];
    const change: MetaChanges = { nodes: nodeChanges, groups: changes };
    const revision = await this.meta.write(change);
    if (revision === undefined) {
      this.adopt(await this.meta.read());
      return false;
    }
    for (const n of nodeChanges) {
      this.nodes.set(n.id, n);
      if (this.dirtyNodes.get(n.id) === n) this.dirtyNodes.delete(n.id);
    }
    for (const c of changes) {
      this.targets.set(c.record.group, { record: c.record, modRevision: revision });
    }
    this.revision = revision;
    this.map = undefined;
    return true;
  }

  /** The planner's targets over the live nodes, from `current`. */
  private placement(
    current: ReadonlyMap<GroupId, readonly NodeId[]>,
    now: number,
  ): ReadonlyMap<GroupId, readonly NodeId[]> {
    const nodes = this.live(now).map((id) => {
      const n = this.dirtyNodes.get(id) ?? this.nodes.get(id);
      invariant(n !== undefined, "a live node is registered");
      return { id, capacity: n.capacity, draining: n.draining };
    });
    if (nodes.length === 0) return current;
    return planPlacement(allGroups(this.options.shardCount), current, nodes, {
      replicas: this.options.replication,
    });
  }

  /** The group's leader reported recently, with exactly its target as voters. */
  private settled(group: GroupId, now: number): boolean {
    const seen = this.leaders.get(group);
    const target = this.targets.get(group)?.record;
    if (seen === undefined || target === undefined) return false;
    if (now - seen.at >= this.options.failureTimeoutMs) return false;
    const r = seen.report;
    return r.learners.length === 0 && r.outgoing.length === 0 && sameSet(r.voters, target.replicas);
  }

  private leaderSeen(group: GroupId, now: number): boolean {
    const seen = this.leaders.get(group);
    return seen !== undefined && now - seen.at < this.options.failureTimeoutMs;
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function lost(replicas: readonly NodeId[], live: ReadonlySet<NodeId>): number {
  return replicas.filter((n) => !live.has(n)).length;
}
