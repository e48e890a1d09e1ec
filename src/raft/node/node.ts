import { InvalidArgumentError } from "../../errors.js";
import type { WarnSink } from "../../log-throttle.js";
import {
  type BasicStatus,
  bootstrapLog,
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type ProposalPosition,
  type RaftConfig,
  type RaftStatus,
  RawNode,
  ReadOnlyOption,
  type Ready,
  Role,
  type Snapshot,
  Xoshiro128,
} from "../core/index.js";
import { StaleSnapshotError } from "../storage/errors.js";
import { parsePeerAddress } from "../transport/options.js";
import { type NodeEnv, processEnv } from "./env.js";
import {
  NodeFailedError,
  NodeStoppedError,
  ProposalOutcomeUnknownError,
  RaftAbortedError,
  RaftTimeoutError,
  SnapshotAbortedError,
} from "./errors.js";
import { HeldAppends } from "./held-appends.js";
import { PeerMessageGuard, type PeerMessageRejection } from "./message-guard.js";
import { notify, type RaftNodeObserver } from "./observer.js";
import type {
  NodeStorage,
  SnapshotSource,
  StateMachine,
  Transport,
  TransportStats,
} from "./ports.js";
import { followerMayQuiesce, keepsQuiet, leaderIdle } from "./quiescence.js";
import { ReadBatches } from "./read-batches.js";
import {
  decodeMemberContext,
  decodeNodeSnapshot,
  encodeBackendSnapshot,
  encodeMemberContext,
  encodeNodeSnapshot,
} from "./snapshot-codec.js";
import { Pending } from "./waiters.js";

export interface RaftNodeOptions<Result> {
  readonly id: NodeId;
  readonly storage: NodeStorage;
  /** Registered and started by the node; stopped by `stop()`. */
  readonly transport: Transport;
  readonly stateMachine: StateMachine<Result>;
  /**
   * Members and their peer addresses, used only when `storage` is empty. A
   * founding member bootstraps the log from it; with `join`, the node instead
   * joins an existing cluster: it bootstraps nothing and uses the addresses
   * only to accept the leader's traffic until the log tells it the members.
   */
  readonly initialCluster?: ReadonlyMap<NodeId, string>;
  /** Join an existing cluster (the leader adds this node) instead of founding one. */
  readonly join?: boolean;
  /** Heartbeat interval (one tick), default 100 ms as etcd. */
  readonly heartbeatMs?: number;
  /** Election timeout, default 1000 ms as etcd. */
  readonly electionMs?: number;
  /**
   * How long a leader holds an append that carries no entries (a new commit
   * index) in case the next write's append carries it instead; see
   * HeldAppends. Default 5 ms (a tenth of heartbeatMs if that is less); 0
   * sends each at once, as the core made it.
   */
  readonly emptyAppendHoldMs?: number;
  /** Take a snapshot after this many applied entries (0 = never)... */
  readonly snapshotEveryEntries?: number;
  /** ...or once this many bytes of entries were applied since the last one (0 = never). */
  readonly snapshotEveryBytes?: number;
  /** Default timeout of propose / read / membership calls. */
  readonly requestTimeoutMs?: number;
  /**
   * Stop ticking once the group was idle for this many ticks (default:
   * never). See quiescence.ts: whoever runs many groups must also call
   * wake() on the groups a failed peer took part in.
   */
  readonly quiesceAfterTicks?: number;
  /** Further core options (flow control, limits, read mode). */
  readonly raft?: Omit<
    RaftConfig,
    "id" | "storage" | "random" | "electionTicks" | "heartbeatTicks"
  >;
  /**
   * Clock, timers and randomness (default: the process's). Ticks are derived
   * from the clock, so a paused process catches up on the ticks it missed.
   */
  readonly env?: NodeEnv;
  /** Called once if the node stops on a fatal error (storage failure, broken invariant). */
  readonly onFatal?: (err: Error) => void;
  /** Hooks for metrics: persist and apply timings, leader changes, proposal outcomes. */
  readonly observer?: RaftNodeObserver;
  /** Where refused peer messages are reported (rate-limited); silent when absent. */
  readonly logger?: WarnSink;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Snapshots received from a leader and installed since this process started. */
  readonly snapshotsInstalled: number;
  /** Peer messages refused as invalid since this process started (see message-guard.ts). */
  readonly rejectedPeerMessages: number;
  readonly confState: ConfState;
  readonly peers: readonly {
    id: NodeId;
    address: string | undefined;
    matchIndex: number;
    lag: number;
    /** The leader heard from it within an election timeout (false on followers). */
    connected: boolean;
  }[];
}

interface ProposalWaiter<Result> {
  readonly term: number;
  readonly pending: Pending<Result | ConfState>;
}

