import { InvalidArgumentError } from "../../errors.js";
import { encodeConfChange } from "./confchange.js";
import type { Entry, HardState, NodeId } from "./types.js";
import { ConfChangeTransition, ConfChangeType, EntryType } from "./types.js";

/**
 * The log every founding member of a new cluster starts with: one committed
 * membership change per voter at term 1. Keeping the initial configuration in
 * the log (rather than out of band) lets a node that joins later rebuild every
 * configuration by replaying the log from index 1.
 */
export function bootstrapLog(
  voters: readonly NodeId[],
  /** Per-voter context stored with its membership entry (e.g. its peer address). */
  contextOf?: (id: NodeId) => Uint8Array | undefined,
): { entries: Entry[]; hardState: HardState } {
  if (voters.length === 0) throw new InvalidArgumentError("a cluster needs at least one voter");
  const seen = new Set<NodeId>();
  for (const id of voters) {
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new InvalidArgumentError(`voter id must be a positive integer, got ${id}`);
    }
    if (seen.has(id)) throw new InvalidArgumentError(`voter ${id} listed twice`);
    seen.add(id);
  }
  const sortedVoters = [...voters].sort((a, b) => a - b);
  const entries = sortedVoters.map((id, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddNode, nodeId: id }],
      ...withContext(contextOf?.(id)),
    }),
  }));
  return { entries, hardState: { term: 1, vote: 0, commit: entries.length } };
}

function withContext(context: Uint8Array | undefined): { context?: Uint8Array } {
  return context === undefined ? {} : { context };
}
