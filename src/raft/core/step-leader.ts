import { invariant } from "./errors.js";
import { ProgressState } from "./progress.js";
import { majorityVoteResult, VoteResult } from "./quorum.js";
import type { Raft } from "./raft.js";
import type { Message } from "./types.js";
import { MessageType, NO_NODE } from "./types.js";

/** Message handling while leader (etcd's stepLeader). */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Beat:
      r.bcastHeartbeat();
      return;
    case MessageType.CheckQuorum:
      if (!r.tracker.quorumActive(r.id)) {
        // Cut off from a quorum: stop acting as leader so clients go elsewhere.
        r.becomeFollower(r.term, NO_NODE);
      }
      for (const [id, pr] of r.tracker.progress) if (id !== r.id) pr.recentActive = false;
      return;
    case MessageType.Prop:
      invariant(m.entries.length > 0, "empty proposal");
      r.admitProposal(m.entries);
      return;
    case MessageType.ReadIndex:
      r.handleReadIndex(m);
      return;
    default:
      break;
  }

  const pr = r.tracker.progress.get(m.from);
  if (pr === undefined) return; // not (or no longer) a member
  switch (m.type) {
    case MessageType.AppResp: {
      pr.recentActive = true;
      pr.lastHeardTick = r.leaderTick;
      if (m.reject) {
        // Skip a whole divergent term at once using the follower's hint (5.3 optimisation).
        let probeFrom = m.rejectHint;
        if (m.logTerm > 0) probeFrom = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
        if (pr.maybeDecrTo(m.index, probeFrom)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          r.sendAppend(m.from, true);
        }
        return;
      }
      // Our log only grows while we lead, so an acknowledgement beyond its end
      // was never sent by a follower of this term: taking it as the peer's
      // match would point replication past our log.
      if (m.index > r.log.lastIndex()) return;
      const wasPaused = pr.isPaused();
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.log.firstIndex()) {
          // The follower caught up past our compaction point: normal replication resumes.
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index);
        }
        if (r.maybeCommit()) {
          r.releasePendingReadIndexMessages();
          r.bcastAppend();
        } else if (wasPaused) {
          r.sendAppend(m.from, true);
        }
        // Pipelining: fill the window while there are entries to send.
        while (r.sendAppend(m.from, false)) {
          /* keep sending */
        }
        if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
          r.sendTimeoutNow(m.from);
        }
      }
      return;
    }
    case MessageType.HeartbeatResp: {
      pr.recentActive = true;
      pr.lastHeardTick = r.leaderTick;
      pr.probeSent = false;
      r.recordLeaseAck(m.from, m.index);
      // The peer is alive but the window is full: appends were probably lost.
      // Free one slot so replication can resume (a stale next is corrected by its rejection).
      if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.log.lastIndex() || pr.state === ProgressState.Probe)
        r.sendAppend(m.from, true);
      if (m.context === "") return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (acks === undefined) return;
      const votes = new Map<number, boolean>();
      for (const id of acks) votes.set(id, true);
      const won =
        majorityVoteResult(r.tracker.config.incoming, votes) === VoteResult.Won &&
        majorityVoteResult(r.tracker.config.outgoing, votes) === VoteResult.Won;
      if (!won) return;
      for (const rs of r.readOnly.advance(m.context)) r.respondToReadIndex(rs.request, rs.index);
      return;
    }
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's answer (or a heartbeat response) before probing again.
      pr.probeSent = true;
      return;
    case MessageType.Unreachable:
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.TransferLeader: {
      if (pr.isLearner) return;
      const transferee = m.from;
      if (r.leadTransferee !== NO_NODE) {
        if (r.leadTransferee === transferee) return;
        r.leadTransferee = NO_NODE;
      }
      if (transferee === r.id) return;
      // The transfer must finish within one election timeout or it is abandoned.
      r.electionElapsed = 0;
      r.leadTransferee = transferee;
      if (pr.match === r.log.lastIndex()) r.sendTimeoutNow(transferee);
      else r.sendAppend(transferee, true);
      return;
    }
    default:
      return;
  }
}
