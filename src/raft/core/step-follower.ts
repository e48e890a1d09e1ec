import { VoteResult } from "./quorum.js";
import type { Raft } from "./raft.js";
import { CampaignKind } from "./raft.js";
import type { Message } from "./types.js";
import { MessageType, message, NO_NODE, Role } from "./types.js";

/** Message handling while (pre-)candidate (etcd's stepCandidate). */
export function stepCandidate(r: Raft, m: Message): void {
  const myVoteResp = r.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
      throw r.notLeader("proposal");
    case MessageType.ReadIndex:
      throw r.notLeader("read");
    case MessageType.App:
      r.becomeFollower(m.term, m.from);
      handleAppend(r, m);
      return;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case myVoteResp: {
      const result = r.poll(m.from, !m.reject);
      if (result === VoteResult.Won) {
        if (r.role === Role.PreCandidate) {
          r.campaign(CampaignKind.Election);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.Lost) {
        r.becomeFollower(r.term, NO_NODE);
      }
      return;
    }
    default:
      return;
  }
}

/** Message handling while follower (etcd's stepFollower). */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop:
      if (r.lead === NO_NODE || !r.cfg.forwardProposals) throw r.notLeader("proposal");
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppend(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.TransferLeader:
      if (r.lead === NO_NODE) throw r.notLeader("leadership transfer");
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.TimeoutNow:
      // The leader asks us to take over now: skip pre-vote (thesis 3.10).
      r.hup(CampaignKind.Transfer);
      return;
    case MessageType.ReadIndex:
      if (r.lead === NO_NODE) throw r.notLeader("read");
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, context: m.context });
      return;
    default:
      return;
  }
}

function handleAppend(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    r.send(message({ type: MessageType.AppResp, to: m.from, from: r.id, index: r.log.committed }));
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    r.send(message({ type: MessageType.AppResp, to: m.from, from: r.id, index: lastNew }));
    return;
  }
  // Tell the leader where our log might match: the last index at or below
  // its probe whose term is no newer than its probe term.
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.send(
    message({
      type: MessageType.AppResp,
      to: m.from,
      from: r.id,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    }),
  );
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send(
    message({
      type: MessageType.HeartbeatResp,
      to: m.from,
      from: r.id,
      context: m.context,
      index: m.index,
    }),
  );
}

function handleSnapshot(r: Raft, m: Message): void {
  if (m.snapshot === undefined) return;
  const index = r.restore(m.snapshot) ? r.log.lastIndex() : r.log.committed;
  r.send(message({ type: MessageType.AppResp, to: m.from, from: r.id, index }));
}
