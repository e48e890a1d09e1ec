/**
 * Which shard a key belongs to. The key space is split into a fixed number of
 * shards, each a Raft group numbered 1..shardCount; group 0 is the meta group
 * that holds the shard map itself.
 *
 * Keys can pin themselves together with a Redis Cluster hash tag: when a key
 * holds a `{` and, after it, a `}` with at least one byte between them, only
 * the bytes between the first `{` and the first `}` after it are hashed, so
 * `user:{42}:name` and `user:{42}:email` land in the same shard (and can be
 * changed in one transaction).
 */
import { InvalidArgumentError } from "../errors.js";
import { jumpBucket } from "../hashring/jump.js";
import { fmix32I32, murmur3BytesI32 } from "../hashring/murmur3.js";

export type GroupId = number;

/** The group that holds the shard map; shards are groups 1..shardCount. */
export const META_GROUP: GroupId = 0;

/** The largest shard count shardOf accepts (as Redis Cluster's 16,384 slots, with headroom). */
export const MAX_SHARD_COUNT = 65536;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
/** Spreads the one 32-bit hash into the second word of jump hash's 64-bit key (as JumpHash does). */
const LOW_WORD_SALT = 0x9e3779b9;

/**
 * The key's hash tag: the bytes between its first `{` and the first `}` after
 * it, when there is at least one; undefined when the key has none (then the
 * whole key is hashed). `{}` is not a tag, and only the first `{` counts:
 * `{}{a}` has no tag, as in Redis Cluster.
 */
export function hashTag(key: Uint8Array): Uint8Array | undefined {
  const open = key.indexOf(OPEN_BRACE);
  if (open < 0) return undefined;
  const close = key.indexOf(CLOSE_BRACE, open + 1);
  if (close <= open + 1) return undefined;
  return key.subarray(open + 1, close);
}

/**
 * The shard (1..shardCount) of a key: murmur3 of its hash tag (or of the
 * whole key) reduced with jump consistent hash, which is exactly uniform over
 * the shards (no modulo bias) and would move only 1/(n+1) of the keys if
 * shards were ever appended.
 */
export function shardOf(key: Uint8Array, shardCount: number): GroupId {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
    throw new InvalidArgumentError(
      `shard count must be an integer from 1 to ${MAX_SHARD_COUNT}, got ${String(shardCount)}`,
    );
  }
  if (!(key instanceof Uint8Array)) throw new InvalidArgumentError("a key must be a Uint8Array");
  const hashed = hashTag(key) ?? key;
  const hash = murmur3BytesI32(hashed, hashed.length, 0);
  return jumpBucket(hash, fmix32I32(hash ^ LOW_WORD_SALT), shardCount) + 1;
}
