import { compareBytes, type KeyString } from "./bytes.js";
import type { KeyRecord } from "./mvcc.js";
import type { Compare } from "./types.js";

/**
 * etcd's txn compare: every live key in the range must satisfy it. With no
 * live key, a value compare is false and numeric targets compare against 0.
 */
export function compareHolds(c: Compare, live: readonly [KeyString, KeyRecord][]): boolean {
  if (live.length === 0) {
    if (c.target === "value") return false;
    return outcome(0 - (c.value as number), c.result);
  }
  return live.every(([, r]) => {
    if (c.target === "value")
      return outcome(compareBytes(r.value, c.value as Uint8Array), c.result);
    return outcome(numericTarget(r, c.target) - (c.value as number), c.result);
  });
}

function numericTarget(r: KeyRecord, target: Exclude<Compare["target"], "value">): number {
  switch (target) {
    case "version":
      return r.version;
    case "create":
      return r.createRevision;
    case "mod":
      return r.modRevision;
    case "lease":
      return r.lease;
  }
}

function outcome(order: number, result: Compare["result"]): boolean {
  switch (result) {
    case "equal":
      return order === 0;
    case "notEqual":
      return order !== 0;
    case "less":
      return order < 0;
    case "greater":
      return order > 0;
  }
}