/**
 * Election timeouts between two large term moves, and that a peer must speak
 * from more than MAX_TERM_JUMP terms ahead before this node follows it (see
 * term-catch-up.ts).
 */
const TERM_CATCH_UP_ELECTIONS = 10;
/** See RaftNodeOptions.emptyAppendHoldMs. */
const DEFAULT_EMPTY_APPEND_HOLD_MS = 5;

/**
 * Drives the Raft core with real time, durable storage and a transport:
 * the tick timer, the Ready loop (a leader's appends sent while it persists,
 * everything else after; apply last), proposal
 * and read waiters, membership, and automatic snapshots.
 */
export class RaftNode<Result> {
  private readonly raw: RawNode;
  private readonly peerGuard: PeerMessageGuard;
  private readonly opts: RaftNodeOptions<Result>;
  private readonly heartbeatMs: number;
  private readonly env: NodeEnv;
  private readonly peers = new Map<NodeId, string>();
  /** Nodes a membership change removed whose address is kept while a joint configuration has them. */
  private readonly removedPeers = new Set<NodeId>();
  /** What the transport was last told: peer id -> address. */
  private readonly transportPeers = new Map<NodeId, string>();
  private readonly proposals = new Map<number, ProposalWaiter<Result>>();
  private readonly reads: ReadBatches;
  private appliedIndex: number;
  /** Entries at or below it were already in the state machine's own durable state at start. */
  private stateMachineIndex = 0;
  private snapshotIndex: number;
  private snapshotsInstalled = 0;
  private lastRole: Role = Role.Follower;
  private lastLeader: NodeId = 0;
  /** Entry bytes applied since the last snapshot. */
  private bytesSinceSnapshot = 0;
  /** The snapshot being written in the background (at most one), and how to abort it. */
  private snapshotting:
    | { readonly done: Promise<void>; readonly abort: AbortController }
    | undefined;
  /** Term and vote on stable storage: a Ready that changes them must persist before it speaks. */
  private savedTerm: number;
  private savedVote: NodeId;
  private cancelTick: (() => void) | undefined;
  private ticksDone = 0;
  /** Quiescent: no tick timer runs (see quiescence.ts). */
  private quiet = false;
  /** Leader: ticksDone when the group was first seen idle in a row, if it is. */
  private idleSince: number | undefined;
  private startedAt: number;
  private loop: Promise<void> | undefined;
  private loopAgain = false;
  private stopped = false;
  /** stop() ran: transport stopped, storage closed (a fatal error stops the node but closes nothing). */
  private closed = false;
  private fatal: Error | undefined;
  /** Where every peer message of a Ready goes out. */
  private readonly outbox: HeldAppends;

  private constructor(opts: RaftNodeOptions<Result>) {
    this.opts = opts;
    this.heartbeatMs = opts.heartbeatMs ?? 100;
    const electionMs = opts.electionMs ?? 1000;
    if (!(this.heartbeatMs > 0) || !(electionMs > this.heartbeatMs)) {
      throw new InvalidArgumentError(
        `electionMs (${electionMs}) must exceed heartbeatMs (${this.heartbeatMs}) > 0`,
      );
    }
    const q = opts.quiesceAfterTicks;
    if (q !== undefined && !(Number.isSafeInteger(q) && q >= 1)) {
      throw new InvalidArgumentError(`quiesceAfterTicks must be a positive integer, got ${q}`);
    }
    if (q !== undefined && opts.raft?.readOnlyOption === ReadOnlyOption.LeaseBased) {
      throw new InvalidArgumentError("quiescence cannot be combined with lease-based reads");
    }
    this.env = opts.env ?? processEnv;
    this.startedAt = this.env.clock.now();
    const holdMs =
      opts.emptyAppendHoldMs ?? Math.min(DEFAULT_EMPTY_APPEND_HOLD_MS, this.heartbeatMs / 10);
    if (!(Number.isFinite(holdMs) && holdMs >= 0 && holdMs < this.heartbeatMs)) {
      throw new InvalidArgumentError(
        `emptyAppendHoldMs must be >= 0 and below heartbeatMs (${this.heartbeatMs}), got ${holdMs}`,
      );
    }
    this.outbox = new HeldAppends(holdMs, this.env.clock, (ms) => this.opts.transport.send(ms));
    // A round trip takes far less than a heartbeat interval; one unanswered that long was lost.
    this.reads = new ReadBatches(
      this.env.clock,
      `${opts.id}:${this.env.seed().toString(16)}`,
      this.heartbeatMs,
    );
    const snapIndex = opts.storage.snapshot().metadata.index;
    const { hardState } = opts.storage.initialState();
    this.savedTerm = hardState.term;
    this.savedVote = hardState.vote;
    this.snapshotIndex = snapIndex;
    this.appliedIndex = snapIndex;
    this.peerGuard = new PeerMessageGuard(
      opts.id,
      opts.logger,
      TERM_CATCH_UP_ELECTIONS * electionMs,
      () => this.env.clock.now(),
    );
    this.raw = new RawNode({
      ...opts.raft,
      id: opts.id,
      storage: opts.storage,
      random: new Xoshiro128(this.env.seed()),
      heartbeatTicks: 1,
      electionTicks: Math.max(2, Math.round(electionMs / this.heartbeatMs)),
    });
  }

