/**
 * The sharded member's client API: the /v3/kv bodies and answers, on
 * /v3/shard/kv/*, routed to the replica of the key's shard on this node.
 * A node that does not host the shard answers WRONG_SHARD with the
 * replicas its map names; a replica that does not lead answers NOT_LEADER
 * with its leader, both with the shard's epoch, so a client refreshes what
 * it cached and retries. Reads are linearizable on any replica (ReadIndex).
 * The controller's routes answer on the node that runs it; any other node
 * says where it runs (NOT_CONTROLLER). Watches: watch-route.ts.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { Clock } from "../clock.js";
import type { KvReplica } from "../kv/index.js";
import type { TxnCommand, TxnOp } from "../kv/types.js";
import { NotLeaderError } from "../raft/core/errors.js";
import type { NodeId } from "../raft/core/types.js";
import { errorReply } from "../server/error-reply.js";
import { HttpApiError } from "../server/errors.js";
import { requestIdOf } from "../server/kv-access.js";
import {
  type DeleteRangeRequestJson,
  deleteRangeBodySchema,
  type PutRequestJson,
  putBodySchema,
  type RangeRequestJson,
  rangeBodySchema,
  type TxnRequestJson,
  txnBodySchema,
} from "../server/kv-schemas.js";
import {
  deleteRangeCommand,
  deleteRangeJson,
  putCommand,
  putJson,
  rangeCommand,
  rangeJson,
  txnCommand,
  txnJson,
} from "../server/kv-translate.js";
import type { ServerLimits } from "../server/options.js";
import { STRICT_JSON_OPTIONS } from "../server/strict-json.js";
import { resolveWatchLimits, type WatchLimits } from "../server/watch-registry.js";
import type { ShardAgent } from "./agent.js";
import type { ShardHost } from "./host.js";
import { shardOf } from "./keys.js";
import type { GroupId } from "./types.js";
import { registerShardWatchRoute } from "./watch-route.js";

export class CrossShardError extends HttpApiError {
  constructor(message: string) {
    super(400, "CROSS_SHARD", message);
  }
}

export interface ShardRouteDeps {
  readonly host: ShardHost;
  readonly agent: ShardAgent;
  readonly limits: ServerLimits;
  readonly clock: Clock;
  /** Watch limits (the unsharded server's options of the same names); defaults when absent. */
  readonly watch?: Partial<WatchLimits>;
  /** A watch stream whose replica knew no leader this long ends with NO_LEADER (default 3 s). */
  readonly watchLeaderlessMs?: number;
  /** This node's log durability counters, reported by GET /v3/shard/replicas. */
  readonly durability?: () => DurabilityStats;
}

/** Since the process started, over every group it hosted. */
export interface DurabilityStats {
  /** Appends to the groups' logs. */
  readonly walAppends: number;
  /** fdatasync calls on the groups' log segments. */
  readonly walSegmentSyncs: number;
  /** The shared journal's writes (each one fdatasync) and the appends they carried; absent without one. */
  readonly journal?: { readonly flushes: number; readonly records: number };
}

type Sharded<T> = T & { shard?: number };

const shardProp = { shard: { type: "integer", minimum: 1, maximum: 65536 } };

function withShard<S extends { properties: object }>(schema: S): S {
  return { ...schema, properties: { ...schema.properties, ...shardProp } };
}

function txnSchemaWithShard(maxOps: number) {
  const base = txnBodySchema(maxOps);
  const defs = base.definitions as Record<string, { properties: object }>;
  const txn = defs.txn as { properties: object };
  return {
    ...base,
    $ref: "#/definitions/shardTxn",
    definitions: { ...defs, shardTxn: withShard(txn) },
  };
}

/**
 * The keys a txn names, nested txns included: `points` are single keys (a
 * compare or op without a range end), which must all be in the txn's shard;
 * `spans` says some compare or op covers a range, which needs the shard
 * named, and then covers only that shard's part of its range.
 */
function txnKeys(
  t: TxnCommand,
  out: { points: Uint8Array[]; spans: boolean } = { points: [], spans: false },
): { points: Uint8Array[]; spans: boolean } {
  for (const c of t.compare) {
    if (c.rangeEnd === undefined) out.points.push(c.key);
    else out.spans = true;
  }
  const visit = (op: TxnOp) => {
    if (op.type === "txn") txnKeys(op, out);
    else if ("rangeEnd" in op && op.rangeEnd !== undefined) out.spans = true;
    else out.points.push(op.key);
  };
  for (const op of t.success) visit(op);
  for (const op of t.failure) visit(op);
  return out;
}

