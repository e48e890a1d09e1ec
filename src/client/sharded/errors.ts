/**
 * The sharded tier's refusals, as typed errors. A shard's NOT_LEADER is the
 * SDK's NotLeaderError with the shard and epoch it was about; the others are
 * new codes of the `/v3/shard/...` routes.
 */
import { ClientError, type ErrorBodyJson, errorFromServer, NotLeaderError } from "../errors.js";

/** A node that hosts the shard but does not lead it; `leaderUrl` is where to go. */
export class ShardNotLeaderError extends NotLeaderError {
  readonly shard: number | undefined;
  readonly epoch: number | undefined;
  constructor(
    message: string,
    leader: number | undefined,
    leaderUrl: string | undefined,
    shard: number | undefined,
    epoch: number | undefined,
  ) {
    super(message, leader, leaderUrl);
    this.shard = shard;
    this.epoch = epoch;
  }
}

/** One replica of a shard as a WRONG_SHARD answer names it. */
export interface ShardReplicaRef {
  readonly id: number;
  /** The node's client base URL; "" when the node serves none. */
  readonly client: string;
}

/**
 * The node does not host the shard (its map says who does: `replicas`). The
 * client refreshes its map and retries on its own; the caller sees this only
 * when no node could be found before the deadline.
 */
export class WrongShardError extends ClientError {
  readonly shard: number | undefined;
  readonly epoch: number | undefined;
  readonly replicas: readonly ShardReplicaRef[];
  constructor(
    message: string,
    shard: number | undefined,
    epoch: number | undefined,
    replicas: readonly ShardReplicaRef[],
    status?: number,
  ) {
    super("WRONG_SHARD", message, status);
    this.shard = shard;
    this.epoch = epoch;
    this.replicas = replicas;
  }
}

/**
 * The keys of one call map to more than one shard (a txn), or a key range
 * needs a shard named. Thrown before anything is sent when the client can
 * tell (`status` undefined), or as the server's 400 answer.
 */
export class CrossShardError extends ClientError {
  /** The shards the client computed, in ascending order; empty when the server refused. */
  readonly shards: readonly number[];
  constructor(message: string, shards: readonly number[] = [], status?: number) {
    super("CROSS_SHARD", message, status);
    this.shards = shards;
  }
}

/** A controller call reached a node that is not the controller; the client follows `controllerUrl`. */
export class NotControllerError extends ClientError {
  readonly controller: number | undefined;
  readonly controllerUrl: string | undefined;
  constructor(
    message: string,
    controller: number | undefined,
    controllerUrl: string | undefined,
    status?: number,
  ) {
    super("NOT_CONTROLLER", message, status);
    this.controller = controller;
    this.controllerUrl = controllerUrl;
  }
}

/** An error body of the shard routes: the SDK's fields and the sharded tier's. */
export interface ShardErrorBodyJson extends ErrorBodyJson {
  readonly shard?: unknown;
  readonly epoch?: unknown;
  readonly replicas?: unknown;
  readonly controller?: unknown;
  readonly controllerUrl?: unknown;
}

function optionalInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function replicaRefs(value: unknown): ShardReplicaRef[] {
  if (!Array.isArray(value)) return [];
  const refs: ShardReplicaRef[] = [];
  for (const r of value as unknown[]) {
    if (typeof r !== "object" || r === null) continue;
    const { id, client } = r as { id?: unknown; client?: unknown };
    const n = optionalInt(id);
    if (n !== undefined) refs.push({ id: n, client: typeof client === "string" ? client : "" });
  }
  return refs;
}

/** Turns a shard route's `{ code, message, ... }` into its class; other codes as the SDK does. */
export function shardErrorFromServer(
  body: ShardErrorBodyJson,
  status: number | undefined,
  retryAfter?: string,
): ClientError {
  const message =
    typeof body.message === "string" ? body.message : `server answered ${status ?? "an error"}`;
  switch (body.code) {
    case "NOT_LEADER":
      return new ShardNotLeaderError(
        message,
        optionalInt(body.leader),
        optionalString(body.leaderUrl),
        optionalInt(body.shard),
        optionalInt(body.epoch),
      );
    case "WRONG_SHARD":
      return new WrongShardError(
        message,
        optionalInt(body.shard),
        optionalInt(body.epoch),
        replicaRefs(body.replicas),
        status,
      );
    case "CROSS_SHARD":
      return new CrossShardError(message, [], status);
    case "NOT_CONTROLLER":
      return new NotControllerError(
        message,
        optionalInt(body.controller),
        optionalString(body.controllerUrl),
        status,
      );
    default:
      return errorFromServer(body, status, retryAfter);
  }
}
