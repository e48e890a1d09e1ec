/**
 * `POST /v3/shard/watch`: a watch on one shard, served as server-sent events
 * by this node's replica of it, follower or leader (watches are local, as in
 * etcd: a replica reports the revisions it applies). The unsharded server's
 * machinery does the streaming (watch-routes.ts): one registry, memory
 * budget and write pacer for the watches of every replica on this node, so
 * the per-client watcher limits and the memory budget count them together.
 *
 * A stream ends with an `error` event when its replica closes (moved away,
 * deleted, or the node stopping), so the client resumes on another replica
 * from the last revision it received + 1. Revisions are the shard's own.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { KvStore, WatchResponse } from "../kv/index.js";
import type { NodeId } from "../raft/core/types.js";
import { clientIdentity } from "../server/client-identity.js";
import type { ServerLimits } from "../server/options.js";
import {
  sseEvent,
  type WatchErrorJson,
  WatchFrame,
  type WatchFrameEncoder,
  type WatchFrames,
} from "../server/watch-frames.js";
import type { WatchLimits } from "../server/watch-registry.js";
import {
  createWatchParts,
  NO_WATCH_METRICS,
  openWatchStream,
  type WatchParts,
  type WatchRequestJson,
  watchBodySchema,
  watchOptions,
} from "../server/watch-routes.js";
import type { WatchSession } from "../server/watch-session.js";
import { header } from "../server/wire.js";
import type { GroupId } from "./types.js";

export type ShardWatchRequestJson = WatchRequestJson & { shard?: number };

/** The stream's last event when its replica closed; a client resumes elsewhere. */
export const REPLICA_CLOSED = "REPLICA_CLOSED";

/** How often open streams check that their replica is still the one hosted here. */
const DEFAULT_REPLICA_CHECK_MS = 200;
const DEFAULT_LEADERLESS_MS = 3000;
export const NO_LEADER = "NO_LEADER";

export interface ShardWatchDeps {
  readonly nodeId: NodeId;
  readonly limits: ServerLimits;
  readonly watchLimits: WatchLimits;
  /** The `shard` property of the body schema (the kv routes' own). */
  readonly shardSchema: object;
  /**
   * The group the request runs on: a key's own shard, which a named shard
   * must equal; a range (`spans`) needs the shard named. Throws CROSS_SHARD.
   */
  groupOf(shard: number | undefined, key: Uint8Array, spans: boolean): GroupId;
  /** This node's replica of `group`; another object once it was closed and opened again. */
  replica(group: GroupId): { readonly store: KvStore } | undefined;
  epochOf(group: GroupId): number;
  /** Answers 421 WRONG_SHARD for a group this node holds no replica of. */
  wrongShard(reply: FastifyReply, group: GroupId): FastifyReply;
  /** Whether this node's replica of `group` knows a leader (a quiet one does). */
  hasLeader(group: GroupId): boolean;
  /**
   * A stream whose replica knew no leader for this long ends with NO_LEADER,
   * to be resumed elsewhere: its node is likely cut off from the group and
   * would hear no new changes (etcd's require-leader). Default 3,000 ms.
   */
  readonly leaderlessMs?: number;
  /** Default 200 ms. */
  readonly replicaCheckMs?: number;
}

/**
 * The frames of one shard's stream: the member's shared encoder for events
 * (one encoding per revision however many streams carry it), and `created`,
 * `progress` and `error` naming the shard and its epoch.
 */
class ShardWatchFrames implements WatchFrames {
  readonly contentType: string;
  readonly ping: string | undefined;

  constructor(
    private readonly encoder: WatchFrameEncoder,
    private readonly shard: GroupId,
    private readonly epoch: number,
  ) {
    this.contentType = encoder.contentType;
    this.ping = encoder.ping;
  }

  events(response: WatchResponse): WatchFrame {
    return this.encoder.events(response);
  }

  created(revision: number): WatchFrame {
    return this.frame("created", { header: this.header(revision) });
  }

  progress(revision: number): WatchFrame {
    return this.frame("progress", { header: this.header(revision) });
  }

  error(body: WatchErrorJson): WatchFrame {
    return this.frame("error", { ...body, shard: this.shard, epoch: this.epoch });
  }

