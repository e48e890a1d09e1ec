import { InvalidArgumentError } from "../../errors.js";
import { decodeConfChange, encodeConfChange, validateConfChange } from "./confchange.js";
import type { RaftConfig } from "./config.js";
import { resolveRaftConfig } from "./config.js";
import { invariant, NotLeaderError, RaftInvariantError } from "./errors.js";
import type { ProgressState } from "./progress.js";
import { Raft } from "./raft.js";
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
  ConfChangeTransition,
  EntryType,
  isLocalMessage,
  isResponseMessage,
  MessageType,
  message,
  NO_NODE,
  QUIESCE_CONTEXT,
  Role,
} from "./types.js";

export interface SoftState {
  readonly lead: NodeId;
  readonly role: Role;
}

/**
 * Everything the application must do after the core changed state, in this
 * order: persist `hardState`, `entries` and `snapshot` (fsync when
 * `mustSync`), then send `messages`, then apply `committedEntries`, then call
 * `advance()`. Sending before persisting breaks Raft's safety, with one
 * exception: a leader's App and Heartbeat messages may leave while its save
 * runs, unless the Ready changes term or vote (thesis 10.2.1; the leader's
 * own copy counts toward a commit only at advance()). After a
 * snapshot message has been sent (or has failed), call `reportSnapshot`: the
 * leader sends that follower nothing else until then.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}

export interface PeerStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  /** Leader ticks since this peer last answered; 0 for the leader itself, undefined if never. */
  readonly ticksSinceHeard: number | undefined;
}

/** The node's own state without the per-peer detail: cheap enough to read for every message. */
export interface BasicStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly lead: NodeId;
  readonly role: Role;
  readonly commit: number;
  readonly lastIndex: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly lead: NodeId;
  readonly role: Role;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** Leader only: its view of every member's log. */
  readonly progress: readonly PeerStatus[];
}