/** The sharded API's server: bodies validated as sent, every error a typed JSON answer. */
export function createShardApiApp(deps: ShardRouteDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.limits.bodyLimitBytes,
    ...STRICT_JSON_OPTIONS,
  });
  app.setErrorHandler((err, _req, reply) => {
    const { statusCode, body } = errorReply(err);
    void reply.code(statusCode).send(body);
  });
  registerShardRoutes(app, deps);
  return app;
}

function registerShardRoutes(app: FastifyInstance, deps: ShardRouteDeps): void {
  const { host, agent, limits } = deps;
  const clientOf = (id: NodeId): string | undefined =>
    agent.shardMap.nodes.find((n) => n.id === id)?.client || undefined;

  /**
   * The group a request runs on: the one named, which every single key of
   * the request must map to, else the one every key maps to. A key range
   * (`spans`) crosses shards, so it needs the shard named.
   */
  const groupOf = (shard: number | undefined, points: readonly Uint8Array[], spans: boolean) => {
    const count = agent.shardMap.shardCount;
    const groups = [...new Set(points.map((k) => shardOf(k, count)))].sort((a, b) => a - b);
    if (shard !== undefined) {
      if (shard > count) throw new CrossShardError(`shard ${shard} does not exist (1..${count})`);
      if (groups.some((g) => g !== shard)) {
        throw new CrossShardError(
          `the keys map to shard${groups.length > 1 ? "s" : ""} ${groups.join(", ")}, not to shard ${shard}`,
        );
      }
      return shard;
    }
    if (spans) throw new CrossShardError("a range over several keys spans shards: name the shard");
    if (groups.length !== 1) {
      throw new CrossShardError(
        groups.length === 0
          ? "a txn that names no key needs the shard named"
          : `the keys map to shards ${groups.join(", ")}: a txn stays in one shard (use a hash tag such as {user42})`,
      );
    }
    return groups[0] as GroupId;
  };

  const epochOf = (group: GroupId) =>
    agent.shardMap.groups.find((g) => g.group === group)?.epoch ?? 0;

  /** 421 WRONG_SHARD: this node holds no replica of the group; the replicas its map names. */
  const wrongShard = (reply: FastifyReply, group: GroupId) => {
    const record = agent.shardMap.groups.find((g) => g.group === group);
    return reply.code(421).send({
      code: "WRONG_SHARD",
      message: `node ${host.id} holds no replica of shard ${group}`,
      shard: group,
      epoch: record?.epoch ?? 0,
      replicas: (record?.replicas ?? []).map((id) => ({ id, client: clientOf(id) ?? "" })),
    });
  };

  /** Runs `op` on this node's replica of the group, or answers where to go instead. */
  const onShard = async (
    reply: FastifyReply,
    group: GroupId,
    op: (kv: KvReplica) => Promise<{ header: object }>,
  ) => {
    const epoch = epochOf(group);
    const replica = host.get(group);
    if (replica === undefined) return wrongShard(reply, group);
    try {
      const answer = await op(replica.kv);
      return { ...answer, header: { ...answer.header, shard: group, epoch } };
    } catch (err) {
      if (!(err instanceof NotLeaderError)) throw err;
      const { statusCode, body } = errorReply(err, { get: clientOf });
      return reply.code(statusCode).send({ ...body, shard: group, epoch });
    }
  };

  app.post<{ Body: Sharded<RangeRequestJson> }>(
    "/v3/shard/kv/range",
    { schema: { body: withShard(rangeBodySchema) } },
    async (req, reply) => {
      const command = rangeCommand(req.body, limits);
      const spans = command.rangeEnd !== undefined;
      const group = groupOf(req.body.shard, spans ? [] : [command.key], spans);
      return onShard(reply, group, async (kv) =>
        rangeJson(
          await kv.read(req.body.serializable ?? false, (s) =>
            s.range(command, { maxBytes: limits.maxRangeBytes }),
          ),
        ),
      );
    },
  );

  app.post<{ Body: Sharded<PutRequestJson> }>(
    "/v3/shard/kv/put",
    { schema: { body: withShard(putBodySchema) } },
    async (req, reply) => {
      const command = putCommand(req.body, limits);
      const id = requestIdOf(req);
      const group = groupOf(req.body.shard, [command.key], false);
      return onShard(reply, group, async (kv) => putJson(await kv.write(command, id)));
    },
  );

  app.post<{ Body: Sharded<DeleteRangeRequestJson> }>(
    "/v3/shard/kv/deleterange",
    { schema: { body: withShard(deleteRangeBodySchema) } },
    async (req, reply) => {
      const command = deleteRangeCommand(req.body, limits);
      const id = requestIdOf(req);
      const spans = command.rangeEnd !== undefined;
      const group = groupOf(req.body.shard, spans ? [] : [command.key], spans);
      return onShard(reply, group, async (kv) => deleteRangeJson(await kv.write(command, id)));
    },
  );

  app.post<{ Body: Sharded<TxnRequestJson> }>(
    "/v3/shard/kv/txn",
    { schema: { body: txnSchemaWithShard(limits.maxTxnOps) } },
    async (req, reply) => {
      const command = txnCommand(req.body, limits);
      const id = requestIdOf(req);
      const { points, spans } = txnKeys(command);
      const group = groupOf(req.body.shard, points, spans);
      return onShard(
        reply,
        group,
        async (kv) => txnJson(await kv.write(command, id)) as { header: object },
      );
    },
  );

  registerShardWatchRoute(app, {
    nodeId: host.id,
    limits,
    watchLimits: resolveWatchLimits(deps.watch ?? {}),
    shardSchema: shardProp.shard,
    groupOf: (shard, key, spans) => groupOf(shard, spans ? [] : [key], spans),
    replica: (group) => host.get(group),
    hasLeader: (group) => {
      const replica = host.get(group);
      return replica === undefined || replica.node.basicStatus().lead !== 0;
    },
    ...(deps.watchLeaderlessMs !== undefined && { leaderlessMs: deps.watchLeaderlessMs }),
    epochOf,
    wrongShard,
  });

  app.get("/v3/shard/map", async () => {
    const map = agent.shardMap;
    const controller = agent.activeController;
    const now = deps.clock.now();
    return {
      revision: map.revision,
      shardCount: map.shardCount,
      replication: map.replication,
      nodes: map.nodes,
      groups: map.groups.map((g) => ({
        ...g,
        leader:
          host.get(g.group)?.node.basicStatus().lead || controller?.leaderOf(g.group, now) || 0,
      })),
    };
  });

  // What this node's replicas see: for operators and for finding a stuck group.
  app.get("/v3/shard/replicas", async () => ({
    node: host.id,
    replicas: host.reports(),
    ...(deps.durability !== undefined && { durability: deps.durability() }),
  }));

  /** The controller's routes: here if it runs here, else where it runs. */
  const onController = <T>(
    reply: FastifyReply,
    run: (c: NonNullable<ShardAgent["activeController"]>) => T,
  ) => {
    const c = agent.activeController;
    if (c !== undefined) return run(c);
    const id = agent.controllerNode;
    const url = id === 0 ? undefined : clientOf(id);
    return reply.code(421).send({
      code: "NOT_CONTROLLER",
      message:
        id === 0
          ? "the controller runs on the meta group's leader, and none is known here"
          : `the controller runs on node ${id}`,
      controller: id === 0 ? null : id,
      ...(url !== undefined && { controllerUrl: url }),
    });
  };

  app.get("/v3/shard/status", async (_req, reply) =>
    onController(reply, (c) => ({ controller: host.id, ...c.status(deps.clock.now()) })),
  );

  app.post<{ Body: { node: number; draining: boolean } }>(
    "/v3/shard/drain",
    {
      schema: {
        body: {
          type: "object",
          properties: { node: { type: "integer", minimum: 1 }, draining: { type: "boolean" } },
          required: ["node", "draining"],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) =>
      onController(reply, (c) => {
        if (!c.drain(req.body.node, req.body.draining)) {
          throw new HttpApiError(404, "NODE_NOT_FOUND", `no node ${req.body.node}`);
        }
        return { ok: true };
      }),
  );

  app.post<{ Body: { group: number; from: number; to: number } }>(
    "/v3/shard/move",
    {
      schema: {
        body: {
          type: "object",
          properties: {
            group: { type: "integer", minimum: 0 },
            from: { type: "integer", minimum: 1 },
            to: { type: "integer", minimum: 1 },
          },
          required: ["group", "from", "to"],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) =>
      onController(reply, async (c) => ({
        ok: true,
        epoch: await c.move(req.body.group, req.body.from, req.body.to, deps.clock.now()),
      })),
  );
}
