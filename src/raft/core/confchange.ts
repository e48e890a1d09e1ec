import { InvalidConfChangeError } from "./errors.js";
import type { Progress } from "./progress.js";
import type { ProgressTracker, TrackerConfig } from "./tracker.js";
import { cloneTrackerConfig, isJoint } from "./tracker.js";
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from "./types.js";
import { ConfChangeTransition, ConfChangeType } from "./types.js";

export interface ChangeResult {
  config: TrackerConfig;
  progress: Map<NodeId, Progress>;
}

/** Whether a change must go through a joint configuration, and whether to leave it by itself. */
export function jointMode(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  const joint = cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1;
  return { joint, autoLeave: cc.transition !== ConfChangeTransition.JointExplicit };
}

export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/**
 * Computes configurations that follow from membership changes without
 * touching the tracker it reads from (the caller installs the result).
 * Joint consensus follows thesis 4.3; single changes 4.1.
 */
export class Changer {
  constructor(
    private readonly tracker: ProgressTracker,
    private readonly lastIndex: number,
  ) {}

  enterJoint(autoLeave: boolean, changes: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.copy();
    if (isJoint(config)) throw new InvalidConfChangeError("configuration is already joint");
    if (config.incoming.size === 0) {
      throw new InvalidConfChangeError("cannot make a configuration with no voters joint");
    }
    config.outgoing = new Set(config.incoming);
    this.apply(config, progress, changes);
    config.autoLeave = autoLeave;
    check(config, progress);
    return { config, progress };
  }

  leaveJoint(): ChangeResult {
    const { config, progress } = this.copy();
    if (!isJoint(config)) throw new InvalidConfChangeError("configuration is not joint");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      const pr = progress.get(id);
      // Shared with the live tracker, which a dry run must leave as it is.
      if (pr !== undefined) progress.set(id, cloneAs(pr, true));
    }
    config.learnersNext = new Set();
    for (const id of config.outgoing) {
      if (!config.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.outgoing = new Set();
    config.autoLeave = false;
    check(config, progress);
    return { config, progress };
  }

  simple(changes: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.copy();
    if (isJoint(config)) {
      throw new InvalidConfChangeError("cannot apply a single change in a joint configuration");
    }
    const before = new Set(config.incoming);
    this.apply(config, progress, changes);
    let changed = 0;
    for (const id of before) if (!config.incoming.has(id)) changed++;
    for (const id of config.incoming) if (!before.has(id)) changed++;
    if (changed > 1) {
      throw new InvalidConfChangeError(
        "more than one voter changed without joint consensus; use a joint transition",
      );
    }
    check(config, progress);
    return { config, progress };
  }

  private copy(): ChangeResult {
    const progress = new Map<NodeId, Progress>();
    for (const [id, pr] of this.tracker.progress) progress.set(id, pr);
    return { config: cloneTrackerConfig(this.tracker.config), progress };
  }

  private apply(
    config: TrackerConfig,
    progress: Map<NodeId, Progress>,
    changes: readonly ConfChangeSingle[],
  ): void {
    for (const cc of changes) {
      if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) {
        throw new InvalidConfChangeError(`node id ${cc.nodeId} is not a positive integer`);
      }
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.AddLearner:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          this.remove(config, progress, cc.nodeId);
          break;
        default:
          throw new InvalidConfChangeError(`unknown change type ${String(cc.type)}`);
      }
    }
    if (config.incoming.size === 0) throw new InvalidConfChangeError("removed all voters");
  }

  private init(progress: Map<NodeId, Progress>, id: NodeId, isLearner: boolean): void {
    // A new peer is probed from our last index; it backs off from there.
    const pr = this.tracker.newProgress(Math.max(this.lastIndex, 1), isLearner);
    // A fresh peer counts as active so CheckQuorum does not depose us at once.
    pr.recentActive = true;
    progress.set(id, pr);
  }

  private makeVoter(config: TrackerConfig, progress: Map<NodeId, Progress>, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.init(progress, id, false);
    } else {
      // Progress objects are shared with the live tracker: replace, don't mutate.
      progress.set(id, cloneAs(pr, false));
    }
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.incoming.add(id);
  }

  private makeLearner(config: TrackerConfig, progress: Map<NodeId, Progress>, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.init(progress, id, true);
      config.learners.add(id);
      return;
    }
    if (pr.isLearner) return;
    this.removeVoterOnly(config, id);
    // A voter of the outgoing half stays a voter until the joint config is left.
    if (config.outgoing.has(id)) {
      config.learnersNext.add(id);
    } else {
      progress.set(id, cloneAs(pr, true));
      config.learners.add(id);
    }
  }

  private remove(config: TrackerConfig, progress: Map<NodeId, Progress>, id: NodeId): void {
    if (!progress.has(id)) return;
    this.removeVoterOnly(config, id);
    config.learners.delete(id);
    config.learnersNext.delete(id);
    if (!config.outgoing.has(id)) progress.delete(id);
  }

  private removeVoterOnly(config: TrackerConfig, id: NodeId): void {
    config.incoming.delete(id);
  }
}