  /** Opens the node on its storage (bootstrapping a founding member's empty log) and starts it. */
  static async start<Result>(opts: RaftNodeOptions<Result>): Promise<RaftNode<Result>> {
    const { storage, initialCluster, id } = opts;
    // A hard state that never got a term means this node has promised nothing
    // to anyone: its log is empty, or holds a bootstrap (or a joiner's first
    // entries) that a crash cut short before the hard state was written.
    // Starting over is safe, and without it such a node never campaigns.
    const fresh =
      storage.initialState().hardState.term === 0 && storage.snapshot().metadata.index === 0;
    if (fresh && initialCluster?.has(id) && opts.join !== true) {
      const { entries, hardState } = bootstrapLog([...initialCluster.keys()], (member) =>
        encodeMemberContext(initialCluster.get(member)!),
      );
      await storage.save({ entries, hardState });
    }
    const node = new RaftNode(opts);
    const kept = opts.stateMachine.appliedIndex ?? 0;
    if (kept > storage.lastIndex()) {
      throw new NodeFailedError(
        `the state machine holds entries up to ${kept} but the log ends at ${storage.lastIndex()}: the data dir mixes two histories`,
      );
    }
    if (kept >= node.snapshotIndex && kept > 0) {
      node.stateMachineIndex = kept;
      // Only the address book: the state machine is newer than the snapshot.
      if (node.snapshotIndex > 0) await node.restoreFromStorage(false);
    } else if (node.snapshotIndex > 0) await node.restoreFromStorage();
    if (fresh && opts.join === true && initialCluster !== undefined) {
      for (const [member, address] of initialCluster) node.peers.set(member, address);
    }
    const t = opts.transport;
    t.onMessage((m) => node.receive(m));
    t.onSnapshot((m, data) => node.receiveSnapshot(m, data));
    t.onUnreachable((peer) => node.guard(() => node.raw.reportUnreachable(peer)));
    t.onSnapshotStatus((peer, ok) => node.guard(() => node.raw.reportSnapshot(peer, ok)));
    node.syncPeers();
    await t.start();
    node.scheduleTick();
    node.kick();
    return node;
  }

  get id(): NodeId {
    return this.opts.id;
  }

  /** The configured election timeout (before randomisation). */
  get electionTimeoutMs(): number {
    return this.opts.electionMs ?? 1000;
  }

  // ---- requests --------------------------------------------------------------

  /** Replicates `data` and resolves with the state machine's result once applied here. */
  propose(data: Uint8Array, options: RequestOptions = {}): Promise<Result> {
    return this.submit(() => this.raw.propose(data), "proposal", options) as Promise<Result>;
  }

