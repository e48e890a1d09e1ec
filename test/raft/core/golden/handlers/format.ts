import type { Progress } from "../../../../../src/raft/core/progress.js";
import type { TrackerConfig } from "../../../../../src/raft/core/tracker.js";
import {
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  type Snapshot,
} from "../../../../../src/raft/core/types.js";
import { idList } from "../args.js";

export function showConfig(c: TrackerConfig): string {
  const parts = [`voters=${idList(c.incoming)}`];
  if (c.outgoing.size > 0) parts[0] += `&&${idList(c.outgoing)}`;
  if (c.learners.size > 0) parts.push(`learners=${idList(c.learners)}`);
  if (c.learnersNext.size > 0) parts.push(`learners-next=${idList(c.learnersNext)}`);
  if (c.autoLeave) parts.push("auto-leave");
  return parts.join(" ");
}

export function showProgress(pr: Progress): string {
  const parts = [pr.state, `match=${pr.match}`, `next=${pr.next}`];
  if (pr.pendingSnapshot !== 0) parts.push(`pending-snapshot=${pr.pendingSnapshot}`);
  if (pr.probeSent) parts.push("probe-sent");
  if (pr.inflights.count > 0) parts.push(`inflight=${pr.inflights.count}`);
  if (pr.isLearner) parts.push("learner");
  return parts.join(" ");
}

export function showProgressMap(progress: ReadonlyMap<number, Progress>): string[] {
  return [...progress.keys()]
    .sort((a, b) => a - b)
    .map((id) => `${id}: ${showProgress(progress.get(id)!)}`);
}

/** Entries as `index/term`, with a payload's size where it has one. */
export function showEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return "(none)";
  return entries
    .map((e) => `${e.index}/${e.term}${e.data.byteLength > 0 ? `+${e.data.byteLength}b` : ""}`)
    .join(" ");
}

/** Entries `from`, `from + 1`, ... with the given terms, each carrying `size` payload bytes. */
export function makeEntries(
  from: number,
  terms: readonly (number | undefined)[],
  size = 0,
): Entry[] {
  return terms.map((term, i) => ({
    index: from + i,
    term: term ?? 0,
    type: EntryType.Normal,
    data: new Uint8Array(size),
  }));
}

export function makeSnapshot(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) };
}

export function showSnapshot(s: Snapshot | undefined): string {
  return s === undefined ? "none" : `${s.metadata.index}/${s.metadata.term}`;
}
