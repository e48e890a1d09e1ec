import { compareBytes, type KeyInterval, type KeyString, toKeyBytes } from "./bytes.js";
import { isTombstone, type KeyHistories, type KeyRecord, recordAt } from "./mvcc.js";
import type { KeyValue, RangeCommand, SortTarget } from "./types.js";

const EMPTY = new Uint8Array(0);

/** Live keys in the interval as of `revision`, in key order. */
export function liveRecords(
  histories: KeyHistories,
  iv: KeyInterval,
  revision: number,
): [KeyString, KeyRecord][] {
  const out: [KeyString, KeyRecord][] = [];
  for (const key of histories.keysIn(iv)) {
    const r = recordAt(histories.history(key)!, revision);
    if (r !== undefined && !isTombstone(r)) out.push([key, r]);
  }
  return out;
}

/** Applies sort, limit, keysOnly and countOnly, as etcd's range does. */
export function shapeRange(
  found: [KeyString, KeyRecord][],
  req: Omit<RangeCommand, "type" | "key">,
): { kvs: KeyValue[]; more: boolean; count: number } {
  const count = found.length;
  if (req.countOnly) return { kvs: [], more: false, count };
  const target = req.sortTarget ?? "key";
  const order = req.sortOrder ?? "ascend";
  if (target !== "key" || order !== "ascend") {
    const cmp = sortComparator(target);
    // Array.prototype.sort is stable, so ties keep key order as etcd's does.
    found.sort(order === "ascend" ? cmp : (a, b) => -cmp(a, b));
  }
  const limit = req.limit ?? 0;
  const kept = limit > 0 && limit < count ? found.slice(0, limit) : found;
  const kvs = kept.map(([key, r]) => ({
    key: toKeyBytes(key),
    createRevision: r.createRevision,
    modRevision: r.modRevision,
    version: r.version,
    value: req.keysOnly ? EMPTY : r.value,
    lease: r.lease,
  }));
  return { kvs, more: kept.length < count, count };
}

type Row = [KeyString, KeyRecord];

function sortComparator(target: SortTarget): (a: Row, b: Row) => number {
  switch (target) {
    case "key":
      return (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    case "version":
      return (a, b) => a[1].version - b[1].version;
    case "create":
      return (a, b) => a[1].createRevision - b[1].createRevision;
    case "mod":
      return (a, b) => a[1].modRevision - b[1].modRevision;
    case "value":
      return (a, b) => compareBytes(a[1].value, b[1].value);
  }
}
