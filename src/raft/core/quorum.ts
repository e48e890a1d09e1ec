import { sortSmall } from "../../small-sort.js";
import type { NodeId } from "./types.js";

const descending = (a: number, b: number) => b - a;

export enum VoteResult {
  Pending = "pending",
  Lost = "lost",
  Won = "won",
}

/**
 * The index a majority of `voters` has acknowledged, given each voter's
 * acknowledged index (missing = 0). An empty voter set imposes no constraint,
 * which lets a joint config with an empty outgoing half behave as the incoming
 * half alone.
 */
export function majorityCommitted(
  voters: ReadonlySet<NodeId>,
  acked: (id: NodeId) => number | undefined,
): number {
  const n = voters.size;
  if (n === 0) return Number.MAX_SAFE_INTEGER;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  sortSmall(indexes, descending);
  return indexes[Math.floor(n / 2)]!;
}

export function majorityVoteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}

/** A configuration that may be joint: decisions need a majority of both halves. */
export interface JointVoters {
  readonly incoming: ReadonlySet<NodeId>;
  readonly outgoing: ReadonlySet<NodeId>;
}

export function jointCommitted(
  voters: JointVoters,
  acked: (id: NodeId) => number | undefined,
): number {
  const a = majorityCommitted(voters.incoming, acked);
  const b = majorityCommitted(voters.outgoing, acked);
  return Math.min(a, b);
}

export function jointVoteResult(
  voters: JointVoters,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = majorityVoteResult(voters.incoming, votes);
  const b = majorityVoteResult(voters.outgoing, votes);
  if (a === b) return a;
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}
