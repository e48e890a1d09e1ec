import {
  status as GrpcCode,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { prefixEnd } from "../../kv/index.js";
import { encodeBase64 } from "../base64.js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import {
  KeyQueue,
  messageBytes,
  QueueWaitCancelledError,
  queueKey,
  queuePrefix,
} from "./key-queue.js";
import { invalidArgument, leaseOf, type RecipeCall, recipeHandler } from "./recipe-call.js";
import { grpcError } from "./unary.js";

/** etcd's concurrency errors reach its clients as they are: code UNKNOWN, their text. */
function electionError(details: string, conclaveCode: string): GrpcCallError {
  return new GrpcCallError({ code: GrpcCode.UNKNOWN, details }, conclaveCode);
}

/** Proclaim by a candidate whose leader key is gone or was replaced (etcd's ErrElectionNotLeader). */
export class ElectionNotLeaderError extends GrpcCallError {
  constructor() {
    super({ code: GrpcCode.UNKNOWN, details: "election: not leader" }, "ELECTION_NOT_LEADER");
  }
}

/** Leader of an election nobody holds (etcd's ErrElectionNoLeader). */
export class ElectionNoLeaderError extends GrpcCallError {
  constructor() {
    super({ code: GrpcCode.UNKNOWN, details: "election: no leader" }, "ELECTION_NO_LEADER");
  }
}

interface LeaderKey {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  readonly rev: string;
  readonly lease: string;
}

/** The `leader` field of Proclaim and Resign, checked. */
function leaderKeyOf(message: JsonObject): LeaderKey {
  const leader = message["leader"];
  // etcd's own words for a request without one (its ErrMissingLeaderKey).
  if (typeof leader !== "object" || leader === null) {
    throw electionError('"leader" field must be provided', "INVALID_ARGUMENT");
  }
  const fields = leader as JsonObject;
  const key = messageBytes(fields, "key");
  if (key.byteLength === 0) throw invalidArgument("etcdserver: leader.key is not provided");
  const rev = fields["rev"] ?? "0";
  if (typeof rev !== "string" || !/^\d{1,19}$/.test(rev)) {
    throw invalidArgument("etcdserver: leader.rev must be a revision");
  }
  return { name: messageBytes(fields, "name"), key, rev, lease: leaseOf(fields, "lease") };
}

/** A txn that runs `then` only while `leader.key` is still the key created at `leader.rev`. */
function whileLeader(leader: LeaderKey, then: JsonObject): JsonObject {
  return {
    compare: [
      {
        key: encodeBase64(leader.key),
        target: "CREATE",
        result: "EQUAL",
        create_revision: leader.rev,
      },
    ],
    success: [then],
  };
}

/**
 * etcd's v3election service (the recipe of its Election, run by the
 * server). A candidate's key is `<name>/<lease in hex>` under its lease; the
 * leader is the key with the lowest create revision, and its value is the
 * election's proclaimed value. Campaign waits its turn as a lock does;
 * Proclaim and Resign act only while the leader key still has the create
 * revision Campaign answered (a txn compare), so a leader that lost its key
 * cannot speak for the one after it.
 */
export function electionService(ctx: GrpcContext): UntypedServiceImplementation {
  const queue = new KeyQueue(ctx);
  // An empty name is etcd's too: its keys are "/<lease>".
  const nameOf = (message: JsonObject) => messageBytes(message, "name");
  const access = (call: { metadata: RecipeCall["metadata"] }, prefix: Uint8Array, write: boolean) =>
    authorizeCall(ctx.kv, call.metadata, [
      { mode: write ? "write" : "read", key: prefix, rangeEnd: prefixEnd(prefix) },
    ]);

  const campaign = async (call: RecipeCall): Promise<JsonObject> => {
    const message = call.request ?? {};
    const name = nameOf(message);
    const prefix = queuePrefix(name);
    await access(call, prefix, true);
    const value = messageBytes(message, "value");
    const lease = await queue.lease(leaseOf(message, "lease"), call);
    const queued = await queue.join(queueKey(prefix, lease), value, lease, call);
    const k = encodeBase64(queued.key);
    // Campaigning again under the same lease keeps its place and takes the new value.
    if (queued.previousValue !== undefined && queued.previousValue !== encodeBase64(value)) {
      await ctx.bridge.post(
        "/v3/kv/txn",
        whileLeader(
          { name, key: queued.key, rev: String(queued.createRevision), lease },
          { request_put: { key: k, value: encodeBase64(value), lease } },
        ),
        call,
      );
    }
    // A campaign given up resigns, or its key would hold up every later candidate.
    const header = await queue.waitForTurnOrLeave(prefix, queued, call, () =>
      electionError("election: session is expired", "ELECTION_SESSION_EXPIRED"),
    );
    return {
      header,
      leader: { name: encodeBase64(name), key: k, rev: String(queued.createRevision), lease },
    };
  };

  const proclaim = async (call: RecipeCall): Promise<JsonObject> => {
    const message = call.request ?? {};
    const leader = leaderKeyOf(message);
    const value = encodeBase64(messageBytes(message, "value"));
    const put = { request_put: { key: encodeBase64(leader.key), value, lease: leader.lease } };
    const answer = await ctx.bridge.post("/v3/kv/txn", whileLeader(leader, put), call);
    if (answer["succeeded"] !== true) throw new ElectionNotLeaderError();
    return { header: answer["header"] };
  };

  const resign = async (call: RecipeCall): Promise<JsonObject> => {
    const leader = leaderKeyOf(call.request ?? {});
    const del = { request_delete_range: { key: encodeBase64(leader.key) } };
    // As etcd: resigning an election one no longer leads is not an error.
    const answer = await ctx.bridge.post("/v3/kv/txn", whileLeader(leader, del), call);
    return { header: answer["header"] };
  };

  const leaderOf = async (call: RecipeCall): Promise<JsonObject> => {
    const prefix = queuePrefix(nameOf(call.request ?? {}));
    const answer = await ctx.bridge.post(
      "/v3/kv/range",
      {
        key: encodeBase64(prefix),
        range_end: encodeBase64(prefixEnd(prefix)),
        sort_target: "CREATE",
        sort_order: "ASCEND",
        limit: "1",
      },
      call,
    );
    const kv = (answer["kvs"] as JsonObject[] | undefined)?.[0];
    if (kv === undefined) throw new ElectionNoLeaderError();
    return { header: answer["header"], kv };
  };

  const observe = (call: ServerWritableStream<JsonObject, JsonObject>): void => {
    const run = async () => {
      const prefix = queuePrefix(nameOf(call.request ?? {}));
      await access(call, prefix, false);
      await queue.observe(prefix, call, (kv, revision) => {
        call.write({ header: ctx.app.responseHeader(revision), kv });
      });
    };
    run().then(
      () => call.end(),
      (err: unknown) => {
        // A cancelled call has no one left to answer.
        if (err instanceof QueueWaitCancelledError) return;
        call.emit("error", grpcError(err));
      },
    );
  };

  return {
    Campaign: recipeHandler(campaign),
    Proclaim: recipeHandler(proclaim),
    Leader: recipeHandler(leaderOf),
    Observe: observe,
    Resign: recipeHandler(resign),
  };
}
