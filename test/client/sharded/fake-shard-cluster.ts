/**
 * An in-process fake of the sharded tier's HTTP contract, on fastify: a few
 * nodes sharing one state (which groups each hosts, who leads, each shard's
 * keys), answering `/v3/shard/...` as a real member would, WRONG_SHARD and
 * NOT_LEADER and NOT_CONTROLLER included. Tests change the state between
 * calls (move a shard, change a leader, give a node a stale map) and script
 * single answers with intercepts. Not a model of replication: each shard's
 * keys live once, applied by whichever node is its leader.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { shardOf } from "../../../src/shard/keys.js";

export interface FakeGroup {
  group: number;
  epoch: number;
  replicas: number[];
  /** 0: none known. */
  leader: number;
}

export interface SeenRequest {
  readonly node: number;
  readonly method: string;
  readonly url: string;
  readonly body: Record<string, unknown> | undefined;
  readonly idempotencyKey: string | undefined;
}

/** A scripted answer; `drop` destroys the connection, `applyThenDrop` applies and then does. */
export type Scripted =
  | { status: number; body: unknown }
  | { drop: true }
  | { applyThenDrop: true }
  | undefined;

export type Intercept = (request: SeenRequest) => Scripted;

interface StoredKv {
  key: Buffer;
  value: Buffer;
  create: number;
  mod: number;
  version: number;
  lease: number;
}

interface Store {
  revision: number;
  kvs: Map<string, StoredKv>;
}

interface MapJson {
  revision: number;
  shardCount: number;
  replication: number;
  nodes: { id: number; peer: string; client: string; capacity: number; draining: boolean }[];
  groups: FakeGroup[];
}

type Body = Record<string, unknown>;

const b64 = (b: Buffer) => b.toString("base64");
const unb64 = (s: unknown) => Buffer.from(typeof s === "string" ? s : "", "base64");

export class FakeShardCluster {
  readonly nodes: { id: number; url: string; app: FastifyInstance }[] = [];
  groups: FakeGroup[];
  revision = 1;
  controller = 1;
  readonly live = new Set<number>();
  readonly draining = new Set<number>();
  /** A node answering GET /v3/shard/map with this instead of the current map. */
  readonly staleMaps = new Map<number, MapJson>();
  readonly seen: SeenRequest[] = [];
  /** Asked in order for each request; the first answer that is not undefined is sent. */
  intercepts: Intercept[] = [];
  /** At most this many kvs per range answer (a server's byte budget), with more/next_key. */
  pageSize: number | undefined;
  /** Learners and voters per group, for the status route; default: voters are the replicas. */
  readonly statusVoters = new Map<number, number[]>();
  readonly moves: { group: number; from: number; to: number }[] = [];
  private readonly stores = new Map<number, Store>();
  private readonly applied = new Map<string, { status: number; body: unknown }>();

  private constructor(
    readonly shardCount: number,
    readonly replication: number,
    groups: FakeGroup[],
  ) {
    this.groups = groups;
  }