  /**
   * Resolves once this node's state machine has applied everything committed
   * before the call: a read of local state after it is linearizable.
   */
  linearizableRead(options: RequestOptions = {}): Promise<void> {
    let timeoutMs: number;
    try {
      this.ensureRunning();
      this.wake();
      timeoutMs = this.timeout(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.reads.add(timeoutMs, options.signal, () => this.kick());
  }

  /** Proposes a membership change; resolves with the configuration once applied here. */
  changeMembership(change: ConfChange, options: RequestOptions = {}): Promise<ConfState> {
    return this.submit(
      () => this.raw.proposeConfChange(change),
      "membership change",
      options,
    ) as Promise<ConfState>;
  }

  addVoter(id: NodeId, address: string, options?: RequestOptions): Promise<ConfState> {
    return this.changeMembership(single(ConfChangeType.AddNode, id, address), options);
  }

  addLearner(id: NodeId, address: string, options?: RequestOptions): Promise<ConfState> {
    return this.changeMembership(single(ConfChangeType.AddLearner, id, address), options);
  }

  removeMember(id: NodeId, options?: RequestOptions): Promise<ConfState> {
    return this.changeMembership(single(ConfChangeType.RemoveNode, id), options);
  }

  /** Starts an election now rather than at the election timeout (etcd's Node.Campaign). */
  campaign(): void {
    this.ensureRunning();
    this.wake();
    this.guard(() => this.raw.campaign());
  }

  /** Hands leadership to `to`; resolves once this node sees `to` as leader. */
  async transferLeadership(to: NodeId, options: RequestOptions = {}): Promise<void> {
    this.ensureRunning();
    this.wake();
    this.raw.transferLeadership(to);
    this.kick();
    const clock = this.env.clock;
    const deadline = clock.now() + this.timeout(options);
    while (this.raw.status().lead !== to) {
      this.ensureRunning();
      if (options.signal?.aborted) {
        throw new RaftAbortedError("leadership transfer", { cause: options.signal.reason });
      }
      if (clock.now() > deadline) {
        throw new RaftTimeoutError(`leadership transfer to node ${to}`, this.timeout(options));
      }
      await new Promise<void>((r) => clock.setTimer(r, this.heartbeatMs / 2));
    }
  }

  /** Peer messages the node refused since it started, by reason; for metrics. */
  peerMessageRejections(): ReadonlyMap<PeerMessageRejection, number> {
    return this.peerGuard.rejectedByReason;
  }

  /** The transport's counters (drops, displaced handshakes); for metrics. */
  transportStats(): TransportStats {
    return this.opts.transport.stats();
  }

  /**
   * Role, term, leader and log positions, without the per-peer detail of
   * status(): cheap enough to read on every request.
   */
  basicStatus(): BasicStatus {
    return this.raw.basicStatus();
  }

  status(): NodeStatus {
    const st = this.raw.status();
    return {
      id: st.id,
      role: st.role,
      term: st.term,
      leader: st.lead,
      commitIndex: st.commit,
      appliedIndex: this.appliedIndex,
      lastIndex: st.lastIndex,
      snapshotIndex: this.snapshotIndex,
      snapshotsInstalled: this.snapshotsInstalled,
      rejectedPeerMessages: this.peerGuard.rejected,
      confState: st.confState,
      peers: st.progress
        .filter((p) => p.id !== st.id)
        .map((p) => ({
          id: p.id,
          address: this.peers.get(p.id),
          matchIndex: p.match,
          lag: st.lastIndex - p.match,
          connected:
            p.ticksSinceHeard !== undefined &&
            p.ticksSinceHeard * this.heartbeatMs <= this.electionTimeoutMs,
        })),
    };
  }

  /** Flushes what is in progress, settles every pending request and closes transport and storage. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopped = true;
    this.cancelTick?.();
    await this.loop;
    this.outbox.drop();
    // A snapshot still being written is abandoned: storage discards its
    // partial file, and the log it would have compacted is still there.
    await this.abortSnapshot();
    this.failAll(new NodeStoppedError());
    await this.opts.transport.stop();
    try {
      await this.opts.storage.close();
    } catch (err) {
      // Storage that already failed the node may fail to close too; that is not news.
      if (this.fatal === undefined) throw err;
    }
  }

  // ---- internals -------------------------------------------------------------

  private submit(
    append: () => ProposalPosition | undefined,
    what: string,
    options: RequestOptions,
  ): Promise<Result | ConfState> {
    let pos: ProposalPosition | undefined;
    let timeoutMs: number;
    try {
      this.ensureRunning();
      timeoutMs = this.timeout(options);
      this.wake();
      pos = append(); // NotLeaderError, UncommittedLimitError, ... become rejections
    } catch (err) {
      notify(this.opts.observer, "onProposal", "failed");
      return Promise.reject(err);
    }
    if (pos === undefined) {
      this.kick();
      return Promise.reject(
        new NodeFailedError(`${what} was forwarded; RaftNode does not track forwarded proposals`),
      );
    }
    const pending = new Pending<Result | ConfState>(
      this.env.clock,
      what,
      timeoutMs,
      options.signal,
      () => {
        if (this.proposals.get(pos.index)?.pending === pending) this.proposals.delete(pos.index);
      },
    );
    this.proposals.set(pos.index, { term: pos.term, pending });
    this.kick();
    const observer = this.opts.observer;
    if (observer?.onProposal !== undefined) {
      pending.promise.then(
        () => notify(observer, "onProposal", "committed"),
        () => notify(observer, "onProposal", "failed"),
      );
    }
    return pending.promise;
  }

  private timeout(options: RequestOptions): number {
    const t = options.timeoutMs ?? this.opts.requestTimeoutMs ?? 5000;
    if (!(t > 0)) throw new InvalidArgumentError(`timeoutMs must be positive, got ${t}`);
    return t;
  }

  private ensureRunning(): void {
    if (this.fatal !== undefined)
      throw new NodeFailedError(this.fatal.message, { cause: this.fatal });
    if (this.stopped) throw new NodeStoppedError();
  }

  private receive(m: Message): void {
    if (this.stopped || !this.admit(m)) return;
    if (this.quiet && !keepsQuiet(m, this.raw.basicStatus())) this.wake();
    this.guard(() => {
      this.catchUpTicks();
      this.raw.step(m);
      if (
        this.opts.quiesceAfterTicks !== undefined &&
        !this.quiet &&
        this.proposals.size === 0 &&
        this.reads.pending === 0 &&
        followerMayQuiesce(m, this.raw.basicStatus())
      ) {
        this.goQuiet();
      }
    });
  }

  /**
   * Stages a streamed snapshot in storage, then lets the core decide on it.
   * A refused one is never staged: the transport abandons the unread stream.
   */
  private async receiveSnapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.stopped || m.snapshot === undefined || !this.admit(m)) return;
    this.wake();
    const snapshot = await this.opts.storage.receiveSnapshot(m.snapshot.metadata, data);
    // The node moved on while the bytes arrived (a new term, a new leader): check again.
    if (this.stopped || this.peerGuard.recheck(m, this.raw.basicStatus()) !== undefined) return;
    this.guard(() => this.raw.step({ ...m, snapshot }));
  }

