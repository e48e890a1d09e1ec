import type { NodeId } from "../core/index.js";

/** Whether a proposal this node accepted was applied, or failed (timeout, overwritten, stopped). */
export type ProposalOutcome = "committed" | "failed";

/** How this node came by a snapshot: took one of its own state, or installed a leader's. */
export type SnapshotKind = "created" | "installed";

/**
 * Optional hooks into the node's work, for metrics. Called synchronously on
 * the node's own path, so they must be cheap; what they throw is ignored so
 * an observer can never stop the node.
 */
export interface RaftNodeObserver {
  /** One storage save (append + fsync) took durationMs for `entries` new entries. */
  onPersist?(durationMs: number, entries: number): void;
  /** Applying one batch of `entries` committed entries took durationMs. */
  onApply?(durationMs: number, entries: number): void;
  /** This node learned a new leader (0 = none known) in `term`. */
  onLeaderChange?(term: number, leader: NodeId): void;
  /** A proposal was refused at once (not leader, limits) or settled; membership changes count too. */
  onProposal?(outcome: ProposalOutcome): void;
  onSnapshot?(kind: SnapshotKind, index: number): void;
}

/** Calls one observer hook, keeping whatever it throws away from the caller. */
export function notify<K extends keyof RaftNodeObserver>(
  observer: RaftNodeObserver | undefined,
  hook: K,
  ...args: Parameters<NonNullable<RaftNodeObserver[K]>>
): void {
  const f = observer?.[hook] as ((...a: typeof args) => void) | undefined;
  if (f === undefined) return;
  try {
    f.apply(observer, args);
  } catch {
    // An observer's failure is its own; the node goes on.
  }
}