/** Where a proposal landed in the leader's log; applied at `index` only if the term there matches. */
export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * The core's public face (etcd's RawNode): feed it ticks, messages and
 * proposals; take a Ready; do what it says; call advance().
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveRaftConfig(config));
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (skipping the timeout). */
  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, to: this.raft.id, from: this.raft.id }));
  }

  /**
   * Proposes application data. On the leader returns where it was appended;
   * with forwarding enabled on a follower returns undefined (the outcome is
   * learned from the applied log). Throws NotLeaderError, ProposalDroppedError,
   * UncommittedLimitError.
   */
  propose(data: Uint8Array): ProposalPosition | undefined {
    if (!(data instanceof Uint8Array))
      throw new InvalidArgumentError("proposal data must be a Uint8Array");
    return this.proposeEntry(EntryType.Normal, data);
  }

  /** Proposes a membership change. Throws ConfChangePendingError / InvalidConfChangeError too. */
  proposeConfChange(change: ConfChange): ProposalPosition | undefined {
    const cc = validateConfChange(change);
    return this.proposeEntry(EntryType.ConfChange, encodeConfChange(cc));
  }

  private proposeEntry(type: EntryType, data: Uint8Array): ProposalPosition | undefined {
    const r = this.raft;
    const before = r.log.lastIndex();
    r.step(
      message({
        type: MessageType.Prop,
        to: r.id,
        from: r.id,
        entries: [{ term: 0, index: 0, type, data }],
      }),
    );
    if (r.role !== Role.Leader) return undefined;
    const index = r.log.lastIndex();
    invariant(index === before + 1, "a leader proposal appends exactly one entry");
    return { index, term: r.term };
  }

  /** Feeds a message from a peer. Local-only message types are refused. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) {
      throw new InvalidArgumentError(`message type ${m.type} cannot come from the network`);
    }
    const r = this.raft;
    if (
      isResponseMessage(m.type) &&
      m.from !== NO_NODE &&
      !r.tracker.progress.has(m.from) &&
      r.role === Role.Leader
    ) {
      return; // a response from a peer that is not (or no longer) a member
    }
    if (
      m.type === MessageType.Prop ||
      m.type === MessageType.ReadIndex ||
      m.type === MessageType.TransferLeader
    ) {
      // Forwarded requests: a refusal (no leader known, a transfer under way)
      // is the forwarder's problem, not ours to throw.
      try {
        r.step(m);
      } catch (err) {
        if (err instanceof RaftInvariantError) throw err;
      }
      return;
    }
    r.step(m);
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState with
   * this `context` in a later Ready. Throws NotLeaderError when no leader is known.
   */
  readIndex(context: string): void {
    if (typeof context !== "string" || context.length === 0) {
      throw new InvalidArgumentError("readIndex context must be a non-empty string");
    }
    const r = this.raft;
    if (r.role !== Role.Leader && r.lead === NO_NODE) throw new NotLeaderError(NO_NODE, "read");
    r.step(message({ type: MessageType.ReadIndex, to: r.id, from: r.id, context }));
  }

  /** Asks the leader to hand leadership to `to` (thesis 3.10). */
  /**
   * Leader: one heartbeat round marked QUIESCE_CONTEXT, telling every peer
   * the group is idle. Whether it is idle is the caller's judgement; the
   * round itself is an ordinary heartbeat and changes no state.
   */
  quiesce(): void {
    const r = this.raft;
    if (r.role !== Role.Leader) throw new NotLeaderError(r.lead, "quiesce");
    r.bcastHeartbeat(QUIESCE_CONTEXT);
  }

  transferLeadership(to: NodeId): void {
    if (!Number.isSafeInteger(to) || to <= 0) {
      throw new InvalidArgumentError(`transfer target must be a positive node id, got ${to}`);
    }
    const r = this.raft;
    r.step(message({ type: MessageType.TransferLeader, to: r.lead, from: to }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: MessageType.Unreachable, to: this.raft.id, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(
      message({ type: MessageType.SnapStatus, to: this.raft.id, from: id, reject: !ok }),
    );
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }

  hasReady(): boolean {
    const r = this.raft;
    if (this.outstanding !== undefined) return false;
    const soft = this.softState();
    if (soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role) return true;
    if (!sameHardState(r.hardState(), this.prevHard)) return true;
    return (
      r.readRoundDue ||
      r.log.unstable.snapshot !== undefined ||
      r.log.unstable.entries.length > 0 ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  ready(): Ready {
    invariant(this.outstanding === undefined, "ready() called again before advance()");
    const r = this.raft;
    r.flushReadRound();
    const soft = this.softState();
    const hard = r.hardState();
    const entries = r.log.unstableEntries();
    const snapshot = r.log.unstable.snapshot;
    const rd: Ready = {
      ...(soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role
        ? { softState: soft }
        : {}),
      ...(sameHardState(hard, this.prevHard) ? {} : { hardState: hard }),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries: r.log.nextCommittedEntries(r.cfg.maxCommittedSizePerReadyBytes),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoft = soft;
    if (rd.hardState) this.prevHard = rd.hardState;
    this.outstanding = rd;
    return rd;
  }

  /** The application has persisted, sent and applied what the last Ready asked. */
  advance(): void {
    const rd = this.outstanding;
    invariant(rd !== undefined, "advance() called without a Ready");
    this.outstanding = undefined;
    const r = this.raft;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) {
      r.log.stableTo(lastEntry.index, lastEntry.term);
      r.acceptStable(lastEntry.index, lastEntry.term);
    }
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > r.log.applied) r.log.applied = rd.snapshot.metadata.index;
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) {
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange && e.index > r.log.applied) {
          r.log.appliedTo(e.index - 1);
          r.applyConfChange(decodeConfChange(e.data));
        }
      }
      if (lastApplied.index > r.log.applied) r.log.appliedTo(lastApplied.index);
      r.reduceUncommitted(rd.committedEntries);
    }
    this.maybeAutoLeaveJoint();
    r.assertInvariants();
  }

  private maybeAutoLeaveJoint(): void {
    const r = this.raft;
    const cfg = r.tracker.config;
    if (r.role !== Role.Leader || !cfg.autoLeave || cfg.outgoing.size === 0) return;
    if (r.log.applied < r.pendingConfIndex) return;
    // A leadership transfer blocks proposals; the next advance after it ends retries.
    if (r.leadTransferee !== NO_NODE) return;
    // The joint config is committed and applied: leave it (thesis 4.3, second phase).
    r.step(
      message({
        type: MessageType.Prop,
        to: r.id,
        from: r.id,
        entries: [
          {
            term: 0,
            index: 0,
            type: EntryType.ConfChange,
            data: encodeConfChange({ transition: ConfChangeTransition.Auto, changes: [] }),
          },
        ],
      }),
    );
  }

  basicStatus(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      term: r.term,
      lead: r.lead,
      role: r.role,
      commit: r.log.committed,
      lastIndex: r.log.lastIndex(),
    };
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress: PeerStatus[] =
      r.role === Role.Leader
        ? r.tracker.ids().map((id) => {
            const pr = r.tracker.progress.get(id)!;
            return {
              id,
              match: pr.match,
              next: pr.next,
              state: pr.state,
              isLearner: pr.isLearner,
              recentActive: pr.recentActive,
              ticksSinceHeard:
                id === r.id
                  ? 0
                  : pr.lastHeardTick === undefined
                    ? undefined
                    : r.leaderTick - pr.lastHeardTick,
            };
          })
        : [];
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leadTransferee: r.leadTransferee,
      confState: r.confState(),
      progress,
    };
  }
}
