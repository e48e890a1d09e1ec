import {
  type ChangeResult,
  Changer,
  decodeConfChange,
  isLeaveJoint,
  jointMode,
  restoreConfig,
  validateConfChange,
} from "../../../../../src/raft/core/confchange.js";
import { ProgressTracker } from "../../../../../src/raft/core/tracker.js";
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
} from "../../../../../src/raft/core/types.js";
import { Args, showIndex } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";
import { showConfig, showProgressMap } from "./format.js";

const OPS: Record<string, ConfChangeType> = {
  add: ConfChangeType.AddNode,
  learner: ConfChangeType.AddLearner,
  remove: ConfChangeType.RemoveNode,
};

const TRANSITIONS: Record<string, ConfChangeTransition> = {
  auto: ConfChangeTransition.Auto,
  implicit: ConfChangeTransition.JointImplicit,
  explicit: ConfChangeTransition.JointExplicit,
};

/**
 * confchange-*.txt: membership changes computed by the Changer over one live
 * ProgressTracker, installed the way the core installs them.
 *
 *   simple | enter-joint [auto-leave] | leave-joint   input: `add|learner|remove <id>...`
 *   apply [transition=auto|implicit|explicit]           the core's choice of the three
 *   restore voters=() outgoing=() learners=() learners-next=() [auto-leave]
 *   show | reset                                        the live tracker; a fresh one
 *   committed match=(id=index,...)                      set matches, then the quorum's index
 *   votes votes=(id=y|n,...)                            a fresh election's tally
 *   active self=id recent=(id,...)                      CheckQuorum over the live config
 *   validate                                            input: a JSON membership change
 *   decode                                              input: raw entry text
 *
 * `last=N` sets the log's last index new peers are probed from; `dry-run`
 * computes a change without installing it (as a leader checks a proposal).
 */
export function confChangeHandler(): GoldenHandler {
  let tracker = new ProgressTracker(256, 0);
  let lastIndex = 0;
  return (c: GoldenCase): string => {
    const args = new Args(c);
    lastIndex = args.intOr("last", lastIndex);
    const dryRun = args.flag("dry-run");
    let result: ChangeResult | undefined;
    let out: string | undefined;
    switch (c.command) {
      case "simple":
        result = new Changer(tracker, lastIndex).simple(changes(c));
        break;
      case "enter-joint":
        result = new Changer(tracker, lastIndex).enterJoint(args.flag("auto-leave"), changes(c));
        break;
      case "leave-joint":
        if (c.input.length > 0)
          throw new GoldenFormatError(`line ${c.line}: leave-joint takes no input`);
        result = new Changer(tracker, lastIndex).leaveJoint();
        break;
      case "apply": {
        const transition = TRANSITIONS[args.strOr("transition", "auto")];
        if (transition === undefined) throw new GoldenFormatError(`line ${c.line}: bad transition`);
        result = compute({ transition, changes: changes(c) });
        break;
      }
      case "restore": {
        const cs = {
          voters: defined(args.ints("voters")),
          votersOutgoing: defined(args.ints("outgoing")),
          learners: defined(args.ints("learners")),
          learnersNext: defined(args.ints("learners-next")),
          autoLeave: args.flag("auto-leave"),
        };
        // A restore starts from a fresh tracker, as a node installing a snapshot does.
        const fresh = new ProgressTracker(tracker.maxInflight, tracker.maxInflightBytes);
        result = restoreConfig(fresh, cs, lastIndex);
        if (!dryRun) tracker = fresh;
        break;
      }
      case "show":
        break;
      case "reset":
        tracker = new ProgressTracker(tracker.maxInflight, tracker.maxInflightBytes);
        break;
      case "committed":
        for (const [id, index] of pairs(c, args.list("match"))) {
          const pr = tracker.progress.get(id);
          if (pr === undefined)
            throw new GoldenFormatError(`line ${c.line}: no progress for ${id}`);
          pr.match = Number(index);
          pr.next = Math.max(pr.next, pr.match + 1);
        }
        out = `committed=${showIndex(tracker.committed())}`;
        break;
      case "votes": {
        tracker.resetVotes();
        for (const [id, v] of pairs(c, args.list("votes"))) tracker.recordVote(id, v === "y");
        const tally = tracker.tallyVotes();
        out = `granted=${tally.granted} rejected=${tally.rejected} result=${tally.result}`;
        break;
      }
      case "active": {
        const recent = new Set(defined(args.ints("recent")));
        for (const [id, pr] of tracker.progress) pr.recentActive = recent.has(id);
        out = `quorum-active=${tracker.quorumActive(args.int("self"))}`;
        break;
      }
      case "validate":
        out = showChange(validateConfChange(JSON.parse(c.input.join("\n"))));
        break;
      case "decode":
        out = showChange(decodeConfChange(new TextEncoder().encode(c.input.join("\n"))));
        break;
      default:
        throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
    }
    args.done();
    if (out !== undefined) return out;
    if (result !== undefined && !dryRun) {
      tracker.config = result.config;
      tracker.progress = result.progress;
    }
    const shown = dryRun && result !== undefined ? result : tracker;
    return [showConfig(shown.config), ...showProgressMap(shown.progress)].join("\n");
  };

  function compute(cc: ConfChange): ChangeResult {
    // The same dispatch the core uses when it applies a committed change.
    const changer = new Changer(tracker, lastIndex);
    if (isLeaveJoint(cc)) return changer.leaveJoint();
    const { joint, autoLeave } = jointMode(cc);
    return joint ? changer.enterJoint(autoLeave, cc.changes) : changer.simple(cc.changes);
  }
}

function pairs(c: GoldenCase, values: readonly string[]): [number, string][] {
  return values.map((v) => {
    const [id, value] = v.split("=");
    if (id === undefined || value === undefined) {
      throw new GoldenFormatError(`line ${c.line}: expected id=value, got ${v}`);
    }
    return [Number(id), value];
  });
}

function defined(values: (number | undefined)[]): number[] {
  return values.filter((v): v is number => v !== undefined);
}

function changes(c: GoldenCase): ConfChangeSingle[] {
  const result: ConfChangeSingle[] = [];
  for (const line of c.input) {
    const [op, ...ids] = line.trim().split(/\s+/);
    const type = OPS[op ?? ""];
    if (type === undefined || ids.length === 0) {
      throw new GoldenFormatError(`line ${c.line}: bad change "${line}"`);
    }
    for (const id of ids) result.push({ type, nodeId: Number(id) });
  }
  return result;
}

function showChange(cc: ConfChange): string {
  const parts = [`transition=${cc.transition}`];
  parts.push(`changes=(${cc.changes.map((ch) => `${ch.type} ${ch.nodeId}`).join(", ")})`);
  if (cc.context !== undefined) parts.push(`context=${cc.context.byteLength}b`);
  return parts.join(" ");
}
