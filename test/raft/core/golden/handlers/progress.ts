import { Progress } from "../../../../../src/raft/core/progress.js";
import { Args } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";
import { showProgress } from "./format.js";
import { showInflights } from "./inflights.js";

/**
 * progress-*.txt: the leader's view of one follower.
 *
 *   init next=N [match=N] [inflight=N] [bytes=N] [learner]
 *   probe | replicate | snapshot index=N      state transitions
 *   sent entries=N last=N [bytes=N]           an append went out
 *   update index=N                            an append was acknowledged
 *   reject rejected=N hint=N                  an append was rejected
 *   free-le index=N | free-first              inflight acknowledgements
 *   show
 *
 * Each prints whether the follower is paused and its inflight window.
 */
export function progressHandler(): GoldenHandler {
  let pr = new Progress(1, 4, 0, false);
  return (c: GoldenCase): string => {
    const args = new Args(c);
    let answer: string | undefined;
    switch (c.command) {
      case "init":
        pr = new Progress(
          args.int("next"),
          args.intOr("inflight", 4),
          args.intOr("bytes", 0),
          args.flag("learner"),
        );
        pr.match = args.intOr("match", 0);
        break;
      case "probe":
        pr.becomeProbe();
        break;
      case "replicate":
        pr.becomeReplicate();
        break;
      case "snapshot":
        pr.becomeSnapshot(args.int("index"));
        break;
      case "sent":
        pr.sentEntries(args.int("entries"), args.int("last"), args.intOr("bytes", 0));
        break;
      case "update":
        answer = `updated=${pr.maybeUpdate(args.int("index"))}`;
        break;
      case "reject":
        answer = `accepted=${pr.maybeDecrTo(args.int("rejected"), args.int("hint"))}`;
        break;
      case "free-le":
        pr.inflights.freeLE(args.int("index"));
        break;
      case "free-first":
        pr.inflights.freeFirstOne();
        break;
      case "show":
        break;
      default:
        throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
    }
    args.done();
    const lines = answer === undefined ? [] : [answer];
    lines.push(`${showProgress(pr)}${pr.isPaused() ? " paused" : ""}`);
    lines.push(`inflights: ${showInflights(pr.inflights)}`);
    return lines.join("\n");
  };
}
