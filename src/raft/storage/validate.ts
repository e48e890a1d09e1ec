import { InvalidArgumentError } from "../../errors.js";
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from "../core/types.js";
import { EntryType } from "../core/types.js";
import { StaleSnapshotError } from "./errors.js";
import type { LogPosition } from "./records.js";

/** The largest entry payload the WAL accepts (a record must fit its framing bound). */
export const MAX_ENTRY_DATA_BYTES = 64 * 1024 * 1024;

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function validateIds(ids: unknown, what: string): void {
  if (!Array.isArray(ids)) throw new InvalidArgumentError(`${what} must be an array of node ids`);
  for (const id of ids) {
    if (!isIndex(id) || id === 0) {
      throw new InvalidArgumentError(`${what} holds ${String(id)}, not a positive integer node id`);
    }
  }
}

export function validateConfState(cs: ConfState, what: string): void {
  if (typeof cs !== "object" || cs === null) throw new InvalidArgumentError(`${what} is missing`);
  validateIds(cs.voters, `${what} voters`);
  validateIds(cs.votersOutgoing, `${what} outgoing voters`);
  validateIds(cs.learners, `${what} learners`);
  validateIds(cs.learnersNext, `${what} next learners`);
  if (typeof cs.autoLeave !== "boolean")
    throw new InvalidArgumentError(`${what} autoLeave must be a boolean`);
}

export function validateSnapshotMetadata(m: SnapshotMetadata): void {
  if (typeof m !== "object" || m === null)
    throw new InvalidArgumentError("snapshot metadata is missing");
  if (!isIndex(m.index) || m.index === 0) {
    throw new InvalidArgumentError(
      `snapshot index must be a positive integer, got ${String(m.index)}`,
    );
  }
  if (!isIndex(m.term) || m.term === 0) {
    throw new InvalidArgumentError(
      `snapshot term must be a positive integer, got ${String(m.term)}`,
    );
  }
  validateConfState(m.confState, "snapshot configuration");
}

function validateEntries(entries: readonly Entry[]): void {
  if (!Array.isArray(entries)) throw new InvalidArgumentError("entries must be an array");
  let prev: Entry | undefined;
  for (const e of entries) {
    if (typeof e !== "object" || e === null)
      throw new InvalidArgumentError("entry is not an object");
    if (!isIndex(e.index) || e.index === 0) {
      throw new InvalidArgumentError(
        `entry index must be a positive integer, got ${String(e.index)}`,
      );
    }
    if (!isIndex(e.term) || e.term === 0) {
      throw new InvalidArgumentError(
        `entry ${e.index}: term must be a positive integer, got ${String(e.term)}`,
      );
    }
    if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) {
      throw new InvalidArgumentError(`entry ${e.index}: unknown type ${String(e.type)}`);
    }
    if (!(e.data instanceof Uint8Array))
      throw new InvalidArgumentError(`entry ${e.index}: data must be a Uint8Array`);
    if (e.data.length > MAX_ENTRY_DATA_BYTES) {
      throw new InvalidArgumentError(
        `entry ${e.index}: ${e.data.length} data bytes exceed the limit of ${MAX_ENTRY_DATA_BYTES}`,
      );
    }
    if (prev !== undefined) {
      if (e.index !== prev.index + 1) {
        throw new InvalidArgumentError(
          `entries are not consecutive: ${prev.index} then ${e.index}`,
        );
      }
      if (e.term < prev.term) {
        throw new InvalidArgumentError(
          `entry ${e.index} has term ${e.term} after term ${prev.term}`,
        );
      }
    }
    prev = e;
  }
}

function validateHardStateShape(hs: HardState): void {
  if (typeof hs !== "object" || hs === null)
    throw new InvalidArgumentError("hard state is not an object");
  for (const field of ["term", "vote", "commit"] as const) {
    if (!isIndex(hs[field])) {
      throw new InvalidArgumentError(
        `hard state ${field} must be a non-negative integer, got ${String(hs[field])}`,
      );
    }
  }
}

/** The storage state a save is checked against. */
export interface SaveContext {
  readonly base: LogPosition;
  readonly lastIndex: number;
  term(index: number): number;
  readonly hardState: HardState;
  /** The newest snapshot index, including ones not yet durable. */
  readonly snapshotIndex: number;
  /** A staged file exists for the request's snapshot (so its data need not be bytes). */
  readonly snapshotStaged: boolean;
}

