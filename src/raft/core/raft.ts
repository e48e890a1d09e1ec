import type { ChangeResult } from "./confchange.js";
import { Changer, decodeConfChange, isLeaveJoint, jointMode, restoreConfig } from "./confchange.js";
import type { ResolvedRaftConfig } from "./config.js";
import { ReadOnlyOption } from "./config.js";
import {
  ConfChangePendingError,
  InvalidConfChangeError,
  invariant,
  LogCompactedError,
  NotLeaderError,
  ProposalDroppedError,
  SnapshotTemporarilyUnavailableError,
  UncommittedLimitError,
} from "./errors.js";
import { MAX_INDEX, MAX_TERM } from "./limits.js";
import { RaftLog } from "./log.js";
import { ProgressState } from "./progress.js";
import { jointCommitted, VoteResult } from "./quorum.js";
import { ReadOnly } from "./readonly.js";
import { stepCandidate, stepFollower } from "./step-follower.js";
import { stepLeader } from "./step-leader.js";
import { isJoint, ProgressTracker, toConfState } from "./tracker.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Snapshot,
} from "./types.js";
import {
  EntryType,
  entriesSize,
  MessageType,
  message,
  NO_NODE,
  Role,
  voteResponseType,
} from "./types.js";

export enum CampaignKind {
  PreElection = "preElection",
  Election = "election",
  /** Started by TimeoutNow: skips pre-vote and overrides voters' leader leases. */
  Transfer = "transfer",
}

const TRANSFER_CONTEXT = "transfer";

