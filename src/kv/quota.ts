import { InvalidArgumentError } from "../errors.js";
import { RECORD_OVERHEAD_BYTES } from "./mvcc.js";
import type { KvCommand, TxnOp } from "./types.js";

/**
 * The backend quota, after etcd's: a write that would take the store past
 * `quotaBackendBytes` is refused and raises the NOSPACE alarm, which then
 * refuses every write that takes space until an operator disarms it.
 */

/** etcd's default --quota-backend-bytes. */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
/** What granting a lease is counted as (etcd's leaseOverhead). */
export const LEASE_OVERHEAD_BYTES = 64;

/**
 * Bytes a command may add to the store: a put its key, value and record
 * overhead, a txn the costlier of its branches (either may run), a lease
 * grant a fixed overhead. Zero means it takes no space (reads, deletes,
 * compaction, revokes, keep-alives, auth and alarm commands): those are never
 * refused for space, so an operator can always make room.
 */
export function writeCostBytes(command: KvCommand | TxnOp): number {
  switch (command.type) {
    case "put":
      return command.key.byteLength + command.value.byteLength + RECORD_OVERHEAD_BYTES;
    case "txn": {
      const branch = (ops: readonly TxnOp[]) => ops.reduce((n, op) => n + writeCostBytes(op), 0);
      return Math.max(branch(command.success), branch(command.failure));
    }
    case "leaseGrant":
      return LEASE_OVERHEAD_BYTES;
    case "request":
      return writeCostBytes(command.command);
    default:
      return 0;
  }
}

/** Whether a write of `costBytes` on a store of `usedBytes` goes past the quota. */
export function exceedsQuota(usedBytes: number, costBytes: number, quotaBytes: number): boolean {
  return costBytes > 0 && usedBytes + costBytes > quotaBytes;
}

/** The quota to enforce: 0 or absent means the default, as etcd's flag. */
export function resolveQuotaBytes(quotaBytes: number | undefined): number {
  if (quotaBytes === undefined || quotaBytes === 0) return DEFAULT_QUOTA_BACKEND_BYTES;
  if (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0) {
    throw new InvalidArgumentError(
      `quotaBackendBytes must be a non-negative integer (0 = the default 2 GiB), got ${quotaBytes}`,
    );
  }
  return quotaBytes;
}
