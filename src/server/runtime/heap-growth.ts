import { setFlagsFromString } from "node:v8";
import { invariant } from "../../raft/core/errors.js";

/**
 * Sets how far V8 lets the JS heap grow past what its last full collection
 * left live before it collects again: the memory a member holds beyond its
 * live data, against the CPU its collections cost (as GOGC does for a Go
 * server). V8 otherwise picks the factor itself from its collector's speed,
 * up to 4× the live size under a steady stream of writes.
 *
 * The setting belongs to the process, not to one member: `conclave serve`
 * applies it once at start, 100 (twice the live heap) unless set. 0 leaves
 * V8's own choice. Returns whether a factor was set.
 */
export function applyHeapGrowth(
  percent: number,
  setFlags: (flags: string) => void = setFlagsFromString,
): boolean {
  invariant(
    Number.isSafeInteger(percent) && percent >= 0,
    () => `heap growth must be a non-negative integer percent, got ${percent}`,
  );
  if (percent === 0) return false;
  setFlags(`--heap-growing-percent=${percent}`);
  return true;
}
