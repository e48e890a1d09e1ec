import type { RaftConfig } from "../raft/core/config.js";
import type { Xoshiro128 } from "../raft/core/prng.js";
import type { Ready } from "../raft/core/rawnode.js";
import { RawNode } from "../raft/core/rawnode.js";
import type { Entry, Message, NodeId, ReadState } from "../raft/core/types.js";
import { EntryType, MessageType, type Role } from "../raft/core/types.js";
import { MemoryStorage } from "../raft/storage/memory.js";
import type { KvOutput } from "./kv.js";
import { decodeCommand, KvStateMachine } from "./kv.js";
import type { Scheduler } from "./scheduler.js";

/** What a simulated node needs from the world around it. */
export interface NodeEnv {
  readonly scheduler: Scheduler;
  readonly random: Xoshiro128;
  send(m: Message): void;
  /** Disk latency for one Ready's write, in ms (0 = synchronous). */
  diskDelayMs(): number;
  /** Whether a crash during a write keeps a random prefix of it. */
  readonly tornWrites: boolean;
  /** Take a snapshot once this many entries are applied past the last one (0 = never). */
  readonly snapshotEvery: number;
  onApply(node: SimNode, entry: Entry, output: KvOutput | undefined): void;
  onReadState(node: SimNode, rs: ReadState): void;
  onReady(node: SimNode, rd: Ready): void;
  trace(line: string): void;
}

/**
 * One simulated server: a Raft core, its "disk" (a MemoryStorage that keeps
 * exactly what was written before a crash) and the KV state machine.
 */
export class SimNode {
  readonly disk = new MemoryStorage();
  raw: RawNode | undefined;
  kv = new KvStateMachine();
  /** Bumped on every crash; events scheduled for an older incarnation are ignored. */
  epoch = 0;
  private writing: Ready | undefined;
  /** Per-node tick length: clock skew makes some nodes' timers run fast or slow. */
  tickMs: number;
  /** While set, the process is frozen (SIGSTOP): no ticks, no input, no output. */
  pausedUntil = 0;
  private pausedAt = 0;
  private readonly inbox: Message[] = [];