  /** Whether a peer's message may reach the core; a refused one is counted and logged. */
  private admit(m: Message): boolean {
    if (this.fatal !== undefined) return false;
    return this.peerGuard.check(m, this.raw.basicStatus()) === undefined;
  }

  /** Tells the transport about peers added or removed since the last call. */
  private syncPeers(): void {
    const want = new Map(this.peers);
    want.delete(this.opts.id);
    for (const id of [...this.transportPeers.keys()]) {
      if (!want.has(id)) {
        this.opts.transport.removePeer(id);
        this.transportPeers.delete(id);
      }
    }
    for (const [id, address] of want) {
      if (this.transportPeers.get(id) === address) continue;
      this.opts.transport.addPeer(id, parsePeerAddress(address));
      this.transportPeers.set(id, address);
    }
  }

  /** Runs an input into the core; a broken invariant stops the node. */
  private guard(f: () => void): void {
    if (this.stopped) return;
    try {
      f();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.kick();
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.cancelTick = this.env.clock.setTimer(() => {
      this.cancelTick = undefined;
      this.guard(() => {
        this.catchUpTicks();
        this.maybeQuiesce();
      });
      if (!this.quiet) this.scheduleTick();
    }, this.heartbeatMs / 2);
  }

  /** Whether the node is quiescent (no tick timer; see quiescence.ts). */
  get isQuiet(): boolean {
    return this.quiet;
  }

  /**
   * Ends quiescence: ticking resumes from now (the ticks skipped while quiet
   * are dropped). A no-op on a node that is not quiet.
   */
  wake(): void {
    if (!this.quiet || this.stopped) return;
    this.quiet = false;
    this.idleSince = undefined;
    this.ticksDone = this.dueTicks();
    this.scheduleTick();
  }

  private goQuiet(): void {
    this.quiet = true;
    this.idleSince = undefined;
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  /** Leader: quiesces the group once it was idle for quiesceAfterTicks ticks. */
  private maybeQuiesce(): void {
    const after = this.opts.quiesceAfterTicks;
    if (after === undefined || this.quiet) return;
    const b = this.raw.basicStatus();
    if (b.role !== Role.Leader) return;
    // The cheap checks first: the per-peer status is built only for a group that may be idle.
    const idle =
      this.proposals.size === 0 &&
      this.reads.pending === 0 &&
      b.commit === b.lastIndex &&
      leaderIdle(this.raw.status(), this.appliedIndex, after);
    if (!idle) {
      this.idleSince = undefined;
      return;
    }
    this.idleSince ??= this.ticksDone;
    if (this.ticksDone - this.idleSince < after) return;
    this.raw.quiesce();
    this.goQuiet();
  }

  private dueTicks(): number {
    return Math.floor((this.env.clock.now() - this.startedAt) / this.heartbeatMs);
  }

  /**
   * Delivers every tick the clock says is due. Ticks are derived from the
   * clock, not counted from timer callbacks: after a pause (GC, SIGSTOP) the
   * missed ticks arrive at once. The timer calls this, and so does every
   * input that depends on time (a peer message, a read), because a resumed
   * process may read its sockets before its overdue timers fire: a leader
   * frozen past its lease must not answer a lease read first.
   */
  private catchUpTicks(): void {
    const due = this.dueTicks();
    if (this.quiet) {
      this.ticksDone = Math.max(this.ticksDone, due);
      return;
    }
    const n = Math.max(0, due - this.ticksDone);
    this.ticksDone = Math.max(this.ticksDone, due);
    for (let i = 0; i < n; i++) this.raw.tick();
  }

  /** Makes sure the Ready loop runs. */
  private kick(): void {
    if (this.stopped) return;
    if (this.loop !== undefined) {
      this.loopAgain = true;
      return;
    }
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      if (this.loopAgain && !this.stopped) {
        this.loopAgain = false;
        this.kick();
      }
    });
  }

