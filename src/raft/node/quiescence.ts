/**
 * Quiescence: a group with nothing to do stops ticking, so an idle group
 * costs no timer, no heartbeat and no CPU (many groups per process, most of
 * them idle, is the sharded tier's normal state).
 *
 * The leader decides: once every peer holds and has committed its whole log
 * and nothing is pending, it sends one heartbeat round marked
 * QUIESCE_CONTEXT and stops ticking. A follower that receives it, at the
 * leader's term and with the whole log committed, stops ticking too.
 *
 * Raft's safety never depends on timers, only its liveness does, so the
 * rules here are about waking up:
 * - any request on the node (proposal, read, membership change, transfer)
 *   and any peer message other than heartbeat traffic of its term between
 *   leader and followers wakes it;
 * - the host wakes groups itself when a peer's node stops answering (the
 *   leader of a quiet group may have died; nothing else would notice);
 * - on waking, the ticks skipped while quiet are dropped, not delivered at
 *   once: a follower then waits a whole election timeout before campaigning.
 * Lease-based reads depend on ticks counting real time and are refused with
 * this option.
 */
import type { BasicStatus, Message, RaftStatus } from "../core/index.js";
import { MessageType, ProgressState, QUIESCE_CONTEXT, Role } from "../core/index.js";

/**
 * Whether a quiet node may stay quiet on `m` (otherwise it wakes before
 * stepping it): heartbeat traffic of its own term between the leader and its
 * followers, which may arrive after the quiesce round (reordered, late
 * answers) and asks nothing of a node that is not ticking.
 */
export function keepsQuiet(m: Message, st: BasicStatus): boolean {
  if (m.term !== st.term) return false;
  if (st.role === Role.Leader) return m.type === MessageType.HeartbeatResp;
  return st.role === Role.Follower && m.type === MessageType.Heartbeat && m.from === st.lead;
}

/**
 * Whether a follower, having stepped `m`, may go quiet: it is the leader's
 * quiesce round at this node's term, and this node's log is whole and
 * committed up to the leader's commit.
 */
export function followerMayQuiesce(m: Message, st: BasicStatus): boolean {
  return (
    m.type === MessageType.Heartbeat &&
    m.context === QUIESCE_CONTEXT &&
    st.role === Role.Follower &&
    m.term === st.term &&
    m.from === st.lead &&
    st.commit === m.commit &&
    st.lastIndex === st.commit
  );
}

/**
 * Whether a leader's group is idle: everything is committed and applied,
 * every peer replicates in step and answered within `maxTicksSinceHeard`,
 * no membership change or leadership transfer is under way.
 */
export function leaderIdle(st: RaftStatus, applied: number, maxTicksSinceHeard: number): boolean {
  if (st.role !== Role.Leader || st.leadTransferee !== 0) return false;
  if (st.commit !== st.lastIndex || applied !== st.commit) return false;
  const c = st.confState;
  if (c.votersOutgoing.length > 0 || c.learnersNext.length > 0) return false;
  for (const p of st.progress) {
    if (p.id === st.id) continue;
    if (p.match !== st.lastIndex || p.state !== ProgressState.Replicate) return false;
    if (p.ticksSinceHeard === undefined || p.ticksSinceHeard > maxTicksSinceHeard) return false;
  }
  return true;
}
