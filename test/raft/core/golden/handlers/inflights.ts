import { Inflights } from "../../../../../src/raft/core/inflights.js";
import { Args } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";

/**
 * inflights-*.txt: the flow-control window of one follower.
 *
 *   init count=N [bytes=N]            a fresh window (bytes=0: no byte limit)
 *   add last=(i,...) [bytes=(b,...)]  one message per index, stopping at the first error
 *   add-range from=i to=j [bytes=b]   one message per index in [from, to]
 *   free-le index=i | free-first | reset
 */
export function inflightsHandler(): GoldenHandler {
  let inflights = new Inflights(4, 0);
  return (c: GoldenCase): string => {
    const args = new Args(c);
    const lines: string[] = [];
    switch (c.command) {
      case "init":
        inflights = new Inflights(args.int("count"), args.intOr("bytes", 0));
        break;
      case "add": {
        const last = args.ints("last");
        const bytes = args.ints("bytes");
        last.forEach((index, i) => {
          add(inflights, index ?? 0, bytes[i] ?? 0, lines);
        });
        break;
      }
      case "add-range": {
        const from = args.int("from");
        const to = args.int("to");
        const bytes = args.intOr("bytes", 0);
        if (to - from > 10_000) throw new GoldenFormatError(`line ${c.line}: range too long`);
        for (let index = from; index <= to; index++) add(inflights, index, bytes, lines);
        break;
      }
      case "free-le":
        inflights.freeLE(args.int("index"));
        break;
      case "free-first":
        inflights.freeFirstOne();
        break;
      case "reset":
        inflights.reset();
        break;
      default:
        throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
    }
    args.done();
    lines.push(showInflights(inflights));
    return lines.join("\n");
  };
}

/** Adds one message, recording a refusal instead of aborting the rest of the case. */
function add(inflights: Inflights, index: number, bytes: number, lines: string[]): void {
  if (lines.length > 0) return; // an earlier add of this case was refused
  try {
    inflights.add(index, bytes);
  } catch (err) {
    if (!(err instanceof Error && "code" in err)) throw err;
    lines.push(`add ${index}: error ${String(err.code)}: ${err.message}`);
  }
}

export function showInflights(inflights: Inflights): string {
  const limit = inflights.maxBytes > 0 ? `/${inflights.maxBytes}` : "";
  const full = inflights.full() ? " full" : "";
  return `count=${inflights.count}/${inflights.maxCount} bytes=${inflights.bytes}${limit}${full}`;
}
