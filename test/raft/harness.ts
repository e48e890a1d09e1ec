import { bootstrapLog } from "../../src/raft/core/bootstrap.js";
import type { RaftConfig } from "../../src/raft/core/config.js";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import { RawNode } from "../../src/raft/core/rawnode.js";
import type { Entry, Message, NodeId, ReadState } from "../../src/raft/core/types.js";
import {
  type ConfChangeTransition,
  type ConfChangeType,
  EntryType,
  MessageType,
  Role,
} from "../../src/raft/core/types.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

interface Member {
  raw: RawNode | undefined;
  readonly disk: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

/**
 * A synchronous network of real RawNodes for exact protocol scenarios:
 * `settle()` processes every Ready and delivers every message until the
 * cluster is quiet. Links can be cut per direction; nodes can crash (losing
 * nothing that was persisted) and restart.
 */
export class Net {
  readonly members = new Map<NodeId, Member>();
  private readonly cut = new Set<string>();
  private readonly rng: Xoshiro128;
  /** Optional filter: return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  delivered: Message[] = [];

  constructor(
    ids: readonly NodeId[],
    private readonly config: Partial<Omit<RaftConfig, "id" | "storage" | "random">> = {},
    seed = 1,
  ) {
    this.rng = new Xoshiro128(seed);
    const { entries, hardState } = bootstrapLog(ids);
    for (const id of ids) {
      const disk = new MemoryStorage();
      disk.append(entries);
      disk.setHardState(hardState);
      this.members.set(id, { raw: undefined, disk, applied: [], readStates: [] });
      this.start(id);
    }
  }

  /** Adds an empty server that is not yet a member. */
  addEmpty(id: NodeId): void {
    this.members.set(id, {
      raw: undefined,
      disk: new MemoryStorage(),
      applied: [],
      readStates: [],
    });
    this.start(id);
  }

  start(id: NodeId): void {
    const m = this.member(id);
    m.raw = new RawNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.config,
      id,
      storage: m.disk,
      random: this.rng.fork(),
    });
    m.applied = [];
    this.settle();
  }

  crash(id: NodeId): void {
    this.member(id).raw = undefined;
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no node ${id}`);
    return m;
  }

  node(id: NodeId): RawNode {
    const raw = this.member(id).raw;
    if (raw === undefined) throw new Error(`node ${id} is down`);
    return raw;
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
    this.filter = () => true;
  }

  /** Processes Readies and delivers messages until nothing moves (bounded). */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const outbox: Message[] = [];
      for (const [, m] of this.members) {
        const raw = m.raw;
        if (raw === undefined || !raw.hasReady()) continue;
        const rd = raw.ready();
        if (rd.snapshot) m.disk.applySnapshot(rd.snapshot);
        m.disk.append(rd.entries);
        if (rd.hardState) m.disk.setHardState(rd.hardState);
        outbox.push(...rd.messages);
        m.applied.push(...rd.committedEntries);
        m.readStates.push(...rd.readStates);
        raw.advance();
      }
      if (outbox.length === 0) return;
      for (const msg of outbox) {
        this.deliver(msg);
        // As a transport does once a snapshot is streamed (lost or not).
        if (msg.type === MessageType.Snap)
          this.members.get(msg.from)?.raw?.reportSnapshot(msg.to, true);
      }
    }
    throw new Error("network did not settle");
  }

  private deliver(msg: Message): void {
    if (this.cut.has(`${msg.from}>${msg.to}`) || !this.filter(msg)) return;
    const to = this.members.get(msg.to)?.raw;
    if (to === undefined) return;
    this.delivered.push(msg);
    to.step(msg);
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.member(id).raw?.tick();
      this.settle();
    }
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.raw?.tick();
      this.settle();
    }
  }

  /** Ticks everyone until some node is leader (bounded). */
  electLeader(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tickAll();
    }
    throw new Error("no leader elected");
  }

  /** Makes `id` campaign now and settles. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.settle();
  }

  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestTerm = -1;
    for (const [id, m] of this.members) {
      const st = m.raw?.status();
      if (st?.role === Role.Leader && st.term > bestTerm) {
        best = id;
        bestTerm = st.term;
      }
    }
    return best;
  }

  leaders(): NodeId[] {
    return [...this.members]
      .filter(([, m]) => m.raw?.status().role === Role.Leader)
      .map(([id]) => id);
  }

  /** Proposes a membership change at `id` and settles. */
  change(
    id: NodeId,
    transition: ConfChangeTransition,
    ...changes: [ConfChangeType, NodeId][]
  ): void {
    this.node(id).proposeConfChange({
      transition,
      changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
    });
    this.settle();
  }

  propose(id: NodeId, data: string): { index: number; term: number } {
    const pos = this.node(id).propose(bytes(data));
    if (pos === undefined) throw new Error("proposal was forwarded");
    this.settle();
    return pos;
  }

  /** Application payloads this node applied, in order (membership entries omitted). */
  appliedData(id: NodeId): string[] {
    return this.member(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.byteLength > 0)
      .map((e) => text(e.data));
  }

  status(id: NodeId) {
    return this.node(id).status();
  }
}
