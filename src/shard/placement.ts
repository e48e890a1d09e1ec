/**
 * Where each shard's replicas live: an incremental, pure and deterministic
 * planner. Given the current replica sets and the nodes, it returns target
 * sets that change as little as possible while keeping every node's replica
 * count within a bound around its capacity share.
 *
 * Preferences come from weighted rendezvous hashing (RendezvousHash, the log
 * method): every group ranks every node, and a node of capacity 2 ranks first
 * about twice as often. Ranks depend on the (group, node) pair alone, so a
 * node joining or leaving does not reorder the others.
 */
import { InvalidArgumentError } from "../errors.js";
import { RendezvousHash } from "../hashring/rendezvous.js";
import type { GroupId } from "./keys.js";

export interface PlacementNode {
  readonly id: number;
  /** Relative weight (> 0): a node of capacity 2 is given about twice the replicas. */
  readonly capacity: number;
  /** A draining node is given nothing and loses what it holds. */
  readonly draining?: boolean;
}

export interface PlanOptions {
  /** Replicas per group (R). */
  readonly replicas: number;
  /**
   * Default 1.1: a node holds at most ceil(factor × its fair share) and at
   * least floor(its fair share / factor) replicas. Its fair share is its
   * capacity's share of all replicas, except that no node can hold more than
   * one replica per group: shares above the group count are capped and the
   * rest is spread over the others by capacity.
   */
  readonly maxLoadFactor?: number;
}

export interface PlacementChange {
  readonly group: GroupId;
  readonly add: number[];
  readonly remove: number[];
}

export const DEFAULT_MAX_LOAD_FACTOR = 1.1;

/**
 * Target replica sets for `groups`.
 *
 * 1. Keep: every current replica on a live (listed, non-draining) node stays;
 *    a group holding more than min(R, live nodes) drops its lowest-ranked.
 * 2. Fill: each missing slot goes to the group's highest-ranked node that is
 *    under its upper bound (the highest-ranked of all if none is).
 * 3. Balance: while a node is above its upper bound or below its lower bound,
 *    move one replica at a time. Redirecting a replica added in step 2 costs
 *    nothing (it has not been copied yet) and goes first; then moves that fix
 *    two nodes at once; then the moves whose receiving node ranks highest.
 *
 * Never two replicas of a group on one node; with fewer live nodes than R a
 * group gets one on each. In each list the kept replicas keep their order and
 * new ones are appended. Groups and nodes are visited in sorted order, so the
 * same inputs give the same output.
 */
export function planPlacement(
  groups: readonly GroupId[],
  current: ReadonlyMap<GroupId, readonly number[]>,
  nodes: readonly PlacementNode[],
  options: PlanOptions,
): Map<GroupId, number[]> {
  const replicas = options.replicas;
  const factor = options.maxLoadFactor ?? DEFAULT_MAX_LOAD_FACTOR;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new InvalidArgumentError(`replicas must be a positive integer, got ${String(replicas)}`);
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new InvalidArgumentError(`maxLoadFactor must be >= 1, got ${String(factor)}`);
  }
  const groupList = sortedGroups(groups);
  const live = sortedNodes(nodes).filter((node) => node.draining !== true);
  const result = new Map<GroupId, number[]>();
  const n = live.length;
  const G = groupList.length;
  if (n === 0) {
    for (const group of groupList) result.set(group, []);
    return result;
  }
  const k = Math.min(replicas, n);

  // Node indexes 0..n-1 in id order from here on.
  const indexOf = new Map<number, number>(live.map((node, i) => [node.id, i]));
  const ideal = fairShares(
    live.map((node) => node.capacity),
    G * k,
    G,
  );
  const upper = ideal.map((share) => Math.min(G, Math.ceil(share * factor - 1e-9)));
  const lower = ideal.map((share) => Math.floor(share / factor + 1e-9));

  // rank[g][i]: position of node i in group g's preference (0 = first);
  // order[g]: node indexes, most preferred first.
  const hash = new RendezvousHash();
  for (const node of live) hash.addNode(String(node.id), node.capacity);
  const order: Int32Array[] = [];
  const rank: Int32Array[] = [];
  for (const group of groupList) {
    const ids = hash.getN(String(group), n);
    const o = Int32Array.from(ids, (id) => indexOf.get(Number(id))!);
    const r = new Int32Array(n);
    for (let p = 0; p < n; p++) r[o[p]!] = p;
    order.push(o);
    rank.push(r);
  }

  const load = new Int32Array(n);
  // members[g]: node indexes; fresh[g]: the ones added by this plan.
  const members: number[][] = [];
  const fresh: Set<number>[] = [];
  for (let g = 0; g < G; g++) {
    const kept: number[] = [];
    for (const id of current.get(groupList[g]!) ?? []) {
      const i = indexOf.get(id);
      if (i !== undefined && !kept.includes(i)) kept.push(i);
    }
    if (kept.length > k) {
      const r = rank[g]!;
      const keep = new Set([...kept].sort((a, b) => r[a]! - r[b]!).slice(0, k));
      members.push(kept.filter((i) => keep.has(i)));
    } else {
      members.push(kept);
    }
    for (const i of members[g]!) load[i]!++;
    fresh.push(new Set());
  }

  for (let g = 0; g < G; g++) {
    const m = members[g]!;
    const o = order[g]!;
    while (m.length < k) {
      let choice = -1;
      for (const i of o) {
        if (m.includes(i)) continue;
        if (choice < 0) choice = i;
        if (load[i]! < upper[i]!) {
          choice = i;
          break;
        }
      }
      m.push(choice);
      fresh[g]!.add(choice);
      load[choice]!++;
    }
  }

  balance({ members, fresh, order, rank, load, upper, lower, ideal });

  for (let g = 0; g < G; g++) {
    result.set(
      groupList[g]!,
      members[g]!.map((i) => live[i]!.id),
    );
  }
  return result;
}