  constructor(
    readonly id: NodeId,
    private readonly env: NodeEnv,
    private readonly raftConfig: Omit<RaftConfig, "id" | "storage" | "random">,
    tickMs: number,
  ) {
    this.tickMs = tickMs;
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  get role(): Role | undefined {
    return this.raw?.status().role;
  }

  start(): void {
    this.epoch++;
    this.raw = new RawNode({
      ...this.raftConfig,
      id: this.id,
      storage: this.disk,
      random: this.env.random.fork(),
    });
    this.kv = KvStateMachine.restore(this.disk.snapshot().data);
    this.writing = undefined;
    this.inbox.length = 0;
    this.pausedUntil = 0;
    this.scheduleTick(this.epoch);
    this.pump();
  }

  private scheduleTick(epoch: number): void {
    this.env.scheduler.after(this.tickMs, () => {
      if (epoch !== this.epoch || this.raw === undefined) return;
      if (this.env.scheduler.now >= this.pausedUntil) {
        this.raw.tick();
        this.pump();
      }
      this.scheduleTick(epoch);
    });
  }

  /** Loses everything not yet written; a write in progress may be torn. */
  crash(): void {
    const rd = this.writing;
    if (rd !== undefined && this.env.tornWrites) this.tornWrite(rd);
    this.raw = undefined;
    this.writing = undefined;
    this.epoch++;
  }

  /**
   * Records reach the disk in order (snapshot, entries, hard state) and a
   * crash cuts the sequence anywhere; nothing of this Ready was sent yet.
   */
  private tornWrite(rd: Ready): void {
    const r = this.env.random;
    if (rd.snapshot) {
      if (r.float() < 0.5) return;
      this.disk.applySnapshot(rd.snapshot);
    }
    const kept = r.int(rd.entries.length + 1);
    this.disk.append(rd.entries.slice(0, kept));
    if (kept === rd.entries.length && rd.hardState && r.float() < 0.5) {
      this.disk.setHardState(rd.hardState);
    }
  }

  /** Freezes the process until `resume()` (or `untilMs`, when the cluster resumes it). */
  pause(untilMs: number): void {
    if (this.pausedUntil === 0) this.pausedAt = this.env.scheduler.now;
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  receive(m: Message): void {
    if (this.raw === undefined) return;
    if (this.env.scheduler.now < this.pausedUntil) {
      this.inbox.push(m);
      return;
    }
    this.raw.step(m);
    this.pump();
  }

  /**
   * Resumes a paused node. Its timer first catches up the ticks it missed
   * (the real node derives ticks from a monotonic clock), then it reads what
   * queued up while it was frozen.
   */
  resume(): void {
    if (this.pausedUntil === 0) return;
    const pausedMs = this.env.scheduler.now - this.pausedAt;
    this.pausedUntil = 0;
    const missed = Math.floor(pausedMs / this.tickMs);
    for (let i = 0; i < missed && this.raw !== undefined; i++) this.raw.tick();
    // Socket buffers are drained in an order that races with new client requests.
    const queued = this.inbox.splice(0);
    const epoch = this.epoch;
    for (const m of queued) {
      this.env.scheduler.after(this.env.random.float() * 5, () => {
        if (epoch === this.epoch) this.receive(m);
      });
    }
    this.pump();
  }

  /** Processes Readies until none is left or a write is in flight. */
  pump(): void {
    for (;;) {
      const raw = this.raw;
      if (raw === undefined || this.writing !== undefined || !raw.hasReady()) return;
      if (this.env.scheduler.now < this.pausedUntil) return;
      const rd = raw.ready();
      const delay = this.env.diskDelayMs();
      if (delay > 0 && (rd.entries.length > 0 || rd.hardState || rd.snapshot)) {
        this.writing = rd;
        this.completeWriteAfter(delay, rd, this.epoch);
        return;
      }
      this.finish(rd);
    }
  }

  private completeWriteAfter(delayMs: number, rd: Ready, epoch: number): void {
    this.env.scheduler.after(delayMs, () => {
      if (epoch !== this.epoch) return;
      const now = this.env.scheduler.now;
      // A frozen process cannot act on a finished fsync until it is resumed.
      if (now < this.pausedUntil) return this.completeWriteAfter(this.pausedUntil - now, rd, epoch);
      this.writing = undefined;
      this.finish(rd);
      this.pump();
    });
  }

  private finish(rd: Ready): void {
    const raw = this.raw!;
    // 1. persist
    if (rd.snapshot) this.disk.applySnapshot(rd.snapshot);
    this.disk.append(rd.entries);
    if (rd.hardState) this.disk.setHardState(rd.hardState);
    this.env.onReady(this, rd);
    // 2. speak
    for (const m of rd.messages) {
      this.env.send(m);
      // Snapshots travel in-band here: once handed to the network, the send is done.
      if (m.type === MessageType.Snap) raw.reportSnapshot(m.to, true);
    }
    // 3. apply
    if (rd.snapshot) this.kv = KvStateMachine.restore(rd.snapshot.data);
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) this.env.onReadState(this, rs);
    raw.advance();
    this.maybeSnapshot();
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.kv.appliedIndex) return;
    let output: KvOutput | undefined;
    if (e.type === EntryType.Normal && e.data.byteLength > 0) {
      output = this.kv.apply(e.index, decodeCommand(e.data));
    } else {
      this.kv.appliedIndex = e.index;
    }
    this.env.onApply(this, e, output);
  }

  private maybeSnapshot(): void {
    const every = this.env.snapshotEvery;
    if (every === 0 || this.raw === undefined) return;
    const applied = this.kv.appliedIndex;
    const snapIndex = this.disk.firstIndex() - 1;
    if (applied - snapIndex < every) return;
    void this.disk.createSnapshot(applied, this.raw.status().confState, this.kv.snapshot());
    this.env.trace(`n${this.id} snapshot at ${applied}`);
  }
}