  private async runLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.fatal !== undefined) break;
        this.reads.issue((context) => {
          this.catchUpTicks();
          this.raw.readIndex(context);
        });
        if (!this.raw.hasReady()) break;
        const rd = this.raw.ready();
        await this.handleReady(rd);
        this.raw.advance();
        this.afterAdvance(rd);
        this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined) this.onRoleChange(rd.softState.role, rd.softState.lead);
    // 1. A leader's appends and heartbeats leave before its own write is
    // durable (thesis 10.2.1): they depend on nothing this Ready persists,
    // and the core counts the leader's copy toward a commit only after
    // advance(). Not when this Ready moves the term or the vote: a vote
    // request, or a leader's first messages in a term, must not outrun it.
    const early = this.keepsTermAndVote(rd) ? rd.messages.filter(replicatesLog) : [];
    if (early.length > 0) this.outbox.send(early);
    // 2. persist (and fsync) before anything else that depends on it leaves.
    // Committed entries an earlier Ready made durable are applied while this
    // one's write is under way (etcd applies beside its WAL save): they depend
    // on nothing it holds. Those it carries itself wait for the save.
    let appliedEarly = 0;
    if (rd.hardState || rd.entries.length > 0 || rd.snapshot) {
      const startedMs = this.env.clock.now();
      const saving = this.opts.storage.save(rd).then(() => this.env.clock.now() - startedMs);
      let persistMs: number;
      try {
        if (rd.snapshot === undefined) appliedEarly = this.applyDurable(rd);
      } finally {
        persistMs = await saving;
      }
      if (rd.hardState !== undefined) {
        this.savedTerm = rd.hardState.term;
        this.savedVote = rd.hardState.vote;
      }
      notify(this.opts.observer, "onPersist", persistMs, rd.entries.length);
    }
    // 3. speak (snapshots stream from storage on their own connection)
    const plain = rd.messages.filter(
      (m) => m.type !== MessageType.Snap && (early.length === 0 || !replicatesLog(m)),
    );
    if (plain.length > 0) this.outbox.send(plain);
    for (const m of rd.messages) if (m.type === MessageType.Snap) void this.streamSnapshot(m);
    // 4. apply: only what is durable here (the save above covered this Ready's entries)
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    if (rd.committedEntries.length > appliedEarly)
      this.applyEntries(rd.committedEntries.slice(appliedEarly));
    this.reads.granted(rd.readStates);
  }

  /**
   * Applies the leading committed entries that are durable here already:
   * every one below the first entry this Ready appends (a Ready's entries
   * never replace committed ones). Returns how many it applied.
   */
  private applyDurable(rd: Ready): number {
    const firstNew = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    let n = 0;
    while (n < rd.committedEntries.length && rd.committedEntries[n]!.index < firstNew) n++;
    if (n > 0)
      this.applyEntries(
        n === rd.committedEntries.length ? rd.committedEntries : rd.committedEntries.slice(0, n),
      );
    return n;
  }

  private applyEntries(entries: readonly Entry[]): void {
    const startedMs = this.env.clock.now();
    for (const e of entries) this.apply(e);
    notify(this.opts.observer, "onApply", this.env.clock.now() - startedMs, entries.length);
  }

  /**
   * A leader that steps down drops the ReadIndex requests it had not yet
   * confirmed; fail them now rather than at their timeout.
   */
  private onRoleChange(role: Role, lead: NodeId): void {
    if (lead !== this.lastLeader) {
      this.lastLeader = lead;
      notify(this.opts.observer, "onLeaderChange", this.raw.status().term, lead);
    }
    const wasLeader = this.lastRole === Role.Leader;
    this.lastRole = role;
    if (!wasLeader || role === Role.Leader) return;
    this.outbox.drop();
    this.reads.leadershipLost(lead);
  }

  /** Whether a Ready leaves the stored term and vote as they are. */
  private keepsTermAndVote(rd: Ready): boolean {
    const hs = rd.hardState;
    return hs === undefined || (hs.term === this.savedTerm && hs.vote === this.savedVote);
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    // A snapshot of our own still being written is older than the leader's: drop it.
    this.snapshotting?.abort.abort();
    await this.restoreFromStorage();
    this.snapshotsInstalled++;
    notify(this.opts.observer, "onSnapshot", "installed", snap.metadata.index);
    this.bytesSinceSnapshot = 0;
    this.appliedIndex = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.syncPeers();
    for (const [index, w] of this.proposals) {
      if (index <= snap.metadata.index) w.pending.reject(new ProposalOutcomeUnknownError(index));
    }
  }

  /** Replaces the state machine and the address book with the latest stored snapshot, streamed. */
  private async restoreFromStorage(withStateMachine = true): Promise<void> {
    const source = await this.opts.storage.openSnapshot();
    try {
      const { peers, app, inBackend } = await decodeNodeSnapshot(source.chunks());
      if (withStateMachine && inBackend) {
        throw new NodeFailedError(
          `snapshot ${source.metadata.index} left the state in the state machine's own storage, which holds entries only up to ${this.opts.stateMachine.appliedIndex ?? 0}: the data dir lost its backend`,
        );
      }
      if (withStateMachine) await this.opts.stateMachine.restore(app);
      this.peers.clear();
      for (const [id, addr] of peers) this.peers.set(id, addr);
    } finally {
      await source.close();
    }
  }

  /** Sends the stored snapshot a Snap message refers to, in chunks. */
  private streamSnapshot(m: Message): Promise<void> {
    return this.opts.stateMachine.persisted === undefined
      ? this.streamStoredSnapshot(m)
      : this.streamFreshSnapshot(m);
  }

  /**
   * A state machine with durable state of its own is sent as it is now, at
   * the applied index (as etcd sends its backend): the stored snapshot holds
   * no copy of it. Taken synchronously, before this Ready applies anything
   * more, so the view, its index, term and configuration agree. The peer
   * answers with that index, past the one the core asked for, which the
   * core takes as the snapshot's acknowledgement.
   */
  private async streamFreshSnapshot(m: Message): Promise<void> {
    const index = this.appliedIndex;
    const metadata = {
      index,
      term: this.opts.storage.term(index),
      confState: this.raw.status().confState,
    };
    const view = this.opts.stateMachine.snapshot();
    const data = encodeNodeSnapshot(new Map(this.peers), view);
    try {
      const fresh: Message = { ...m, snapshot: { metadata, data: new Uint8Array(0) } };
      await this.opts.transport.sendSnapshot(fresh, data);
    } catch {
      this.guard(() => this.raw.reportSnapshot(m.to, false));
    } finally {
      // A view that was not read to its end holds up compaction until closed.
      if (!(view instanceof Uint8Array)) await view[Symbol.asyncIterator]().return?.();
    }
  }

  private async streamStoredSnapshot(m: Message): Promise<void> {
    const meta = m.snapshot!.metadata; // never touch `.data`: storage may load it lazily
    let source: SnapshotSource | undefined;
    try {
      source = await this.opts.storage.openSnapshot();
      if (source.metadata.index !== meta.index || source.metadata.term !== meta.term) {
        throw new NodeFailedError(`stored snapshot moved on from ${meta.index}`);
      }
      const stripped: Message = { ...m, snapshot: { metadata: meta, data: new Uint8Array(0) } };
      await this.opts.transport.sendSnapshot(stripped, source.chunks());
    } catch {
      // The transport reports real send failures itself; this covers opening storage.
      this.guard(() => this.raw.reportSnapshot(m.to, false));
    } finally {
      await source?.close();
    }
  }

  private apply(e: Entry): void {
    if (e.index <= this.appliedIndex) return;
    this.appliedIndex = e.index;
    const waiter = this.proposals.get(e.index);
    if (e.type === EntryType.ConfChange) {
      this.trackAddresses(e);
      this.opts.stateMachine.advance?.(e.index);
      // Resolved after advance(), once the core has applied the change.
      return;
    }
    let result: Result | undefined;
    this.bytesSinceSnapshot += e.data.byteLength;
    if (e.index <= this.stateMachineIndex) return;
    if (e.data.byteLength > 0) result = this.opts.stateMachine.apply(e);
    else this.opts.stateMachine.advance?.(e.index);
    if (waiter === undefined) return;
    if (waiter.term === e.term) waiter.pending.resolve(result as Result);
    else
      waiter.pending.reject(
        new NodeFailedError(
          `proposal at index ${e.index} was overwritten by a newer leader; it did not take effect`,
        ),
      );
  }

  private trackAddresses(e: Entry): void {
    const cc = decodeConfChange(e.data);
    const address = decodeMemberContext(cc.context);
    for (const ch of cc.changes) {
      // A node a joint change removes stays in the outgoing configuration, and
      // may lead it, until the leave: forgetRemovedPeers drops it after that.
      if (ch.type === ConfChangeType.RemoveNode) this.removedPeers.add(ch.nodeId);
      else if (address !== undefined) {
        this.removedPeers.delete(ch.nodeId);
        this.peers.set(ch.nodeId, address);
      }
    }
    this.syncPeers();
  }

  private afterAdvance(rd: Ready): void {
    if (this.removedPeers.size > 0) this.forgetRemovedPeers();
    for (const e of rd.committedEntries) {
      if (e.type !== EntryType.ConfChange) continue;
      const w = this.proposals.get(e.index);
      if (w === undefined) continue;
      if (w.term === e.term) w.pending.resolve(this.raw.status().confState);
      else
        w.pending.reject(
          new NodeFailedError(
            `membership change at index ${e.index} was overwritten; it did not take effect`,
          ),
        );
    }
    this.reads.applied(this.appliedIndex);
  }

  /**
   * Starts a snapshot when one is due, in the background: the state machine's
   * stream is a point-in-time view as of this call, so the Ready loop keeps
   * persisting, sending and applying while storage writes it (and compacts
   * the log once it is durable). One at a time.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting !== undefined || this.stopped) return;
    const everyEntries = this.opts.snapshotEveryEntries ?? 10_000;
    const everyBytes = this.opts.snapshotEveryBytes ?? 64 * 1024 * 1024;
    const dueByEntries = everyEntries > 0 && this.appliedIndex - this.snapshotIndex >= everyEntries;
    const dueByBytes = everyBytes > 0 && this.bytesSinceSnapshot >= everyBytes;
    if (!dueByEntries && !dueByBytes) return;
    const index = this.appliedIndex;
    const bytesCovered = this.bytesSinceSnapshot;
    const abort = new AbortController();
    const { persisted } = this.opts.stateMachine;
    // Everything the snapshot holds is taken now, as of `index` — or, for a
    // state machine that keeps its state durably, is on its storage before
    // the snapshot is written and the log before it compacted.
    const data = abortable(
      persisted === undefined
        ? encodeNodeSnapshot(new Map(this.peers), this.opts.stateMachine.snapshot())
        : afterPersisted(persisted, encodeBackendSnapshot(new Map(this.peers))),
      abort.signal,
    );
    const write = this.opts.storage.createSnapshot(index, this.raw.status().confState, data);
    const done = write.then(
      () => {
        if (abort.signal.aborted || index <= this.snapshotIndex) return;
        this.snapshotIndex = index;
        this.bytesSinceSnapshot = Math.max(0, this.bytesSinceSnapshot - bytesCovered);
        notify(this.opts.observer, "onSnapshot", "created", index);
      },
      (err: unknown) => {
        // Aborted, or overtaken by a leader's snapshot installed meanwhile:
        // nothing is lost, the log is still whole. Anything else is fatal.
        if (abort.signal.aborted || err instanceof StaleSnapshotError) return;
        this.fail(err as Error);
      },
    );
    const task = {
      abort,
      done: done.finally(() => {
        if (this.snapshotting === task) this.snapshotting = undefined;
      }),
    };
    this.snapshotting = task;
  }

  /** Abandons the snapshot being written, if any, and waits until storage let go of it. */
  private async abortSnapshot(): Promise<void> {
    const task = this.snapshotting;
    if (task === undefined) return;
    task.abort.abort();
    await task.done;
  }

  /** Drops the addresses of removed nodes once the applied configuration has neither half with them. */
  private forgetRemovedPeers(): void {
    const cs = this.raw.status().confState;
    const members = new Set([
      ...cs.voters,
      ...cs.votersOutgoing,
      ...cs.learners,
      ...cs.learnersNext,
    ]);
    for (const id of [...this.removedPeers]) {
      if (members.has(id)) continue;
      this.removedPeers.delete(id);
      this.peers.delete(id);
    }
    this.syncPeers();
  }

  private fail(err: Error): void {
    if (this.fatal !== undefined) return;
    this.fatal = err;
    this.stopped = true;
    this.cancelTick?.();
    this.outbox.drop();
    this.snapshotting?.abort.abort();
    this.failAll(
      new NodeFailedError(`raft node ${this.opts.id} stopped: ${err.message}`, { cause: err }),
    );
    this.opts.onFatal?.(err);
  }

  private failAll(err: Error): void {
    for (const w of [...this.proposals.values()]) w.pending.reject(err);
    this.reads.failAll(err);
  }

  /**
   * The core's own view (etcd's Node.Status): the vote, a leadership transfer
   * in flight, and on a leader each peer's progress and how many ticks ago it
   * last answered. For diagnostics and tests; `status()` is the summary.
   */
  raftStatus(): RaftStatus {
    return this.raw.status();
  }
}

/** A leader's log replication traffic: what may leave before its own write is durable. */
function replicatesLog(m: Message): boolean {
  return m.type === MessageType.App || m.type === MessageType.Heartbeat;
}

/**
 * Passes `source` through; once `signal` fires it fails at once, even while
 * waiting for the source's next chunk (a stalled state machine stream must
 * not hold up a stopping node), and releases the source.
 */
async function* abortable(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new SnapshotAbortedError());
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed through the race below
  let done = false;
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Not awaited: a source stalled inside next() would hold this up too.
    if (!done) void it.return?.()?.catch(() => {});
  }
}

function single(type: ConfChangeType, nodeId: NodeId, address?: string): ConfChange {
  return {
    transition: ConfChangeTransition.Auto,
    changes: [{ type, nodeId }],
    ...(address === undefined ? {} : { context: encodeMemberContext(address) }),
  };
}

/** Yields `source` once the state machine's storage holds everything applied so far. */
async function* afterPersisted(
  persisted: () => Promise<void>,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  await persisted();
  yield* source;
}