  private header(revision: number): object {
    return { ...header(revision), shard: this.shard, epoch: this.epoch };
  }

  private frame(event: string, data: object): WatchFrame {
    return new WatchFrame(Buffer.from(sseEvent(event, data)), this.encoder.sequence());
  }
}

/**
 * Ends the streams whose replica is no longer the one this node hosts, or
 * has known no leader for too long. The host tells nobody when it closes a
 * replica, so the open streams look, on one timer that runs only while any
 * is open.
 */
class ReplicaStreams {
  private readonly open = new Map<WatchSession, { group: GroupId; replica: object }>();
  /** Groups whose replica here knew no leader at a check, since when (ms, monotonic). */
  private readonly leaderlessSince = new Map<GroupId, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly deps: Pick<ShardWatchDeps, "nodeId" | "replica" | "hasLeader">,
    private readonly checkMs: number,
    private readonly leaderlessMs: number,
  ) {}

  add(session: WatchSession, group: GroupId, replica: object): void {
    this.open.set(session, { group, replica });
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.check(), this.checkMs);
      this.timer.unref();
    }
  }

  remove(session: WatchSession): void {
    this.open.delete(session);
    if (this.open.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  check(): void {
    const now = performance.now();
    const leaderless = new Set<GroupId>();
    for (const { group } of this.open.values()) {
      if (!this.deps.hasLeader(group)) leaderless.add(group);
    }
    for (const group of [...this.leaderlessSince.keys()]) {
      if (!leaderless.has(group)) this.leaderlessSince.delete(group);
    }
    for (const group of leaderless) {
      if (!this.leaderlessSince.has(group)) this.leaderlessSince.set(group, now);
    }
    for (const [session, { group, replica }] of [...this.open]) {
      if (this.deps.replica(group) !== replica) {
        this.remove(session);
        session.close(
          REPLICA_CLOSED,
          `node ${this.deps.nodeId} no longer serves its replica of shard ${group} (moved away or stopped); resume on another replica from the last revision received + 1`,
        );
        continue;
      }
      const since = this.leaderlessSince.get(group);
      if (since === undefined || now - since < this.leaderlessMs) continue;
      this.remove(session);
      session.close(
        NO_LEADER,
        `node ${this.deps.nodeId}'s replica of shard ${group} has known no leader for ${Math.round(now - since)} ms and may hear no new changes; resume on another replica from the last revision received + 1`,
      );
    }
  }
}

export function registerShardWatchRoute(app: FastifyInstance, deps: ShardWatchDeps): WatchParts {
  const parts = createWatchParts(app.log, deps.watchLimits, NO_WATCH_METRICS);
  const streams = new ReplicaStreams(
    deps,
    deps.replicaCheckMs ?? DEFAULT_REPLICA_CHECK_MS,
    deps.leaderlessMs ?? DEFAULT_LEADERLESS_MS,
  );
  app.addHook("preClose", async () => {
    parts.registry.closeAll("SERVER_CLOSING", "the node is shutting down; resume on another node");
  });
  const schema = {
    ...watchBodySchema,
    properties: { ...watchBodySchema.properties, shard: deps.shardSchema },
  };
  app.post<{ Body: ShardWatchRequestJson }>(
    "/v3/shard/watch",
    { schema: { body: schema } },
    async (req, reply) => {
      const watch = watchOptions(req.body, deps.limits);
      const group = deps.groupOf(req.body.shard, watch.key, watch.rangeEnd !== undefined);
      const replica = deps.replica(group);
      if (replica === undefined) return deps.wrongShard(reply, group);
      const epoch = deps.epochOf(group);
      // onEnd may run inside openWatchStream (a compacted start ends the stream at once).
      let session: WatchSession | undefined;
      let ended = false;
      session = openWatchStream(reply, parts, {
        store: replica.store,
        watch,
        progressNotify: req.body.progress_notify ?? false,
        frames: new ShardWatchFrames(parts.frames, group, epoch),
        client: clientIdentity(undefined, req.socket.remoteAddress),
        onEnd: () => {
          ended = true;
          if (session !== undefined) streams.remove(session);
        },
      });
      if (!ended) streams.add(session, group, replica);
      return reply;
    },
  );
  return parts;
}
