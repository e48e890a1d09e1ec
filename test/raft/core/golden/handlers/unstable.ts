import { Unstable } from "../../../../../src/raft/core/unstable.js";
import { Args } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";
import { makeEntries, makeSnapshot, showEntries, showSnapshot } from "./format.js";

/**
 * unstable-*.txt: entries and a snapshot not yet persisted.
 *
 *   init offset=N                          empty, the next entry is at N
 *   append index=N terms=(t,...)           truncateAndAppend from index N
 *   restore index=N term=N                 an incoming snapshot
 *   stable-to index=N term=N | stable-snap-to index=N
 *   term index=(i,...)                     maybeTerm for each index
 *   slice lo=N hi=N
 *
 * Commands that change the state print it after.
 */
export function unstableHandler(): GoldenHandler {
  let u = new Unstable(1);
  return (c: GoldenCase): string => {
    const args = new Args(c);
    let answer: string | undefined;
    switch (c.command) {
      case "init":
        u = new Unstable(args.int("offset"));
        break;
      case "append":
        u.truncateAndAppend(makeEntries(args.int("index"), args.ints("terms")));
        break;
      case "restore":
        u.restore(makeSnapshot(args.int("index"), args.int("term")));
        break;
      case "stable-to":
        u.stableTo(args.int("index"), args.int("term"));
        break;
      case "stable-snap-to":
        u.stableSnapTo(args.int("index"));
        break;
      case "term":
        answer = args
          .ints("index")
          .map((i) => `${i}: ${u.maybeTerm(i ?? 0) ?? "none"}`)
          .join("\n");
        break;
      case "slice":
        answer = showEntries(u.slice(args.int("lo"), args.int("hi")));
        break;
      case "show":
        break;
      default:
        throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
    }
    args.done();
    return answer ?? showUnstable(u);
  };
}

function showUnstable(u: Unstable): string {
  return [
    `offset=${u.offset} first=${u.maybeFirstIndex() ?? "none"} last=${u.maybeLastIndex() ?? "none"}`,
    `entries: ${showEntries(u.entries)}`,
    `snapshot: ${showSnapshot(u.snapshot)}`,
  ].join("\n");
}
