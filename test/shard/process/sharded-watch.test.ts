/**
 * Watches across shards against real `conclave serve --shards` processes:
 * 4 nodes, 4 shards of 3 replicas, so a node can be killed with every shard
 * keeping a quorum, and a replica can be moved to the one node without it.
 * The SDK's prefix watch must deliver every change exactly once, at its
 * shard's revision, through a replica moving away and a node being killed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ShardedClient,
  type ShardWatchBatch,
  type ShardWatchStream,
  shardOf,
} from "../../../src/client/sharded/index.js";
import { ServeCluster } from "../../server/process/serve-cluster.js";
import { dataOf, headerOf, openShardWatch, openShardWatchRaw } from "../shard-watch-http.js";

const SHARDS = 4;
const REPLICATION = 3;
const SETTLE_MS = 30_000;

interface GroupStatus {
  readonly group: number;
  readonly epoch: number;
  readonly target: number[];
  readonly voters: number[];
  readonly leader: number;
  readonly settled: boolean;
}

interface Status {
  readonly controller: number;
  readonly nodes: { id: number; live: boolean; replicas: number }[];
  readonly groups: GroupStatus[];
}

const cluster = new ServeCluster({
  size: 4,
  heartbeatMs: 50,
  electionMs: 500,
  requestTimeoutMs: 3000,
  extraArgs: [
    "--shards",
    String(SHARDS),
    "--replication",
    String(REPLICATION),
    // Long enough that the kill below is an outage, not a re-placement.
    "--shard-failure-timeout-ms",
    "60000",
  ],
});
let client: ShardedClient;

const enc = new TextEncoder();
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const url = (id: number) => cluster.member(id).clientUrl;
const idOf = (endpoint: string) => cluster.ids.find((id) => url(id) === endpoint);
const shardOfKey = (key: string) => shardOf(enc.encode(key), SHARDS);

async function status(): Promise<Status | undefined> {
  for (const id of cluster.ids.filter((i) => cluster.isRunning(i))) {
    try {
      const res = await fetch(`${url(id)}/v3/shard/status`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return (await res.json()) as Status;
    } catch {
      // Ask the next node.
    }
  }
  return undefined;
}

function settled(what: string, also: (s: Status) => boolean = () => true): Promise<Status> {
  return cluster.waitFor(
    async () => {
      const s = await status();
      const ok =
        s !== undefined &&
        s.groups.length === SHARDS + 1 &&
        s.groups.every((g) => g.settled && g.leader !== 0 && g.target.length === REPLICATION) &&
        also(s);
      return ok ? s : undefined;
    },
    what,
    SETTLE_MS,
  );
}

/** A write the watch must deliver: its shard, that shard's revision, the key and what happened. */
interface Change {
  readonly shard: number;
  readonly revision: number;
  readonly key: string;
  readonly type: "put" | "delete";
}

const id = (c: Change) => `${c.shard}@${c.revision} ${c.type} ${c.key}`;

/**
 * Reads `w` in the background; `until(n)` waits for n changes. Records
 * every change delivered, in order, with the revisions seen per shard.
 */
function collect(w: ShardWatchStream) {
  const changes: Change[] = [];
  const batches: ShardWatchBatch[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const batch of w) {
        batches.push(batch);
        for (const e of batch.events) {
          changes.push({
            shard: batch.shard,
            revision: batch.revision,
            key: e.kv.keyString,
            type: e.type,
          });
        }
      }
    } catch (error) {
      failure = error;
    }
  })();
  return {
    changes,
    batches,
    done,
    until: (count: number, timeoutMs = 20_000) =>
      cluster.waitFor(
        async () => {
          if (failure !== undefined) throw failure;
          return changes.length >= count ? changes : undefined;
        },
        `${count} changes (have ${changes.length})`,
        timeoutMs,
      ),
  };
}

/** Every shard's revisions strictly increase in the order delivered; no change twice. */
function expectExactlyOnce(delivered: readonly Change[], written: readonly Change[]): void {
  const last = new Map<number, number>();
  for (const c of delivered) {
    expect(c.revision, `shard ${c.shard} went back`).toBeGreaterThanOrEqual(last.get(c.shard) ?? 0);
    last.set(c.shard, c.revision);
  }
  const sorted = (cs: readonly Change[]) => cs.map(id).sort();
  expect(sorted(delivered)).toEqual(sorted(written));
}

