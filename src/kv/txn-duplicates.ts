import { intervalContains, type KeyInterval, type KeyString, toKeyString } from "./bytes.js";
import { DuplicateKeyError } from "./errors.js";
import type { TxnCommand, TxnOp } from "./types.js";

/** What a branch writes: keys it puts, intervals it deletes. */
interface BranchWrites {
  readonly puts: Set<KeyString>;
  readonly deletes: KeyInterval[];
}

/**
 * A delete's interval as etcd's duplicate check sees it: a single key, or
 * [key, range_end) taken literally. A range_end of "\0" (every key from
 * `key` on) is then an interval that ends before it starts, so it holds no
 * key, and etcd accepts puts beside it; so does this check, so that the same
 * txns are accepted by both.
 */
function deletedInterval(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyInterval {
  const start = toKeyString(key);
  if (rangeEnd === undefined || rangeEnd.byteLength === 0) return { start, end: undefined };
  return { start, end: toKeyString(rangeEnd) };
}

function deletes(intervals: readonly KeyInterval[], key: KeyString): boolean {
  return intervals.some((iv) => intervalContains(iv, key));
}

/**
 * etcd's rule for one branch of a txn (nested txns included): a key is put at
 * most once, and a put must not fall in a range deleted at its level or
 * earlier. The two branches of a nested txn exclude each other, so they may
 * put the same key. The order of the checks is etcd's: the branch's own
 * deletes first, then each nested txn in turn (its puts against what came
 * before it), then the branch's own puts against everything. Checked on
 * every branch, taken or not, so the verdict does not depend on the store.
 */
function branchWrites(ops: readonly TxnOp[]): BranchWrites {
  const dels: KeyInterval[] = [];
  for (const op of ops) {
    if (op.type === "deleteRange") dels.push(deletedInterval(op.key, op.rangeEnd));
  }
  const puts = new Set<KeyString>();
  for (const op of ops) {
    if (op.type !== "txn") continue;
    const then = branchWrites(op.success);
    const otherwise = branchWrites(op.failure);
    for (const key of then.puts) {
      if (puts.has(key) || deletes(dels, key)) throw new DuplicateKeyError(key);
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      if ((puts.has(key) && !then.puts.has(key)) || deletes(dels, key)) {
        throw new DuplicateKeyError(key);
      }
      puts.add(key);
    }
    dels.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (op.type !== "put") continue;
    const key = toKeyString(op.key);
    if (puts.has(key) || deletes(dels, key)) throw new DuplicateKeyError(key);
    puts.add(key);
  }
  return { puts, deletes: dels };
}

/** Throws DuplicateKeyError when a branch of `txn` writes a key twice (see branchWrites). */
export function checkNoDuplicateWrites(txn: TxnCommand): void {
  branchWrites(txn.success);
  branchWrites(txn.failure);
}
