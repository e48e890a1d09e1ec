/**
 * Which membership changes are safe to make now, decided at the leader from
 * what it knows: the configuration and which members answered it lately.
 * Modelled on etcd's `--strict-reconfig-check` and its learner readiness rule.
 */
import type { NodeStatus } from "../raft/node/index.js";
import {
  LearnerNotReadyError,
  type QuorumCount,
  TooManyLearnersError,
  UnsafeReconfigurationError,
} from "./reconfig-errors.js";

/** The leader's view of its configuration when a change is asked for. */
export interface ClusterHealth {
  readonly leaderId: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** Members the leader heard from within an election timeout, the leader itself included. */
  readonly connected: ReadonlySet<number>;
}

export type MembershipChange =
  | { readonly kind: "addVoter"; readonly id: number }
  | { readonly kind: "promote"; readonly id: number }
  | { readonly kind: "remove"; readonly id: number };

/** A learner may vote once it holds this share of the leader's committed log (etcd's rule). */
export const LEARNER_READY_PERCENT = 90;

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The leader's view from its node status; only meaningful on the leader. */
export function clusterHealth(status: NodeStatus): ClusterHealth {
  const connected = new Set([status.id]);
  for (const peer of status.peers) if (peer.connected) connected.add(peer.id);
  return {
    leaderId: status.id,
    voters: status.confState.voters,
    learners: status.confState.learners,
    connected,
  };
}

/** The voters and their connected count after `change`. */
export function countAfter(health: ClusterHealth, change: MembershipChange): QuorumCount {
  const voters = new Set(health.voters);
  if (change.kind === "remove") voters.delete(change.id);
  else voters.add(change.id);
  let connected = 0;
  for (const id of voters) if (health.connected.has(id)) connected++;
  return { voters: voters.size, connected, quorum: quorumOf(voters.size) };
}

/**
 * Throws UnsafeReconfigurationError when `change` would leave fewer connected
 * voters than a quorum of the new configuration. A new voter counts only if
 * the leader already hears from it (a learner being promoted), so adding an
 * unreachable voter is refused as soon as it would tip the balance.
 *
 * Removing a learner, or a voter the leader does not hear from, is always
 * allowed: it never raises the quorum and never lowers the connected count,
 * so it can only help a cluster that has lost members.
 */
export function checkReconfiguration(health: ClusterHealth, change: MembershipChange): void {
  if (change.kind === "remove") {
    if (!health.voters.includes(change.id)) return;
    if (change.id !== health.leaderId && !health.connected.has(change.id)) return;
  }
  const count = countAfter(health, change);
  if (count.connected >= count.quorum) return;
  const what =
    change.kind === "addVoter"
      ? `adding voter ${change.id}`
      : change.kind === "promote"
        ? `promoting learner ${change.id}`
        : `removing voter ${change.id}`;
  const hint =
    change.kind === "remove"
      ? "bring the unreachable voters back or remove them first"
      : "add it as a learner, or bring the unreachable voters back or remove them first";
  throw new UnsafeReconfigurationError(what, count, hint);
}

/** What the leader knows of one learner's log. */
export interface LearnerProgress {
  readonly id: number;
  readonly connected: boolean;
  readonly matchIndex: number;
}

/** The match index a learner needs before it may vote, given the leader's commit index. */
export function learnerReadyIndex(commitIndex: number): number {
  return Math.ceil((commitIndex * LEARNER_READY_PERCENT) / 100);
}

/**
 * Throws LearnerNotReadyError unless the leader hears from the learner and it
 * holds at least 90% of the committed log. A voter that must first fetch most
 * of the log (or is not there) adds to the quorum without adding to the
 * acknowledgements, so promoting it early can stall commits.
 */
export function checkLearnerReady(learner: LearnerProgress, commitIndex: number): void {
  const requiredIndex = learnerReadyIndex(commitIndex);
  if (learner.connected && learner.matchIndex >= requiredIndex) return;
  throw new LearnerNotReadyError(learner.id, {
    matchIndex: learner.matchIndex,
    requiredIndex,
    connected: learner.connected,
  });
}

/** Throws TooManyLearnersError when one more learner would exceed `maxLearners`. */
export function checkLearnerCapacity(health: ClusterHealth, maxLearners: number): void {
  if (health.learners.length < maxLearners) return;
  throw new TooManyLearnersError(health.learners.length, maxLearners);
}