/**
 * The Raft protocol for one server as a deterministic state machine. It does
 * no I/O: messages accumulate in `msgs`, entries in the unstable log, and the
 * RawNode hands both to the application in a Ready.
 */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  term = 0;
  vote: NodeId = NO_NODE;
  role = Role.Follower;
  lead: NodeId = NO_NODE;
  isLearner = false;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Leader: the peer leadership is being handed to, or NO_NODE. */
  leadTransferee: NodeId = NO_NODE;
  /** Leader: log index of the latest membership change proposed; none may follow until it is applied. */
  pendingConfIndex = 0;
  /** Leader: payload bytes of entries appended in this term and not yet applied. */
  uncommittedBytes = 0;
  readOnly = new ReadOnly();
  /** Leader: ReadIndex requests waiting for the first commit of this term. */
  pendingReadIndexMessages: Message[] = [];
  /** Leader: a heartbeat round must go out for queued ReadIndex requests. */
  readRoundDue = false;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks left during which a freshly started node grants no votes (see inLease). */
  startupQuietTicks: number;
  /** Leader: ticks since it became leader; the clock of its lease. */
  leaderTick = 0;
  /** Leader: per peer, 1 + the leaderTick at which the newest acknowledged heartbeat was sent. */
  leaseAcks = new Map<NodeId, number>();

  constructor(cfg: ResolvedRaftConfig) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.log = new RaftLog(cfg.storage);
    this.tracker = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    // We may have acknowledged a leader just before a crash and forgotten it:
    // keep its lease by not voting for one election timeout after starting.
    this.startupQuietTicks = cfg.checkQuorum ? cfg.electionTicks : 0;
    const { hardState, confState } = cfg.storage.initialState();
    this.installConfig(restoreConfig(this.tracker, confState, this.log.lastIndex()));
    if (hardState.term !== 0 || hardState.vote !== NO_NODE || hardState.commit !== 0) {
      this.loadHardState(hardState);
    }
    this.becomeFollower(this.term, NO_NODE);
  }

  private loadHardState(hs: HardState): void {
    invariant(
      hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(),
      () => `stored commit ${hs.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
    );
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return toConfState(this.tracker.config);
  }

  // ---- roles ---------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTicks + this.cfg.random.int(this.cfg.electionTicks);
    this.leadTransferee = NO_NODE;
    this.tracker.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      const fresh = this.tracker.newProgress(last + 1, pr.isLearner);
      // The leader's own log may hold entries still being written; counting
      // them is harmless here: they are of older terms, which never commit by
      // counting replicas (5.4.2), and a quorum for an entry of this term needs
      // a higher match than this from the leader (see acceptStable).
      if (id === this.id) fresh.match = last;
      this.tracker.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.readRoundDue = false;
    this.leaderTick = 0;
    this.leaseAcks = new Map();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  becomePreCandidate(): void {
    invariant(this.role !== Role.Leader, "leader cannot become pre-candidate");
    // Pre-vote changes neither term nor vote: a lost pre-election leaves no trace.
    this.tracker.resetVotes();
    this.lead = NO_NODE;
    this.role = Role.PreCandidate;
  }

  becomeCandidate(): void {
    invariant(this.role !== Role.Leader, "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  becomeLeader(): void {
    invariant(this.role === Role.Candidate, () => `${this.role} cannot become leader`);
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // A new leader may not know which entries are committed; an entry of its
    // own term, once committed, settles that (5.4.2) and unblocks reads.
    this.pendingConfIndex = this.log.lastIndex();
    const ok = this.appendEntries([
      { term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) },
    ]);
    invariant(ok, "the empty entry of a new leader must always be accepted");
  }

  promotable(): boolean {
    const pr = this.tracker.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.log.unstable.snapshot === undefined;
  }

  // ---- time ----------------------------------------------------------------

  tick(): void {
    if (this.startupQuietTicks > 0) this.startupQuietTicks--;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, to: this.id, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.leaderTick++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        this.step(message({ type: MessageType.CheckQuorum, to: this.id, from: this.id }));
      }
      // A transfer that did not finish within an election timeout is abandoned (3.10).
      if (this.role === Role.Leader && this.leadTransferee !== NO_NODE)
        this.leadTransferee = NO_NODE;
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, to: this.id, from: this.id }));
    }
  }

  // ---- messages ------------------------------------------------------------

  send(m: Message): void {
    invariant(m.to !== this.id || m.to === NO_NODE, () => `message ${m.type} addressed to self`);
    // Votes carry their own (future) term; every other non-local message is stamped with ours.
    const keepsTerm =
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp;
    if (keepsTerm) {
      invariant(m.term !== 0, () => `${m.type} must carry a term`);
      this.msgs.push({ ...m, from: this.id });
    } else if (
      m.type === MessageType.Prop ||
      m.type === MessageType.ReadIndex ||
      m.type === MessageType.TransferLeader
    ) {
      // Forwarded requests keep their origin (for a transfer, `from` names the
      // transferee) and carry no term: they must not look like a newer leader's traffic.
      this.msgs.push({ ...m, term: 0 });
    } else {
      this.msgs.push({ ...m, from: this.id, term: this.term });
    }
  }

  /** Entry point for every message, local or from a peer. Throws typed errors for rejected requests. */
  step(m: Message): void {
    if (m.term > this.term && m.term !== 0) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === TRANSFER_CONTEXT;
        const inLease =
          this.cfg.checkQuorum &&
          ((this.lead !== NO_NODE && this.electionElapsed < this.cfg.electionTicks) ||
            this.startupQuietTicks > 0);
        // Within the lease of a live leader, a disruptive candidate is ignored (thesis 4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; the term moves when the quorum is reached.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NO_NODE);
      }
    } else if (m.term < this.term && m.term !== 0) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (e.g. healed from a partition) learns our term and steps
        // down; without this, pre-vote could keep it and us apart forever.
        this.send(message({ type: MessageType.AppResp, to: m.from, from: this.id }));
      } else if (m.type === MessageType.PreVote) {
        this.send(
          message({
            type: MessageType.PreVoteResp,
            to: m.from,
            from: this.id,
            term: this.term,
            reject: true,
          }),
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.cfg.preVote ? CampaignKind.PreElection : CampaignKind.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        // Silence, as from a voter that is down: a refusal would have to
        // carry a term, and this node's may be 0.
        if (this.cfg.noVotesWhenEmpty && this.log.lastIndex() === 0) return;
        const canVote =
          this.vote === m.from ||
          (this.vote === NO_NODE && this.lead === NO_NODE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // Reply with the message's term: a granted pre-vote must be recognisable
          // by the pre-candidate, whose future term it is.
          this.send(
            message({ type: voteResponseType(m.type), to: m.from, from: this.id, term: m.term }),
          );
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(
            message({
              type: voteResponseType(m.type),
              to: m.from,
              from: this.id,
              term: this.term,
              reject: true,
            }),
          );
        }
        return;
      }
      default:
        switch (this.role) {
          case Role.Leader:
            stepLeader(this, m);
            return;
          case Role.Candidate:
          case Role.PreCandidate:
            stepCandidate(this, m);
            return;
          case Role.Follower:
            stepFollower(this, m);
            return;
        }
    }
  }

  // ---- elections -----------------------------------------------------------

  hup(kind: CampaignKind): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    // A committed but unapplied membership change may remove us; wait until it is applied.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    let lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    while (lo < hi) {
      const batch = this.log.slice(lo, hi, this.cfg.maxSizePerMsgBytes);
      for (const e of batch) if (e.type === EntryType.ConfChange) return true;
      lo += batch.length;
    }
    return false;
  }

  campaign(kind: CampaignKind): void {
    if (!this.promotable()) return;
    // At the ceiling a new term (or a leader's first entry) would leave the
    // range peers accept: stay a follower rather than send what they refuse.
    if (this.term >= MAX_TERM || this.log.lastIndex() >= MAX_INDEX) return;
    let voteType: MessageType;
    let term: number;
    if (kind === CampaignKind.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      // A single-voter cluster wins on its own vote.
      if (kind === CampaignKind.PreElection) this.campaign(CampaignKind.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.tracker.voterIds()) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteType,
          to: id,
          from: this.id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: kind === CampaignKind.Transfer ? TRANSFER_CONTEXT : "",
        }),
      );
    }
  }

  poll(id: NodeId, granted: boolean): VoteResult {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  // ---- replication (leader) ------------------------------------------------

  /** Appends proposals to the leader's log; false when the uncommitted budget is exhausted. */
  appendEntries(entries: readonly Entry[]): boolean {
    const last = this.log.lastIndex();
    const stamped = entries.map((e, i) => ({
      term: this.term,
      index: last + 1 + i,
      type: e.type,
      data: e.data,
    }));
    if (!this.increaseUncommitted(stamped)) return false;
    this.log.append(stamped);
    // No self-acknowledgement here: the leader writes its log in parallel with
    // replicating it (thesis 10.2.1), so its own copy counts toward a quorum
    // only once it is durable (see acceptStable, called on advance).
    return true;
  }

  /**
   * The application persisted the log up to `index` (of `term`): a leader
   * counts its own copy toward the commit quorum from now on (etcd's
   * self-addressed MsgAppResp, delivered after the storage write). Counting it
   * at append time would let a leader and one follower commit an entry that a
   * leader crash before its fsync leaves on a minority.
   */
  acceptStable(index: number, term: number): void {
    if (this.role !== Role.Leader) return;
    // Replaced while it was written (a new term's log): not ours to count.
    if (!this.log.matchTerm(index, term)) return;
    const pr = this.tracker.progress.get(this.id);
    if (pr === undefined || !pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  private increaseUncommitted(entries: readonly Entry[]): boolean {
    let bytes = 0;
    for (const e of entries) bytes += e.data.byteLength;
    const limit = this.cfg.maxUncommittedBytes;
    // Always admit something when nothing is outstanding, so a large entry cannot wedge the log.
    if (
      limit > 0 &&
      this.uncommittedBytes > 0 &&
      bytes > 0 &&
      this.uncommittedBytes + bytes > limit
    ) {
      return false;
    }
    this.uncommittedBytes += bytes;
    return true;
  }

  reduceUncommitted(entries: readonly Entry[]): void {
    if (this.role !== Role.Leader) return;
    let bytes = 0;
    for (const e of entries) bytes += e.data.byteLength;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  maybeCommit(): boolean {
    return this.log.maybeCommit(this.tracker.committed(), this.term);
  }

  bcastAppend(): void {
    for (const id of this.tracker.ids()) if (id !== this.id) this.sendAppend(id, true);
  }

  bcastHeartbeat(ctx: string = this.readOnly.lastPendingContext()): void {
    for (const id of this.tracker.ids()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  sendHeartbeat(to: NodeId, context: string): void {
    const pr = this.tracker.progress.get(to)!;
    // Never tell a follower to commit beyond what it is known to hold.
    const commit = Math.min(pr.match, this.log.committed);
    // `index` carries the send time; the echo in the response extends the lease.
    this.send(
      message({
        type: MessageType.Heartbeat,
        to,
        from: this.id,
        commit,
        context,
        index: this.leaderTick,
      }),
    );
  }

  /** Sends the next batch of entries to `to` if flow control allows; returns whether a message went out. */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      entries = this.log.entries(pr.next, this.cfg.maxSizePerMsgBytes);
    } catch (err) {
      if (err instanceof LogCompactedError) return this.sendSnapshot(to);
      throw err;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const bytes = entriesSize(entries);
    this.send(
      message({
        type: MessageType.App,
        to,
        from: this.id,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex;
    pr.sentEntries(entries.length, last, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId): boolean {
    const pr = this.tracker.progress.get(to)!;
    // A peer we have not heard from lately may be down: don't ship it a snapshot yet.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (err instanceof SnapshotTemporarilyUnavailableError) return false;
      throw err;
    }
    invariant(snapshot.metadata.index > 0, "need a non-empty snapshot to send");
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send(message({ type: MessageType.Snap, to, from: this.id, snapshot }));
    return true;
  }

  sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: MessageType.TimeoutNow, to, from: this.id }));
  }

  // ---- proposals -----------------------------------------------------------

  /**
   * Validates a membership-change proposal at the leader. Throws when another
   * change is pending or the change would be invalid for the current config.
   */
  checkConfChangeProposal(cc: ConfChange): void {
    const alreadyPending = this.pendingConfIndex > this.log.applied;
    const alreadyJoint = isJoint(this.tracker.config);
    const wantsLeaveJoint = isLeaveJoint(cc);
    if (alreadyPending) {
      throw new ConfChangePendingError(
        `change at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied})`,
      );
    }
    if (alreadyJoint && !wantsLeaveJoint) {
      throw new ConfChangePendingError("the joint configuration must be left first");
    }
    if (!alreadyJoint && wantsLeaveJoint) {
      throw new InvalidConfChangeError(
        "not in a joint configuration; an empty change means nothing",
      );
    }
    // Dry-run so an invalid change is refused now rather than ignored at apply time.
    this.computeConfChange(cc);
  }

  private computeConfChange(cc: ConfChange): ChangeResult {
    const changer = new Changer(this.tracker, this.log.lastIndex());
    if (isLeaveJoint(cc)) return changer.leaveJoint();
    const { joint, autoLeave } = jointMode(cc);
    return joint ? changer.enterJoint(autoLeave, cc.changes) : changer.simple(cc.changes);
  }

  /** Leader-side admission of proposals; throws the typed reason when refused. */
  admitProposal(entries: readonly Entry[]): void {
    if (!this.tracker.progress.has(this.id)) {
      throw new ProposalDroppedError("this leader was removed from the configuration");
    }
    if (this.leadTransferee !== NO_NODE) {
      throw new ProposalDroppedError(
        `leadership is being transferred to node ${this.leadTransferee}`,
      );
    }
    if (this.log.lastIndex() + entries.length > MAX_INDEX) {
      throw new ProposalDroppedError(`the log is at the largest index peers accept (${MAX_INDEX})`);
    }
    entries.forEach((e, i) => {
      if (e.type !== EntryType.ConfChange) return;
      this.checkConfChangeProposal(decodeConfChange(e.data));
      this.pendingConfIndex = this.log.lastIndex() + i + 1;
    });
    if (!this.appendEntries(entries)) {
      throw new UncommittedLimitError(this.uncommittedBytes, this.cfg.maxUncommittedBytes);
    }
    this.bcastAppend();
  }

  notLeader(what: string): NotLeaderError {
    return new NotLeaderError(this.lead, what);
  }

  // ---- reads ---------------------------------------------------------------

  committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  /** Leader: answer (or queue) a ReadIndex request. */
  handleReadIndex(m: Message): void {
    if (this.tracker.isSingleton()) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    // Until an entry of this term commits, our commit index may lag the true one (6.4 step 1).
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.sendReadIndexResponse(m);
  }

  /** Whether this leader may serve reads without a heartbeat round (see ReadOnlyOption.LeaseBased). */
  leaseValid(): boolean {
    if (this.role !== Role.Leader || this.leadTransferee !== NO_NODE) return false;
    const acked = jointCommitted(this.tracker.voters, (id) =>
      id === this.id ? this.leaderTick + 1 : this.leaseAcks.get(id),
    );
    if (acked === 0) return false;
    const leaseTicks = Math.floor(this.cfg.electionTicks * (1 - this.cfg.maxClockDriftRatio)) - 1;
    return acked - 1 + leaseTicks > this.leaderTick;
  }

  recordLeaseAck(from: NodeId, sentAtTick: number): void {
    const prev = this.leaseAcks.get(from) ?? 0;
    if (sentAtTick + 1 > prev && sentAtTick <= this.leaderTick)
      this.leaseAcks.set(from, sentAtTick + 1);
  }

  sendReadIndexResponse(m: Message): void {
    if (this.cfg.readOnlyOption === ReadOnlyOption.LeaseBased && this.leaseValid()) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    this.readOnly.add(this.log.committed, m);
    this.readOnly.recvAck(this.id, m.context);
    // The heartbeat round goes out when the next Ready is taken, so every
    // request arriving until then shares one round.
    this.readRoundDue = true;
  }

  releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.sendReadIndexResponse(m);
  }

  /** Sends the heartbeat round for queued reads, if one is due. */
  flushReadRound(): void {
    if (!this.readRoundDue) return;
    this.readRoundDue = false;
    if (this.role === Role.Leader) this.bcastHeartbeat();
  }

  respondToReadIndex(req: Message, index: number): void {
    if (req.from === NO_NODE || req.from === this.id) {
      this.readStates.push({ index, context: req.context });
      return;
    }
    this.send(
      message({
        type: MessageType.ReadIndexResp,
        to: req.from,
        from: this.id,
        index,
        context: req.context,
      }),
    );
  }

  // ---- snapshots and configuration ----------------------------------------

  /** Installs a snapshot from the leader; false if it is stale or we are not in it. */
  restore(snapshot: Snapshot): boolean {
    const meta = snapshot.metadata;
    if (meta.index <= this.log.committed) return false;
    if (this.role !== Role.Follower) {
      // Only a leader of our term sends snapshots; be defensive all the same.
      this.becomeFollower(this.term + 1, NO_NODE);
      return false;
    }
    // A snapshot taken before we were added does not list us; accept it all the
    // same: like a fresh joiner we are then a non-member (not promotable) until
    // the membership entry that adds us arrives after it.
    const cs = meta.confState;
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already have the entries; just fast-forward the commit index.
      this.log.commitTo(meta.index);
      return false;
    }
    // Built before the log changes: a configuration no leader could have
    // produced refuses the snapshot instead of leaving the log replaced and
    // the configuration old.
    let config: ChangeResult;
    try {
      config = restoreConfig(this.tracker, cs, meta.index);
    } catch (err) {
      if (err instanceof InvalidConfChangeError) return false;
      throw err;
    }
    this.log.restore(snapshot);
    this.tracker.progress = new Map();
    this.installConfig(config);
    return true;
  }

  /** Applies a committed membership change; invalid ones are skipped identically on every node. */
  applyConfChange(cc: ConfChange): ConfState {
    let result: ChangeResult;
    try {
      result = this.computeConfChange(cc);
    } catch (err) {
      if (err instanceof InvalidConfChangeError) return this.confState();
      throw err;
    }
    this.installConfig(result);
    return this.confState();
  }

  private installConfig(result: ChangeResult): void {
    this.tracker.config = result.config;
    this.tracker.progress = result.progress;
    const pr = this.tracker.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.role === Role.Leader) {
      // Removed or demoted: step down so the remaining voters elect a leader (thesis 4.2.2).
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    if (this.role !== Role.Leader || this.tracker.config.incoming.size === 0) return;
    // The quorum may have changed: commit what the new config allows, and
    // bring new peers up to date.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.tracker.ids()) if (id !== this.id) this.sendAppend(id, false);
    if (this.leadTransferee !== NO_NODE && !this.tracker.voterIds().includes(this.leadTransferee)) {
      this.leadTransferee = NO_NODE;
    }
  }

  /** Invariants that must hold between any two steps. */
  assertInvariants(): void {
    const last = this.log.lastIndex();
    invariant(this.log.committed <= last, () => `committed ${this.log.committed} > last ${last}`);
    invariant(
      this.log.applied <= this.log.committed,
      () => `applied ${this.log.applied} > committed ${this.log.committed}`,
    );
    if (this.role === Role.Leader) {
      invariant(this.lead === this.id, "a leader must know itself as leader");
      for (const [id, pr] of this.tracker.progress) {
        invariant(pr.match < pr.next, () => `peer ${id}: match ${pr.match} >= next ${pr.next}`);
        if (pr.state === ProgressState.Snapshot) {
          invariant(pr.pendingSnapshot > 0, () => `peer ${id}: snapshot state without snapshot`);
        }
      }
    }
    if (this.role === Role.Candidate)
      invariant(this.vote === this.id, "a candidate votes for itself");
  }
}
