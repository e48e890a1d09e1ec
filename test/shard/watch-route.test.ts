/**
 * POST /v3/shard/watch on one in-process sharded API (the real routes, over
 * real HTTP), its host and agent faked to the little the route asks of
 * them: which replicas this node holds (a real KvStore each, written by
 * applying commands), and the map. Node 1 hosts shards 1 and 2 of 4.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { type KvCommand, KvStore } from "../../src/kv/index.js";
import type { ServerLimits } from "../../src/server/options.js";
import { DEFAULT_MAX_REQUEST_DEPTH } from "../../src/server/request-depth.js";
import type { ShardAgent } from "../../src/shard/agent.js";
import type { ShardHost } from "../../src/shard/host.js";
import { shardOf } from "../../src/shard/keys.js";
import { createShardApiApp } from "../../src/shard/routes.js";
import type { ShardMap } from "../../src/shard/types.js";
import { dataOf, headerOf, openShardWatch, openShardWatchRaw } from "./shard-watch-http.js";

const SHARDS = 4;
const EPOCH = 3;
const enc = new TextEncoder();
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

const limits: ServerLimits = {
  bodyLimitBytes: 1024 * 1024,
  maxKeyBytes: 1024,
  maxValueBytes: 64 * 1024,
  maxTxnOps: 128,
  maxRequestDepth: DEFAULT_MAX_REQUEST_DEPTH,
  requestTimeoutMs: 1000,
  maxRangeBytes: 1024 * 1024,
  quotaBackendBytes: 64 * 1024 * 1024,
};

interface FakeReplica {
  readonly group: number;
  readonly store: KvStore;
  index: number;
  /** The leader this replica knows (0: none). */
  lead: number;
  readonly node: { basicStatus(): { lead: number } };
}

const replicas = new Map<number, FakeReplica>();
const host = { id: 1, get: (group: number) => replicas.get(group) } as unknown as ShardHost;
const map: ShardMap = {
  revision: 7,
  shardCount: SHARDS,
  replication: 2,
  nodes: [
    { id: 1, peer: "127.0.0.1:1", client: "http://127.0.0.1:1", capacity: 1, draining: false },
    { id: 2, peer: "127.0.0.1:2", client: "http://127.0.0.1:2", capacity: 1, draining: false },
    { id: 3, peer: "127.0.0.1:3", client: "http://127.0.0.1:3", capacity: 1, draining: false },
  ],
  groups: Array.from({ length: SHARDS + 1 }, (_, group) => ({
    group,
    epoch: EPOCH,
    replicas: group <= 2 ? [1, 2] : [2, 3],
  })),
};
const agent = {
  shardMap: map,
  activeController: undefined,
  controllerNode: 0,
} as unknown as ShardAgent;

function host_(group: number): FakeReplica {
  const replica: FakeReplica = {
    group,
    store: new KvStore(),
    index: 0,
    lead: 2,
    node: { basicStatus: () => ({ lead: replica.lead }) },
  };
  replicas.set(group, replica);
  return replica;
}

function apply(replica: FakeReplica, command: KvCommand): number {
  replica.store.apply(++replica.index, command);
  return replica.store.revision;
}
const put = (r: FakeReplica, key: string, value = "v") =>
  apply(r, { type: "put", key: enc.encode(key), value: enc.encode(value) });
const del = (r: FakeReplica, key: string) =>
  apply(r, { type: "deleteRange", key: enc.encode(key) });

/** A key of `shard` starting with `prefix`. */
function keyIn(shard: number, prefix: string, from = 0): string {
  for (let i = from; ; i++) {
    if (shardOf(enc.encode(`${prefix}${i}`), SHARDS) === shard) return `${prefix}${i}`;
  }
}

