import { compareBytes, type KeyInterval, type KeyString, toKeyBytes } from "./bytes.js";
import { isTombstone, type KeyHistories, type KeyRecord } from "./mvcc.js";
import type { KeyValue, RangeCommand, SortTarget } from "./types.js";

const EMPTY = new Uint8Array(0);

/** A range answer's key and value bytes, unless configured otherwise: a few MiB. */
export const DEFAULT_MAX_RANGE_BYTES = 4 * 1024 * 1024;

/** Live keys in the interval as of `revision`, in key order. */
export function liveRecords(
  histories: KeyHistories,
  iv: KeyInterval,
  revision: number,
): [KeyString, KeyRecord][] {
  const out: [KeyString, KeyRecord][] = [];
  for (const key of histories.keysIn(iv)) {
    const r = histories.at(key, revision);
    if (r !== undefined && !isTombstone(r)) out.push([key, r]);
  }
  return out;
}

type Shaped = { kvs: KeyValue[]; more: boolean; count: number; nextKey?: Uint8Array };

/**
 * A range as etcd answers it, with the answer's key and value bytes kept
 * within `maxBytes` (always at least one key, so paging makes progress).
 *
 * In ascending key order — the order paging needs — keys are read one at a
 * time and collection stops at the budget; the rest of the interval is only
 * counted (`count` stays exact: a revision lookup per key, no copies), and
 * `nextKey` says where the next page starts. Any other order must see every
 * match before it can sort, so it is sorted as before and cut at the budget
 * with no `nextKey`: the caller narrows the range or sets a limit.
 */
export function collectRange(
  histories: KeyHistories,
  iv: KeyInterval,
  revision: number,
  req: Omit<RangeCommand, "type" | "key">,
  maxBytes = Number.POSITIVE_INFINITY,
): Shaped {
  const target = req.sortTarget ?? "key";
  const order = req.sortOrder ?? "ascend";
  if (target !== "key" || order !== "ascend" || hasRevisionBounds(req)) {
    return trimToBudget(shapeRange(liveRecords(histories, iv, revision), req), maxBytes);
  }
  const limit = req.limit ?? 0;
  const kvs: KeyValue[] = [];
  let count = 0;
  let bytes = 0;
  let nextKey: KeyString | undefined;
  for (const key of histories.scanKeys(iv)) {
    const r = histories.at(key, revision);
    if (r === undefined || isTombstone(r)) continue;
    count++;
    if (req.countOnly || nextKey !== undefined) continue;
    const size = key.length + (req.keysOnly ? 0 : r.value.byteLength);
    if ((limit > 0 && kvs.length >= limit) || (kvs.length > 0 && bytes + size > maxBytes)) {
      nextKey = key;
      continue;
    }
    bytes += size;
    kvs.push(keyValue(key, r, req.keysOnly ?? false));
  }
  if (req.countOnly) return { kvs: [], more: false, count };
  return nextKey === undefined
    ? { kvs, more: false, count }
    : { kvs, more: true, count, nextKey: toKeyBytes(nextKey) };
}

function trimToBudget(shaped: Shaped, maxBytes: number): Shaped {
  let bytes = 0;
  for (let i = 0; i < shaped.kvs.length; i++) {
    const kv = shaped.kvs[i]!;
    bytes += kv.key.byteLength + kv.value.byteLength;
    if (i > 0 && bytes > maxBytes) return { ...shaped, kvs: shaped.kvs.slice(0, i), more: true };
  }
  return shaped;
}

function keyValue(key: KeyString, r: KeyRecord, keysOnly: boolean): KeyValue {
  return {
    key: toKeyBytes(key),
    createRevision: r.createRevision,
    modRevision: r.modRevision,
    version: r.version,
    value: keysOnly ? EMPTY : r.value,
    lease: r.lease,
  };
}

type Bounds = Pick<
  RangeCommand,
  "minModRevision" | "maxModRevision" | "minCreateRevision" | "maxCreateRevision"
>;

function hasRevisionBounds(req: Bounds): boolean {
  return (
    (req.minModRevision ?? 0) > 0 ||
    (req.maxModRevision ?? 0) > 0 ||
    (req.minCreateRevision ?? 0) > 0 ||
    (req.maxCreateRevision ?? 0) > 0
  );
}

function withinBounds(r: KeyRecord, req: Bounds): boolean {
  const minMod = req.minModRevision ?? 0;
  const maxMod = req.maxModRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  return (
    (minMod === 0 || r.modRevision >= minMod) &&
    (maxMod === 0 || r.modRevision <= maxMod) &&
    (minCreate === 0 || r.createRevision >= minCreate) &&
    (maxCreate === 0 || r.createRevision <= maxCreate)
  );
}

/**
 * Applies revision bounds, sort, limit, keysOnly and countOnly, as etcd's
 * range does: `count` is the interval's count before the bounds, `more`
 * says the limit cut what the bounds kept.
 */
export function shapeRange(
  all: [KeyString, KeyRecord][],
  req: Omit<RangeCommand, "type" | "key">,
): { kvs: KeyValue[]; more: boolean; count: number } {
  const count = all.length;
  if (req.countOnly) return { kvs: [], more: false, count };
  const found = hasRevisionBounds(req) ? all.filter(([, r]) => withinBounds(r, req)) : all;
  const target = req.sortTarget ?? "key";
  const order = req.sortOrder ?? "ascend";
  if (target !== "key" || order !== "ascend") {
    const cmp = sortComparator(target);
    // Array.prototype.sort is stable, so ties keep key order as etcd's does.
    found.sort(order === "ascend" ? cmp : (a, b) => -cmp(a, b));
  }
  const limit = req.limit ?? 0;
  const kept = limit > 0 && limit < found.length ? found.slice(0, limit) : found;
  const kvs = kept.map(([key, r]) => keyValue(key, r, req.keysOnly ?? false));
  return { kvs, more: kept.length < found.length, count };
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