interface BalanceState {
  readonly members: number[][];
  readonly fresh: Set<number>[];
  readonly order: Int32Array[];
  readonly rank: Int32Array[];
  readonly load: Int32Array;
  readonly upper: number[];
  readonly lower: number[];
  readonly ideal: number[];
}

interface Move {
  readonly g: number;
  readonly from: number;
  readonly to: number;
  readonly free: boolean;
  /** Nodes brought back within their bounds: 1 or 2. */
  readonly gain: number;
}

/**
 * Step 3. Each round takes every group's best move, sorts them, and applies
 * them in that order as long as each still has its gain under the loads left
 * by the ones before (recomputing every move after every single move would
 * cost a full scan each). Every applied move lowers the total distance to the
 * bounds, so the loop ends; it also ends when no move helps.
 */
function balance(s: BalanceState): void {
  const { members, fresh, rank, load, upper, lower } = s;
  const over = (i: number) => load[i]! > upper[i]!;
  const needy = (i: number) => load[i]! < lower[i]!;
  const gainOf = (g: number, from: number, to: number): number => {
    if (members[g]!.includes(to) || !members[g]!.includes(from)) return 0;
    const fromOver = over(from);
    const canGive = fromOver || load[from]! > lower[from]!;
    const canTake = load[to]! < upper[to]!;
    if (!(fromOver && canTake) && !(needy(to) && canGive)) return 0;
    return (fromOver ? 1 : 0) + (needy(to) ? 1 : 0);
  };
  for (;;) {
    const moves: Move[] = [];
    for (let g = 0; g < members.length; g++) {
      const move = bestMove(s, g, gainOf);
      if (move !== undefined) moves.push(move);
    }
    if (moves.length === 0) return;
    moves.sort(
      (a, b) =>
        Number(b.free) - Number(a.free) ||
        b.gain - a.gain ||
        rank[a.g]![a.to]! - rank[b.g]![b.to]! ||
        s.load[b.from]! - s.ideal[b.from]! - (s.load[a.from]! - s.ideal[a.from]!) ||
        rank[b.g]![b.from]! - rank[a.g]![a.from]! ||
        a.g - b.g,
    );
    let applied = 0;
    for (const move of moves) {
      if (gainOf(move.g, move.from, move.to) !== move.gain) continue;
      // The new replica goes last: kept replicas keep their order.
      const m = members[move.g]!;
      m.splice(m.indexOf(move.from), 1);
      m.push(move.to);
      load[move.from]!--;
      load[move.to]!++;
      fresh[move.g]!.delete(move.from);
      fresh[move.g]!.add(move.to);
      applied++;
    }
    if (applied === 0) return;
  }
}