  /** `nodeCount` nodes; each group on `placement(group)` replicas, led by the first. */
  static async start(options: {
    nodeCount: number;
    shardCount: number;
    replication: number;
    placement: (group: number) => number[];
  }): Promise<FakeShardCluster> {
    const groups: FakeGroup[] = [];
    for (let g = 0; g <= options.shardCount; g++) {
      const replicas = options.placement(g);
      groups.push({ group: g, epoch: 1, replicas, leader: replicas[0] ?? 0 });
    }
    const cluster = new FakeShardCluster(options.shardCount, options.replication, groups);
    for (let id = 1; id <= options.nodeCount; id++) {
      const app = Fastify();
      app.route({
        method: ["GET", "POST"],
        url: "/*",
        handler: (req, reply) => cluster.handle(id, req, reply),
      });
      await app.listen({ port: 0, host: "127.0.0.1" });
      const address = app.server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      cluster.nodes.push({ id, url: `http://127.0.0.1:${port}`, app });
      cluster.live.add(id);
    }
    return cluster;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.app.close()));
  }

  url(id: number): string {
    return this.nodes.find((n) => n.id === id)?.url ?? "";
  }

  group(g: number): FakeGroup {
    const found = this.groups.find((x) => x.group === g);
    if (found === undefined) throw new Error(`no group ${g}`);
    return found;
  }

  /** Changes a group's placement or leader as the controller would: a new epoch and map revision. */
  update(g: number, change: Partial<Pick<FakeGroup, "replicas" | "leader">>): void {
    const group = this.group(g);
    if (change.replicas !== undefined) group.replicas = change.replicas;
    if (change.leader !== undefined) group.leader = change.leader;
    group.epoch++;
    this.revision++;
  }

  map(): MapJson {
    return {
      revision: this.revision,
      shardCount: this.shardCount,
      replication: this.replication,
      nodes: this.nodes.map((n) => ({
        id: n.id,
        peer: `127.0.0.1:${7000 + n.id}`,
        client: n.url,
        capacity: 1,
        draining: this.draining.has(n.id),
      })),
      groups: this.groups.map((g) => ({ ...g, replicas: [...g.replicas] })),
    };
  }

  /** The map as it is now, frozen: what a node that missed later changes serves. */
  snapshot(): MapJson {
    return structuredClone(this.map());
  }

  /** Requests of one node (or all) to `url`. */
  requests(url: string, node?: number): SeenRequest[] {
    return this.seen.filter((s) => s.url === url && (node === undefined || s.node === node));
  }

  /** A key that lands in `shard`: `${prefix}${n}` for the first n that does. */
  keyOn(shard: number, prefix = "k"): string {
    for (let n = 0; ; n++) {
      const key = `${prefix}${n}`;
      if (shardOf(Buffer.from(key), this.shardCount) === shard) return key;
    }
  }

  storeOf(shard: number): Store {
    let store = this.stores.get(shard);
    if (store === undefined) {
      store = { revision: 1, kvs: new Map() };
      this.stores.set(shard, store);
    }
    return store;
  }

  // ---- serving ------------------------------------------------------------------------

  private handle(node: number, req: FastifyRequest, reply: FastifyReply): void {
    const url = req.url;
    const key = req.headers["idempotency-key"];
    const seen: SeenRequest = {
      node,
      method: req.method,
      url,
      body: (req.body ?? undefined) as Body | undefined,
      idempotencyKey: typeof key === "string" ? key : undefined,
    };
    this.seen.push(seen);
    let scripted: Scripted;
    for (const intercept of this.intercepts) {
      scripted = intercept(seen);
      if (scripted !== undefined) break;
    }
    if (scripted !== undefined && "drop" in scripted) {
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (scripted !== undefined && "status" in scripted) {
      void reply.code(scripted.status).send(scripted.body);
      return;
    }
    const answer = this.answer(node, seen);
    if (scripted !== undefined && "applyThenDrop" in scripted) {
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    void reply.code(answer.status).send(answer.body);
  }

  private answer(node: number, r: SeenRequest): { status: number; body: unknown } {
    const body = r.body ?? {};
    if (r.url === "/v3/shard/map" && r.method === "GET") {
      return { status: 200, body: this.staleMaps.get(node) ?? this.map() };
    }
    if (r.url.startsWith("/v3/shard/kv/")) return this.kv(node, r.url.slice(13), body, r);
    if (r.url === "/v3/shard/status" || r.url === "/v3/shard/drain" || r.url === "/v3/shard/move") {
      if (node !== this.controller) {
        return {
          status: 421,
          body: {
            code: "NOT_CONTROLLER",
            message: `node ${node} is not the controller`,
            controller: this.controller,
            controllerUrl: this.url(this.controller),
          },
        };
      }
      return this.control(r.url, body);
    }
    return { status: 404, body: { code: "NOT_FOUND", message: r.url } };
  }

  private control(url: string, body: Body): { status: number; body: unknown } {
    if (url === "/v3/shard/status") {
      return {
        status: 200,
        body: {
          controller: this.controller,
          revision: this.revision,
          nodes: this.nodes.map((n) => ({
            id: n.id,
            client: n.url,
            live: this.live.has(n.id),
            draining: this.draining.has(n.id),
            replicas: this.groups.filter((g) => g.replicas.includes(n.id)).length,
            leaders: this.groups.filter((g) => g.leader === n.id).length,
          })),
          groups: this.groups.map((g) => ({
            group: g.group,
            epoch: g.epoch,
            target: g.replicas,
            voters: this.statusVoters.get(g.group) ?? g.replicas,
            learners: [],
            leader: g.leader,
            settled: this.statusVoters.get(g.group) === undefined,
          })),
        },
      };
    }
    if (url === "/v3/shard/drain") {
      const node = Number(body["node"]);
      if (body["draining"] === true) this.draining.add(node);
      else this.draining.delete(node);
      this.revision++;
      return { status: 200, body: { ok: true } };
    }
    const group = Number(body["group"]);
    const from = Number(body["from"]);
    const to = Number(body["to"]);
    const g = this.groups.find((x) => x.group === group);
    if (g === undefined || !g.replicas.includes(from) || g.replicas.includes(to)) {
      return {
        status: 400,
        body: {
          code: "INVALID_ARGUMENT",
          message: `cannot move group ${group} from ${from} to ${to}`,
        },
      };
    }
    this.moves.push({ group, from, to });
    this.update(group, { replicas: g.replicas.map((r) => (r === from ? to : r)) });
    return { status: 200, body: { ok: true, epoch: g.epoch } };
  }

  private kv(
    node: number,
    op: string,
    body: Body,
    r: SeenRequest,
  ): { status: number; body: unknown } {
    const keys = op === "txn" ? txnKeys(body) : [unb64(body["key"])];
    let shard = typeof body["shard"] === "number" ? body["shard"] : undefined;
    if (shard === undefined) {
      const shards = new Set(keys.map((k) => shardOf(k, this.shardCount)));
      if (shards.size !== 1 || (op === "range" && body["range_end"] !== undefined)) {
        return { status: 400, body: { code: "CROSS_SHARD", message: "the keys span shards" } };
      }
      shard = [...shards][0]!;
    }
    const group = this.group(shard);
    if (!group.replicas.includes(node)) {
      const map = this.staleMaps.get(node) ?? this.map();
      const known = map.groups.find((g) => g.group === shard);
      return {
        status: 421,
        body: {
          code: "WRONG_SHARD",
          message: `node ${node} does not host shard ${shard}`,
          shard,
          epoch: known?.epoch ?? 0,
          replicas: (known?.replicas ?? []).map((id) => ({ id, client: this.url(id) })),
        },
      };
    }
    if (group.leader !== node) {
      return {
        status: 421,
        body: {
          code: "NOT_LEADER",
          message: `node ${node} does not lead shard ${shard}`,
          shard,
          epoch: group.epoch,
          leader: group.leader === 0 ? null : group.leader,
          ...(group.leader !== 0 && { leaderUrl: this.url(group.leader) }),
        },
      };
    }
    if (r.idempotencyKey !== undefined) {
      const earlier = this.applied.get(r.idempotencyKey);
      if (earlier !== undefined) return earlier;
    }
    const store = this.storeOf(shard);
    const header = () => ({ revision: store.revision, shard, epoch: group.epoch });
    let result: Body;
    switch (op) {
      case "range":
        result = this.range(store, body);
        break;
      case "put":
        result = this.put(store, body);
        break;
      case "deleterange":
        result = this.del(store, body);
        break;
      case "txn":
        result = this.txn(store, body);
        break;
      default:
        return { status: 404, body: { code: "NOT_FOUND", message: op } };
    }
    const answer = { status: 200, body: { header: header(), ...result } };
    if (r.idempotencyKey !== undefined) this.applied.set(r.idempotencyKey, answer);
    return answer;
  }

  private inRange(store: Store, body: Body): StoredKv[] {
    const key = unb64(body["key"]);
    const end = body["range_end"] === undefined ? undefined : unb64(body["range_end"]);
    const all = [...store.kvs.values()].sort((a, b) => Buffer.compare(a.key, b.key));
    if (end === undefined) return all.filter((kv) => kv.key.equals(key));
    const toEnd = end.length === 1 && end[0] === 0;
    return all.filter(
      (kv) => Buffer.compare(kv.key, key) >= 0 && (toEnd || Buffer.compare(kv.key, end) < 0),
    );
  }

  private range(store: Store, body: Body): Body {
    const matched = this.inRange(store, body);
    const limit = Number(body["limit"] ?? 0);
    let n = limit > 0 ? Math.min(limit, matched.length) : matched.length;
    if (this.pageSize !== undefined) n = Math.min(n, this.pageSize);
    const more = matched.length > n;
    return {
      kvs: matched.slice(0, n).map(kvJson),
      more,
      count: matched.length,
      ...(more && { next_key: b64(matched[n]!.key) }),
    };
  }

  private put(store: Store, body: Body, revision = ++store.revision): Body {
    const key = unb64(body["key"]);
    const prev = store.kvs.get(key.toString("latin1"));
    store.kvs.set(key.toString("latin1"), {
      key,
      value: unb64(body["value"]),
      create: prev?.create ?? revision,
      mod: revision,
      version: (prev?.version ?? 0) + 1,
      lease: Number(body["lease"] ?? 0),
    });
    return body["prev_kv"] === true && prev !== undefined ? { prev_kv: kvJson(prev) } : {};
  }

  private del(store: Store, body: Body, revision?: number): Body {
    const gone = this.inRange(store, body);
    if (gone.length > 0 && revision === undefined) store.revision++;
    for (const kv of gone) store.kvs.delete(kv.key.toString("latin1"));
    return {
      deleted: gone.length,
      ...(body["prev_kv"] === true && { prev_kvs: gone.map(kvJson) }),
    };
  }

  private txn(store: Store, body: Body): Body {
    const compares = (body["compare"] ?? []) as Body[];
    const succeeded = compares.every((c) => {
      const kv = store.kvs.get(unb64(c["key"]).toString("latin1"));
      const [actual, expected] =
        c["target"] === "VALUE"
          ? [kv?.value.toString("base64") ?? "", String(c["value"] ?? "")]
          : c["target"] === "VERSION"
            ? [kv?.version ?? 0, Number(c["version"] ?? 0)]
            : c["target"] === "MOD"
              ? [kv?.mod ?? 0, Number(c["mod_revision"] ?? 0)]
              : [kv?.create ?? 0, Number(c["create_revision"] ?? 0)];
      return (c["result"] ?? "EQUAL") === "EQUAL" ? actual === expected : actual !== expected;
    });
    const ops = ((succeeded ? body["success"] : body["failure"]) ?? []) as Body[];
    const writes = ops.some(
      (o) => o["request_put"] !== undefined || o["request_delete_range"] !== undefined,
    );
    const revision = writes ? ++store.revision : store.revision;
    const responses = ops.map((o) => {
      if (o["request_put"] !== undefined) {
        return {
          response_put: { header: {}, ...this.put(store, o["request_put"] as Body, revision) },
        };
      }
      if (o["request_delete_range"] !== undefined) {
        const result = this.del(store, o["request_delete_range"] as Body, revision);
        return { response_delete_range: { header: {}, ...result } };
      }
      return { response_range: { header: {}, ...this.range(store, o["request_range"] as Body) } };
    });
    return { succeeded, responses };
  }
}

function kvJson(kv: StoredKv): Body {
  return {
    key: b64(kv.key),
    value: b64(kv.value),
    create_revision: kv.create,
    mod_revision: kv.mod,
    version: kv.version,
    lease: kv.lease,
  };
}

function txnKeys(body: Body): Uint8Array[] {
  const keys: Uint8Array[] = ((body["compare"] ?? []) as Body[]).map((c) => unb64(c["key"]));
  for (const op of [
    ...((body["success"] ?? []) as Body[]),
    ...((body["failure"] ?? []) as Body[]),
  ]) {
    const inner = (op["request_put"] ?? op["request_range"] ?? op["request_delete_range"]) as
      | Body
      | undefined;
    if (inner !== undefined) keys.push(unb64(inner["key"]));
    else if (op["request_txn"] !== undefined) keys.push(...txnKeys(op["request_txn"] as Body));
  }
  return keys;
}