function cloneAs(pr: Progress, isLearner: boolean): Progress {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(pr)), pr) as Progress;
  copy.isLearner = isLearner;
  return copy;
}

/** Structural invariants every configuration must satisfy. */
function check(config: TrackerConfig, progress: ReadonlyMap<NodeId, Progress>): void {
  for (const id of [...config.incoming, ...config.outgoing, ...config.learners]) {
    if (!progress.has(id)) throw new InvalidConfChangeError(`node ${id} has no progress`);
  }
  for (const id of config.learnersNext) {
    if (!config.outgoing.has(id)) {
      throw new InvalidConfChangeError(`node ${id} is in learnersNext but not an outgoing voter`);
    }
  }
  for (const id of config.learners) {
    if (config.incoming.has(id) || config.outgoing.has(id)) {
      throw new InvalidConfChangeError(`node ${id} is both a learner and a voter`);
    }
    if (!progress.get(id)!.isLearner) {
      throw new InvalidConfChangeError(`learner ${id} has a voter progress`);
    }
  }
  if (!isJoint(config) && (config.learnersNext.size > 0 || config.autoLeave)) {
    throw new InvalidConfChangeError("a non-joint config cannot have learnersNext or autoLeave");
  }
}

/** Builds a tracker configuration (and progress for every member) from a ConfState. */
export function restoreConfig(
  tracker: ProgressTracker,
  cs: ConfState,
  lastIndex: number,
): ChangeResult {
  const config: TrackerConfig = {
    incoming: new Set(cs.voters),
    outgoing: new Set(cs.votersOutgoing),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
  const progress = new Map<NodeId, Progress>();
  for (const id of [...config.incoming, ...config.outgoing, ...config.learners]) {
    if (!progress.has(id)) {
      progress.set(id, tracker.newProgress(lastIndex + 1, config.learners.has(id)));
    }
  }
  check(config, progress);
  return { config, progress };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      transition: cc.transition,
      changes: cc.changes.map((c) => ({ type: c.type, nodeId: c.nodeId })),
      context: cc.context === undefined ? undefined : Array.from(cc.context),
    }),
  );
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new InvalidConfChangeError("entry data is not an encoded membership change", {
      cause: err,
    });
  }
  return validateConfChange(raw);
}

const TRANSITIONS = new Set<string>(Object.values(ConfChangeTransition));
const CHANGE_TYPES = new Set<string>(Object.values(ConfChangeType));

/** Checks the shape of a membership change coming from outside. */
export function validateConfChange(raw: unknown): ConfChange {
  if (typeof raw !== "object" || raw === null) {
    throw new InvalidConfChangeError("a membership change must be an object");
  }
  const r = raw as Record<string, unknown>;
  const transition = r.transition ?? ConfChangeTransition.Auto;
  if (typeof transition !== "string" || !TRANSITIONS.has(transition)) {
    throw new InvalidConfChangeError(`unknown transition ${JSON.stringify(transition)}`);
  }
  if (!Array.isArray(r.changes)) throw new InvalidConfChangeError("changes must be an array");
  const changes: ConfChangeSingle[] = r.changes.map((c: unknown, i: number) => {
    const cr = (typeof c === "object" && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof cr.type !== "string" || !CHANGE_TYPES.has(cr.type)) {
      throw new InvalidConfChangeError(`changes[${i}].type ${JSON.stringify(cr.type)} is unknown`);
    }
    if (typeof cr.nodeId !== "number" || !Number.isSafeInteger(cr.nodeId) || cr.nodeId <= 0) {
      throw new InvalidConfChangeError(`changes[${i}].nodeId must be a positive integer`);
    }
    return { type: cr.type as ConfChangeType, nodeId: cr.nodeId };
  });
  let context: Uint8Array | undefined;
  if (r.context instanceof Uint8Array) context = r.context;
  else if (Array.isArray(r.context)) context = Uint8Array.from(r.context as number[]);
  return {
    transition: transition as ConfChangeTransition,
    changes,
    ...(context ? { context } : {}),
  };
}