/** The best move within group g: free first, then gain, then the receiver's rank. */
function bestMove(
  s: BalanceState,
  g: number,
  gainOf: (g: number, from: number, to: number) => number,
): Move | undefined {
  const m = s.members[g]!;
  let best: Move | undefined;
  for (const from of m) {
    // The receivers worth trying are the first in rank order that are needy or
    // merely under their upper bound; any later one of the same kind ranks lower.
    let needy = -1;
    let open = -1;
    for (const to of s.order[g]!) {
      if (m.includes(to)) continue;
      if (needy < 0 && s.load[to]! < s.lower[to]!) needy = to;
      if (open < 0 && s.load[to]! < s.upper[to]!) open = to;
      if (needy >= 0 && open >= 0) break;
    }
    for (const to of [needy, open]) {
      if (to < 0) continue;
      const gain = gainOf(g, from, to);
      if (gain === 0) continue;
      const move = { g, from, to, free: s.fresh[g]!.has(from), gain };
      if (best === undefined || better(s, move, best)) best = move;
    }
  }
  return best;
}

function better(s: BalanceState, a: Move, b: Move): boolean {
  if (a.free !== b.free) return a.free;
  if (a.gain !== b.gain) return a.gain > b.gain;
  const r = s.rank[a.g]!;
  if (a.to !== b.to) return r[a.to]! < r[b.to]!;
  const excess = s.load[a.from]! - s.ideal[a.from]! - (s.load[b.from]! - s.ideal[b.from]!);
  if (excess !== 0) return excess > 0;
  return r[a.from]! > r[b.from]!;
}

/**
 * Each node's fair share of `total` replicas by capacity, no share above
 * `cap` (one replica per group): capped nodes take `cap` and the rest is
 * shared again among the others (water-filling).
 */
function fairShares(capacities: readonly number[], total: number, cap: number): number[] {
  const shares = capacities.map(() => 0);
  let open = capacities.map((_, i) => i);
  let remaining = total;
  for (;;) {
    const weight = open.reduce((sum, i) => sum + capacities[i]!, 0);
    const capped = open.filter((i) => (remaining * capacities[i]!) / weight >= cap);
    if (capped.length === 0) {
      for (const i of open) shares[i] = (remaining * capacities[i]!) / weight;
      return shares;
    }
    for (const i of capped) shares[i] = cap;
    remaining -= cap * capped.length;
    open = open.filter((i) => !capped.includes(i));
    if (open.length === 0) return shares;
  }
}

/** Groups sorted and checked: integers, no duplicates. */
function sortedGroups(groups: readonly GroupId[]): GroupId[] {
  const list = [...groups].sort((a, b) => a - b);
  for (let i = 0; i < list.length; i++) {
    const group = list[i]!;
    if (!Number.isSafeInteger(group) || group < 0) {
      throw new InvalidArgumentError(`group id must be a non-negative integer, got ${group}`);
    }
    if (i > 0 && list[i - 1] === group) {
      throw new InvalidArgumentError(`group ${group} is listed twice`);
    }
  }
  return list;
}

/** Nodes sorted by id and checked: integer ids, no duplicates, capacity > 0. */
function sortedNodes(nodes: readonly PlacementNode[]): PlacementNode[] {
  const list = [...nodes].sort((a, b) => a.id - b.id);
  for (let i = 0; i < list.length; i++) {
    const node = list[i]!;
    if (!Number.isSafeInteger(node.id)) {
      throw new InvalidArgumentError(`node id must be an integer, got ${String(node.id)}`);
    }
    if (i > 0 && list[i - 1]!.id === node.id) {
      throw new InvalidArgumentError(`node ${node.id} is listed twice`);
    }
    if (!(Number.isFinite(node.capacity) && node.capacity > 0)) {
      throw new InvalidArgumentError(
        `node ${node.id}: capacity must be a positive number, got ${String(node.capacity)}`,
      );
    }
  }
  return list;
}

/** The replicas to add and remove per group, for the groups whose set changes, in group order. */
export function placementDiff(
  before: ReadonlyMap<GroupId, readonly number[]>,
  after: ReadonlyMap<GroupId, readonly number[]>,
): PlacementChange[] {
  const groups = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => a - b);
  const changes: PlacementChange[] = [];
  for (const group of groups) {
    const was = before.get(group) ?? [];
    const now = after.get(group) ?? [];
    const add = now.filter((id) => !was.includes(id));
    const remove = was.filter((id) => !now.includes(id));
    if (add.length > 0 || remove.length > 0) changes.push({ group, add, remove });
  }
  return changes;
}

/** Replicas per node, in node id order (nodes holding none are absent). */
export function loadsOf(placement: ReadonlyMap<GroupId, readonly number[]>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const ids of placement.values()) {
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map([...counts].sort((a, b) => a[0] - b[0]));
}
