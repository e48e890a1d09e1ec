/**
 * The client of a sharded Conclave cluster (`conclave serve --shards N`):
 * `conclave/shard-client`. The unsharded cluster's client is `conclave/client`.
 */
export { hashTag, shardOf } from "../../shard/keys.js";
export type { Bytes } from "../bytes.js";
export {
  AbortedError,
  BadResponseError,
  ClientClosedError,
  ClientError,
  CompactedError,
  DeadlineExceededError,
  NotLeaderError,
  OutcomeUnknownError,
  UnavailableError,
} from "../errors.js";
export { KeyValue } from "../key-value.js";
export type * from "../kv-types.js";
export type { CallOptions } from "../transport.js";
export type { WatchEvent } from "../watch-wire.js";
export {
  type ShardDeleteResult,
  ShardedClient,
  type ShardedClientOptions,
  type ShardPutResult,
  type ShardRangeOptions,
  type ShardRangeResult,
  type ShardTxnOptions,
  type ShardTxnResult,
} from "./client.js";
export {
  CrossShardError,
  NotControllerError,
  ShardNotLeaderError,
  type ShardReplicaRef,
  WrongShardError,
} from "./errors.js";
export type { ShardWatchBatch, ShardWatchOptions, ShardWatchStream } from "./watch.js";
export type {
  ShardGroup,
  ShardGroupStatus,
  ShardMap,
  ShardNode,
  ShardNodeStatus,
  ShardStatus,
} from "./wire.js";