async function write(key: string, value: string): Promise<Change> {
  const r = await client.put(key, value);
  return { shard: r.shard, revision: r.revision, key, type: "put" };
}

async function remove(key: string): Promise<Change> {
  const r = await client.delete(key);
  expect(r.deleted).toBe(1);
  return { shard: r.shard, revision: r.revision, key, type: "delete" };
}

beforeAll(async () => {
  try {
    await cluster.start();
    await settled("the founding placement to settle");
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${cluster.logs().slice(-20_000)}`);
  }
  client = new ShardedClient({
    endpoints: cluster.ids.map(url),
    requestTimeoutMs: 15_000,
    maxAttempts: 100,
    backoff: { baseMs: 20, maxMs: 200 },
    random: () => 0.5,
  });
}, 60_000);

afterAll(async () => {
  client?.close();
  await cluster.destroy();
}, 30_000);

describe("watches across shards, real processes", () => {
  it("a prefix watch over every shard sees each put and delete once, at its shard's revision", async () => {
    const w = client.watch("pw/", { prefix: true, prevKv: true });
    const ready = await w.ready;
    expect([...ready.keys()]).toEqual([1, 2, 3, 4]);
    const seen = collect(w);
    const keys = Array.from({ length: 16 }, (_, i) => `pw/${String(i).padStart(2, "0")}`);
    expect(new Set(keys.map(shardOfKey)).size).toBe(SHARDS);
    const written: Change[] = [];
    for (const k of keys) written.push(await write(k, `v-${k}`));
    await client.put("pw0", "outside the prefix");
    for (const k of keys.filter((_, i) => i % 3 === 0)) written.push(await remove(k));
    for (const c of written) expect(c.revision).toBeGreaterThan(ready.get(c.shard) ?? 0);
    await seen.until(written.length);
    expectExactlyOnce(seen.changes, written);
    // A delete carries the value it removed (prevKv).
    const deletes = seen.batches.flatMap((b) => b.events.filter((e) => e.type === "delete"));
    for (const e of deletes) {
      expect(Buffer.from(e.prevKv?.value ?? []).toString()).toBe(`v-${e.kv.keyString}`);
    }
    // A key's own watch is one shard's.
    const key = keys[1] as string;
    const one = client.watch(key);
    expect([...(await one.ready).keys()]).toEqual([shardOfKey(key)]);
    const single = collect(one);
    const change = await write(key, "again");
    await single.until(1);
    expect(single.changes).toEqual([change]);
    one.cancel();
    // The prefix watch sees it too, once.
    written.push(change);
    await seen.until(written.length);
    w.cancel();
    await seen.done;
    expectExactlyOnce(seen.changes, written);
  });

  it("bad input is a typed 4xx on a real node, never a 500 or a hang", async () => {
    const key = b64("bad/k");
    const cases: [string, unknown, number, string][] = [
      ["unknown shard", { key, shard: SHARDS + 1 }, 400, "CROSS_SHARD"],
      ["shard a string", { key, shard: "1" }, 400, "INVALID_ARGUMENT"],
      ["extra field", { key, bogus: true }, 400, "INVALID_ARGUMENT"],
      ["range without shard", { key, range_end: b64("\0") }, 400, "CROSS_SHARD"],
      ["start a word", { key, start_revision: "soon" }, 400, "INVALID_ARGUMENT"],
      ["no key", { shard: 1 }, 400, "INVALID_ARGUMENT"],
    ];
    for (const [name, body, statusCode, code] of cases) {
      const r = await openShardWatch(url(1), body);
      r.stream?.close();
      expect({ name, status: r.status, code: r.json?.["code"] }).toEqual({
        name,
        status: statusCode,
        code,
      });
    }
    const malformed = await openShardWatchRaw(url(2), "{");
    expect(malformed.status).toBe(400);
  });

  it("a replica moved away ends its streams with REPLICA_CLOSED; the SDK's watch carries on elsewhere", async () => {
    const s = await settled("placement settled");
    // A move the planner keeps: from a node over its share to the one under it.
    const load = (n: number) => s.nodes.find((x) => x.id === n)?.replicas ?? 0;
    const g = s.groups.find((x) => {
      if (x.group === 0) return false;
      const to = cluster.ids.find((n) => !x.target.includes(n)) as number;
      return x.target.some((n) => load(n) > load(to));
    }) as GroupStatus;
    const to = cluster.ids.find((n) => !g.target.includes(n)) as number;
    const from = [...g.target].sort((a, b) => load(b) - load(a))[0] as number;
    const raw = await openShardWatch(url(from), {
      key: b64("mv/"),
      range_end: b64("mv0"),
      shard: g.group,
    });
    expect(raw.status).toBe(200);
    expect(headerOf(await raw.stream?.next())).toMatchObject({ shard: g.group, epoch: g.epoch });
    const w = client.watch("mv/", { prefix: true });
    await w.ready;
    const seen = collect(w);
    const keys = Array.from({ length: 40 }, (_, i) => `mv/${i}`);
    const inGroup = keys.filter((k) => shardOfKey(k) === g.group);
    expect(inGroup.length).toBeGreaterThan(2);
    const written: Change[] = [];
    written.push(await write(inGroup[0] as string, "before"));

    const moved = await fetch(`${url(s.controller)}/v3/shard/move`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ group: g.group, from, to }),
    });
    expect(moved.status, await moved.clone().text()).toBe(200);
    // Writes while the replica moves, to every shard.
    for (const k of keys.slice(0, 20)) written.push(await write(k, "during"));
    await settled(`group ${g.group} moved to node ${to}`, (x) => {
      const h = x.groups.find((y) => y.group === g.group);
      return h?.target.includes(to) === true && !h.voters.includes(from);
    });
    // The raw stream on the old holder ends with REPLICA_CLOSED once its replica is deleted.
    let end = await raw.stream?.nextEvent(20_000);
    while (end?.event === "events") end = await raw.stream?.nextEvent(20_000);
    expect(end?.event).toBe("error");
    expect(dataOf(end)).toMatchObject({ code: "REPLICA_CLOSED", shard: g.group });
    expect(await raw.stream?.next()).toBeUndefined();
    for (const k of keys.slice(20)) written.push(await write(k, "after"));
    await seen.until(written.length);
    expectExactlyOnce(seen.changes, written);
    expect([...w.servedBy.values()].map(idOf)).not.toContain(undefined);
    w.cancel();
  }, 60_000);

  it("kill -9 of the node serving the streams: the watch resumes on other replicas, nothing lost or repeated", async () => {
    await settled("placement settled");
    // Its streams wait 3 s before they reconnect, so the writes below land in
    // the gap: a watch that resumed from "now" instead of its last revision + 1 would miss them.
    const slow = new ShardedClient({
      endpoints: cluster.ids.map(url),
      requestTimeoutMs: 15_000,
      maxAttempts: 100,
      backoff: { baseMs: 6000, maxMs: 6000 },
      random: () => 0.5,
    });
    const w = slow.watch("kill/", { prefix: true });
    await w.ready;
    const seen = collect(w);
    const keys = Array.from({ length: 24 }, (_, i) => `kill/${i}`);
    const written: Change[] = [];
    for (const k of keys.slice(0, 8)) written.push(await write(k, "before"));
    await seen.until(written.length);
    // The node serving the most shards' streams.
    const counts = new Map<number, number>();
    for (const endpoint of w.servedBy.values()) {
      const n = idOf(endpoint) as number;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    const [victim] = [...counts].sort((a, b) => b[1] - a[1])[0] as [number, number];
    const servedThere = [...w.servedBy].filter(([, e]) => idOf(e) === victim).map(([s]) => s);
    expect(servedThere.length).toBeGreaterThan(0);
    await cluster.kill(victim);
    await cluster.waitFor(
      async () => (servedThere.every((shard) => !w.servedBy.has(shard)) ? true : undefined),
      `the streams on node ${victim} to end`,
      5000,
    );
    // Written while the node is down and those shards' streams wait to reconnect
    // (the shards the node led elect new leaders meanwhile).
    for (const k of keys.slice(8)) written.push(await write(k, "while down"));
    for (const k of keys.slice(0, 4)) written.push(await remove(k));
    await seen.until(written.length);
    expectExactlyOnce(seen.changes, written);
    for (const shard of servedThere) {
      const endpoint = w.servedBy.get(shard);
      if (endpoint !== undefined) expect(idOf(endpoint)).not.toBe(victim);
    }
    // Nothing more arrives: no change was delivered twice after the streams settled.
    const before = seen.changes.length;
    await client.put("kill0", "outside");
    const marker = await write("kill/marker", "last");
    await seen.until(before + 1);
    expect(seen.changes.at(-1)).toEqual(marker);
    expect(seen.changes).toHaveLength(before + 1);
    w.cancel();
    slow.close();
  }, 60_000);
});
