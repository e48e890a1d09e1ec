import type { Entry, NodeId } from "../raft/core/types.js";
import type { MemoryStorage } from "../raft/storage/memory.js";

export class SafetyViolation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = "SafetyViolation";
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.term === b.term && a.type === b.type && Buffer.compare(a.data, b.data) === 0;
}

/**
 * The Raft safety properties (Raft paper, Figure 3), checked as the run
 * goes. Each check throws a SafetyViolation naming the property.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Every entry any node has applied, by index: they must all agree. */
  private readonly applied = new Map<number, { entry: Entry; node: NodeId }>();
  private readonly lastCommit = new Map<string, number>();
  checks = 0;

  /** Election safety: at most one leader per term. */
  leaderElected(id: NodeId, term: number): void {
    this.checks++;
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== id) {
      throw new SafetyViolation(
        "election safety",
        `nodes ${prev} and ${id} both leaders in term ${term}`,
      );
    }
    this.leaderOfTerm.set(term, id);
  }

  /** State machine safety: no two nodes apply different entries at one index. */
  entryApplied(id: NodeId, e: Entry): void {
    this.checks++;
    const prev = this.applied.get(e.index);
    if (prev === undefined) {
      this.applied.set(e.index, { entry: e, node: id });
      if (e.index > this.highestApplied) this.highestApplied = e.index;
    } else if (!sameEntry(prev.entry, e)) {
      throw new SafetyViolation(
        "state machine safety",
        `index ${e.index}: node ${prev.node} applied term ${prev.entry.term}, node ${id} applied term ${e.term} (different entries)`,
      );
    }
  }

  /** Commit index never decreases within one incarnation of a node; applied <= committed. */
  progress(id: NodeId, epoch: number, commit: number, applied: number): void {
    this.checks++;
    const key = `${id}@${epoch}`;
    const prev = this.lastCommit.get(key) ?? 0;
    if (commit < prev) {
      throw new SafetyViolation(
        "commit monotonicity",
        `node ${id} commit went from ${prev} to ${commit}`,
      );
    }
    if (applied > commit) {
      throw new SafetyViolation(
        "applied <= committed",
        `node ${id} applied ${applied} > commit ${commit}`,
      );
    }
    this.lastCommit.set(key, commit);
  }

  /** The highest index any node has applied so far. */
  highestApplied = 0;

  /**
   * Leader completeness: a new leader's log holds every entry known
   * committed when it was elected: those at or below `knownAtElection` (the
   * highest commit index any member knew then; by default everything) that
   * some member has applied, which tells their term.
   */
  leaderLog(id: NodeId, term: number, disk: MemoryStorage, knownAtElection = Infinity): void {
    this.checks++;
    const first = disk.firstIndex();
    const last = disk.lastIndex();
    for (const [index, e] of this.applied) {
      if (index < first || index > knownAtElection) continue; // in its snapshot, or committed later
      if (index > last) {
        throw new SafetyViolation(
          "leader completeness",
          `leader ${id} of term ${term} lacks committed index ${index} (last ${last})`,
        );
      }
      const t = disk.term(index);
      if (t !== e.entry.term) {
        throw new SafetyViolation(
          "leader completeness",
          `leader ${id} of term ${term} has term ${t} at committed index ${index}, expected ${e.entry.term}`,
        );
      }
    }
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree up to it. */
  logMatching(disks: ReadonlyMap<NodeId, MemoryStorage>): void {
    this.checks++;
    const ids = [...disks.keys()].sort((a, b) => a - b);
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = disks.get(ids[i]!)!;
        const b = disks.get(ids[j]!)!;
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        const hi = Math.min(a.lastIndex(), b.lastIndex());
        if (hi < lo) continue;
        // Find the highest index where both have the same term; everything below must match.
        let k = hi;
        while (k >= lo && a.term(k) !== b.term(k)) k--;
        if (k < lo) continue;
        const ea = a.entries(lo, k + 1, Number.MAX_SAFE_INTEGER);
        const eb = b.entries(lo, k + 1, Number.MAX_SAFE_INTEGER);
        for (let x = 0; x < ea.length; x++) {
          if (!sameEntry(ea[x]!, eb[x]!)) {
            throw new SafetyViolation(
              "log matching",
              `nodes ${ids[i]} and ${ids[j]} agree at index ${k} but differ at ${ea[x]!.index}`,
            );
          }
        }
      }
    }
  }

  get appliedCount(): number {
    return this.applied.size;
  }
}