/** What a valid save does, in order. */
export interface SavePlan {
  readonly snapshot?: SnapshotMetadata;
  /** The hard state the snapshot's base segment records: commit raised to the snapshot index. */
  readonly snapshotHardState?: HardState;
  readonly truncateAfter?: number;
  readonly append: readonly Entry[];
  readonly hardState?: HardState;
}

/**
 * Checks a save request against the current state and works out its
 * effect, without changing anything: every check happens before the first
 * byte is written or the memory state changes.
 */
export function planSave(
  request: { hardState?: HardState; entries?: readonly Entry[]; snapshot?: Snapshot },
  ctx: SaveContext,
): SavePlan {
  if (typeof request !== "object" || request === null) {
    throw new InvalidArgumentError("save needs an object with hardState, entries and/or snapshot");
  }
  let base = ctx.base;
  let lastIndex = ctx.lastIndex;
  let hs = ctx.hardState;
  let termAt = (i: number) => ctx.term(i);
  let snapshot: SnapshotMetadata | undefined;
  let snapshotHardState: HardState | undefined;
  if (request.snapshot !== undefined) {
    const s = request.snapshot;
    if (typeof s !== "object" || s === null)
      throw new InvalidArgumentError("snapshot is not an object");
    validateSnapshotMetadata(s.metadata);
    const m = s.metadata;
    if (m.index <= ctx.snapshotIndex) throw new StaleSnapshotError(m.index, ctx.snapshotIndex);
    if (!ctx.snapshotStaged && !(s.data instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        "snapshot data must be a Uint8Array (or staged with receiveSnapshot)",
      );
    }
    snapshot = m;
    base = { index: m.index, term: m.term };
    lastIndex = m.index;
    // A snapshot holds only committed state, so its index is committed.
    hs = { term: hs.term, vote: hs.vote, commit: Math.max(hs.commit, m.index) };
    snapshotHardState = hs;
    termAt = (i: number) => {
      if (i !== m.index)
        throw new InvalidArgumentError(`no entry ${i} after installing snapshot ${m.index}`);
      return m.term;
    };
  }
  const entries = request.entries ?? [];
  validateEntries(entries);
  let append: readonly Entry[] = [];
  let truncateAfter: number | undefined;
  if (entries.length > 0) {
    const first = entries[0]!.index;
    // Skip what the snapshot covers and what the log already holds (same index and term).
    let k = Math.max(0, base.index + 1 - first);
    while (
      k < entries.length &&
      entries[k]!.index <= lastIndex &&
      termAt(entries[k]!.index) === entries[k]!.term
    ) {
      k++;
    }
    if (k < entries.length) {
      const start = entries[k]!.index;
      if (start > lastIndex + 1) {
        throw new InvalidArgumentError(
          `entries start at ${start}, leaving a gap after the last index ${lastIndex}`,
        );
      }
      if (start <= lastIndex) {
        if (start - 1 < hs.commit) {
          throw new InvalidArgumentError(
            `entry ${start} would replace a committed entry (commit index ${hs.commit})`,
          );
        }
        truncateAfter = start - 1;
      }
      const prevTerm = termAt(start - 1);
      if (entries[k]!.term < prevTerm) {
        throw new InvalidArgumentError(
          `entry ${start} has term ${entries[k]!.term} after term ${prevTerm}`,
        );
      }
      append = entries.slice(k);
      lastIndex = entries[entries.length - 1]!.index;
    }
  }
  let hardState: HardState | undefined;
  if (request.hardState !== undefined) {
    const next = request.hardState;
    validateHardStateShape(next);
    if (next.term < hs.term)
      throw new InvalidArgumentError(`hard state term goes back from ${hs.term} to ${next.term}`);
    if (next.term === hs.term && hs.vote !== 0 && next.vote !== hs.vote) {
      throw new InvalidArgumentError(
        `hard state changes the vote of term ${hs.term} from ${hs.vote} to ${next.vote}`,
      );
    }
    if (next.commit < hs.commit) {
      throw new InvalidArgumentError(
        `hard state commit goes back from ${hs.commit} to ${next.commit}`,
      );
    }
    if (next.commit > lastIndex) {
      throw new InvalidArgumentError(
        `hard state commit ${next.commit} is beyond the last index ${lastIndex}`,
      );
    }
    hardState = { term: next.term, vote: next.vote, commit: next.commit };
  }
  return {
    ...(snapshot ? { snapshot, snapshotHardState } : {}),
    ...(truncateAfter !== undefined ? { truncateAfter } : {}),
    append,
    ...(hardState ? { hardState } : {}),
  };
}