async function startApi(
  watch: Parameters<typeof createShardApiApp>[0]["watch"] = {},
  watchLeaderlessMs?: number,
) {
  const app = createShardApiApp({
    host,
    agent,
    limits,
    clock: systemClock,
    watch,
    ...(watchLeaderlessMs !== undefined && { watchLeaderlessMs }),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}` };
}

let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  ({ app, url } = await startApi({ maxWatchersPerClient: 4 }));
});
afterAll(async () => {
  // fetch keeps its connections alive; they would hold close() open.
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
});

async function watchOk(body: unknown) {
  const opened = await openShardWatch(url, body);
  expect(opened.status, JSON.stringify(opened.json)).toBe(200);
  const stream = opened.stream!;
  const created = await stream.next();
  expect(created?.event).toBe("created");
  return { stream, created: headerOf(created) };
}

describe("POST /v3/shard/watch", () => {
  it("a key's watch runs on its shard's replica here: created names the shard, events carry its revisions", async () => {
    const one = host_(1);
    const key = keyIn(1, "w/");
    const other = keyIn(1, "w/", Number(key.slice(2)) + 1);
    put(one, "before");
    const { stream, created } = await watchOk({ key: b64(key) });
    expect(created).toEqual({ revision: String(one.store.revision), shard: 1, epoch: EPOCH });
    const r1 = put(one, key, "a");
    put(one, other);
    const r2 = del(one, key);
    const e1 = await stream.nextEvent();
    expect(e1?.event).toBe("events");
    expect(e1?.id).toBe(String(r1));
    expect(dataOf(e1)).toMatchObject({
      header: { revision: String(r1) },
      events: [{ type: "PUT", kv: { key: b64(key), value: b64("a"), mod_revision: String(r1) } }],
    });
    const e2 = await stream.nextEvent();
    expect(dataOf(e2)).toMatchObject({
      header: { revision: String(r2) },
      events: [{ type: "DELETE", kv: { key: b64(key), mod_revision: String(r2) } }],
    });
    stream.close();
  });

  it("a range watch names its shard and hears only that shard's replica", async () => {
    const one = replicas.get(1)!;
    const two = host_(2);
    const { stream, created } = await watchOk({
      key: b64("p/"),
      range_end: b64("p0"),
      shard: 2,
      prev_kv: true,
      filters: ["NOPUT"],
    });
    expect(created).toMatchObject({ shard: 2, epoch: EPOCH });
    put(one, "p/one");
    del(one, "p/one");
    put(two, "p/two", "x");
    put(two, "q/outside");
    const deleted = del(two, "p/two");
    const e = await stream.nextEvent();
    expect(dataOf(e)).toEqual({
      header: { revision: String(deleted) },
      events: [
        {
          type: "DELETE",
          kv: { key: b64("p/two"), mod_revision: String(deleted) },
          prev_kv: expect.objectContaining({ key: b64("p/two"), value: b64("x") }),
        },
      ],
    });
    stream.close();
  });

  it("start_revision replays the shard's history; below its compaction point is etcd's compacted error", async () => {
    const one = replicas.get(1)!;
    const key = keyIn(1, "h/");
    const first = put(one, key, "1");
    const second = put(one, key, "2");
    const replay = await watchOk({ key: b64(key), start_revision: first });
    expect(headerOf(await replay.stream.nextEvent())).toEqual({ revision: String(first) });
    expect(headerOf(await replay.stream.nextEvent())).toEqual({ revision: String(second) });
    replay.stream.close();

    apply(one, { type: "compact", revision: second });
    const compacted = await watchOk({ key: b64(key), start_revision: first });
    const error = await compacted.stream.next();
    expect(error?.event).toBe("error");
    expect(dataOf(error)).toMatchObject({
      code: "KV_COMPACTED",
      compact_revision: String(second),
      shard: 1,
      epoch: EPOCH,
    });
    expect(await compacted.stream.next()).toBeUndefined();
    // The compaction point itself is still watchable, as in etcd.
    const at = await watchOk({ key: b64(key), start_revision: second });
    expect(headerOf(await at.stream.nextEvent())).toEqual({ revision: String(second) });
    at.stream.close();
  });

  it("a replica closed or opened anew ends its streams with REPLICA_CLOSED", async () => {
    const two = replicas.get(2)!;
    const key = keyIn(2, "c/");
    const { stream } = await watchOk({ key: b64(key) });
    const r = put(two, key);
    expect(headerOf(await stream.nextEvent())).toEqual({ revision: String(r) });
    replicas.delete(2);
    const end = await stream.nextEvent();
    expect(end?.event).toBe("error");
    expect(dataOf(end)).toMatchObject({ code: "REPLICA_CLOSED", shard: 2, epoch: EPOCH });
    expect(await stream.next()).toBeUndefined();
    // Now 421 here, as for the kv routes.
    const refused = await openShardWatch(url, { key: b64(key) });
    expect(refused.status).toBe(421);

    host_(2);
    const again = await watchOk({ key: b64(key) });
    host_(2); // closed, and a new replica opened under the same group
    const ended = await again.stream.nextEvent();
    expect(dataOf(ended)).toMatchObject({ code: "REPLICA_CLOSED", shard: 2 });
  });

  it("a replica that knows no leader for long ends its streams with NO_LEADER (require-leader)", async () => {
    const other = await startApi({}, 300);
    try {
      const one = host_(1);
      const key = keyIn(1, "nl/");
      const opened = await openShardWatch(other.url, { key: b64(key) });
      expect(opened.status).toBe(200);
      const stream = opened.stream!;
      expect((await stream.next())?.event).toBe("created");
      const r = put(one, key);
      expect(headerOf(await stream.nextEvent())).toEqual({ revision: String(r) });
      // Cut off from its group: no leader known from now on.
      one.lead = 0;
      const end = await stream.nextEvent();
      expect(end?.event).toBe("error");
      expect(dataOf(end)).toMatchObject({ code: "NO_LEADER", shard: 1, epoch: EPOCH });
      expect(await stream.next()).toBeUndefined();
      one.lead = 2;
    } finally {
      const closing = other.app.close();
      other.app.server.closeAllConnections();
      await closing;
    }
  });

  it("a shard this node holds no replica of is 421 WRONG_SHARD with its replicas", async () => {
    const key = keyIn(3, "elsewhere/");
    const r = await openShardWatch(url, { key: b64(key) });
    expect(r.status).toBe(421);
    expect(r.json).toEqual({
      code: "WRONG_SHARD",
      message: "node 1 holds no replica of shard 3",
      shard: 3,
      epoch: EPOCH,
      replicas: [
        { id: 2, client: "http://127.0.0.1:2" },
        { id: 3, client: "http://127.0.0.1:3" },
      ],
    });
    const range = await openShardWatch(url, { key: b64("a"), range_end: b64("\0"), shard: 4 });
    expect(range).toMatchObject({ status: 421, json: { code: "WRONG_SHARD", shard: 4 } });
  });

  it("bad input is a typed 4xx, never a stream", async () => {
    const k1 = keyIn(1, "bad/");
    const cases: [string, string, number, string][] = [
      ["no key", "{}", 400, "INVALID_ARGUMENT"],
      ["extra field", JSON.stringify({ key: b64(k1), bogus: 1 }), 400, "INVALID_ARGUMENT"],
      ["key a number", JSON.stringify({ key: 5 }), 400, "INVALID_ARGUMENT"],
      ["shard a string", JSON.stringify({ key: b64(k1), shard: "1" }), 400, "INVALID_ARGUMENT"],
      ["shard 0", JSON.stringify({ key: b64(k1), shard: 0 }), 400, "INVALID_ARGUMENT"],
      ["shard 1.5", JSON.stringify({ key: b64(k1), shard: 1.5 }), 400, "INVALID_ARGUMENT"],
      ["shard null", JSON.stringify({ key: b64(k1), shard: null }), 400, "INVALID_ARGUMENT"],
      ["unknown shard", JSON.stringify({ key: b64(k1), shard: SHARDS + 1 }), 400, "CROSS_SHARD"],
      ["huge shard", JSON.stringify({ key: b64(k1), shard: 1e9 }), 400, "INVALID_ARGUMENT"],
      ["key of another shard", JSON.stringify({ key: b64(k1), shard: 2 }), 400, "CROSS_SHARD"],
      [
        "range without shard",
        JSON.stringify({ key: b64("a"), range_end: b64("z") }),
        400,
        "CROSS_SHARD",
      ],
      [
        "negative start",
        JSON.stringify({ key: b64(k1), start_revision: -1 }),
        400,
        "INVALID_ARGUMENT",
      ],
      [
        "start a word",
        JSON.stringify({ key: b64(k1), start_revision: "x" }),
        400,
        "INVALID_ARGUMENT",
      ],
      ["unknown filter", JSON.stringify({ key: b64(k1), filters: ["X"] }), 400, "INVALID_ARGUMENT"],
      ["prev_kv a word", JSON.stringify({ key: b64(k1), prev_kv: "yes" }), 400, "INVALID_ARGUMENT"],
      [
        "gateway form",
        JSON.stringify({ create_request: { key: b64(k1) } }),
        400,
        "INVALID_ARGUMENT",
      ],
      ["key too large", JSON.stringify({ key: b64("k".repeat(2000)) }), 413, "KEY_TOO_LARGE"],
      ["an array", "[]", 400, "INVALID_ARGUMENT"],
    ];
    for (const [name, raw, status, code] of cases) {
      const r = await openShardWatchRaw(url, raw);
      r.stream?.close();
      expect({ name, status: r.status, code: r.json?.["code"] }).toEqual({ name, status, code });
    }
    for (const raw of ["{", '{"key":', "not json"]) {
      const r = await openShardWatchRaw(url, raw);
      expect({ raw, status: r.status }).toEqual({ raw, status: 400 });
      expect(typeof r.json?.["code"]).toBe("string");
    }
  });

  it("the unsharded server's watcher limit per client holds across every shard's streams", async () => {
    host_(1);
    host_(2);
    const open = [];
    for (const shard of [1, 2, 1, 2]) {
      open.push(await watchOk({ key: b64("l/"), range_end: b64("l0"), shard }));
    }
    const refused = await openShardWatch(url, { key: b64("l/"), range_end: b64("l0"), shard: 1 });
    expect(refused).toMatchObject({ status: 429, json: { code: "TOO_MANY_WATCHERS" } });
    // One stream ends (its replica closed): its place is free again.
    host_(2);
    expect(dataOf(await open[1]!.stream.nextEvent())).toMatchObject({ code: "REPLICA_CLOSED" });
    let again = await openShardWatch(url, { key: b64("l/"), range_end: b64("l0"), shard: 1 });
    for (let i = 0; again.status === 429 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await openShardWatch(url, { key: b64("l/"), range_end: b64("l0"), shard: 1 });
    }
    expect(again.status).toBe(200);
    again.stream?.close();
    for (const o of open) o.stream.close();
  });

  it("closing the server ends every stream with SERVER_CLOSING", async () => {
    host_(1);
    const own = await startApi();
    const opened = await openShardWatch(own.url, { key: b64(keyIn(1, "s/")) });
    expect(opened.status).toBe(200);
    expect((await opened.stream!.next())?.event).toBe("created");
    const closing = own.app.close();
    const end = await opened.stream!.nextEvent();
    expect(dataOf(end)).toMatchObject({ code: "SERVER_CLOSING", shard: 1 });
    await closing;
  });
});
