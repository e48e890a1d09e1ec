/**
 * The sharded tier as processes on this machine: `conclave serve --shards`
 * nodes on loopback, writers running through the SDK's ShardedClient, then
 * the node running the controller is killed with SIGKILL (every shard must
 * be back to R replicas on live nodes without anyone acting), then a new
 * node joins (shards move to it; the moved replicas are compared with its
 * fair share). Every acknowledged write is read back at the end.
 *
 * The short form runs in the test suite (test/shard/process/); the full
 * form is `npm run bench -- shards`.
 */
import { ShardedClient } from "../../src/client/sharded/index.js";
import { ServeCluster } from "../../test/server/process/serve-cluster.js";

export interface RealShardOptions {
  readonly nodes: number;
  readonly shards: number;
  readonly writers: number;
  /** How long a node may be silent before its replicas are replaced. */
  readonly failureTimeoutMs: number;
  readonly maxMoving: number;
  /** Load before the kill, ms. */
  readonly warmupMs: number;
  /** Each wait (placement settled) gives up after this long. */
  readonly settleTimeoutMs: number;
  readonly log?: (line: string) => void;
}

export interface ShardStatus {
  readonly controller: number;
  readonly nodes: readonly {
    id: number;
    live: boolean;
    draining: boolean;
    replicas: number;
    leaders: number;
  }[];
  readonly groups: readonly {
    group: number;
    epoch: number;
    target: number[];
    voters: number[];
    learners: number[];
    leader: number;
    settled: boolean;
  }[];
}

export interface RealShardResult {
  readonly nodes: number;
  readonly shards: number;
  readonly writes: {
    acknowledged: number;
    failed: number;
    perSecond: number;
    /** Why writes failed (the first few distinct messages). */
    failures: string[];
  };
  /** Acknowledged writes not read back with their value at the end: must be 0. */
  readonly lostWrites: number;
  readonly kill: {
    readonly node: number;
    readonly wasController: boolean;
    /** Replicas the killed node held (each had to be re-created elsewhere). */
    readonly replicasLost: number;
    /** From the kill until every group had R voters on live nodes again. */
    readonly reReplicatedMs: number;
    /** The slowest acknowledged write of the run (the kill's unavailability shows here). */
    readonly slowestWriteMs: number;
  };
  readonly join: {
    readonly node: number;
    /** Replicas whose target changed (each a copy of one shard). */
    readonly replicasMoved: number;
    /** Its fair share: replicas / nodes. */
    readonly idealReplicas: number;
    readonly movedOverIdeal: number;
    /** Moves that did not land on the new node (the planner should make none). */
    readonly movedElsewhere: number;
    readonly settledMs: number;
  };
  /** Every group back to R voters after both events. */
  readonly fullyReplicated: boolean;
}

export async function runRealShardScenario(o: RealShardOptions): Promise<RealShardResult> {
  const log = o.log ?? (() => {});
  const cluster = new ServeCluster({
    size: o.nodes,
    heartbeatMs: 50,
    electionMs: 500,
    requestTimeoutMs: 3000,
    extraArgs: [
      "--shards",
      String(o.shards),
      "--shard-failure-timeout-ms",
      String(o.failureTimeoutMs),
      "--shard-max-moving",
      String(o.maxMoving),
      "--snapshot-every-entries",
      "500",
    ],
  });
  let client: ShardedClient | undefined;
  let stop = false;
  try {
    await cluster.start();
    log(`${o.nodes} nodes started, ${o.shards} shards`);
    const status = (among: readonly number[]) => controllerStatus(cluster, among);
    const live = () => cluster.ids.filter((id) => cluster.isRunning(id));
    await waitUntil(
      async () => {
        const s = await status(live());
        return s !== undefined && settled(s, live(), 3) ? s : undefined;
      },
      "the founding placement to settle",
      o.settleTimeoutMs,
    );
    client = new ShardedClient({
      endpoints: cluster.ids.map((id) => cluster.member(id).clientUrl),
      requestTimeoutMs: 15_000,
      // Bounded by the timeout: a shard that moves or loses its leader is waited out.
      maxAttempts: 1000,
    });
    const c = client;
    const acked = new Map<string, string>();
    let failed = 0;
    const failures = new Set<string>();
    let slowestWriteMs = 0;
    const loadStart = Date.now();
    const writers = Array.from({ length: o.writers }, async (_, w) => {
      for (let seq = 0; !stop; seq++) {
        const key = `w${w}-${seq}`;
        const value = `v${w}.${seq}`;
        const started = Date.now();
        try {
          await c.put(key, value);
          acked.set(key, value);
          slowestWriteMs = Math.max(slowestWriteMs, Date.now() - started);
        } catch (err) {
          failed++;
          if (failures.size < 5) failures.add((err as Error).message);
        }
      }
    });

    await new Promise((r) => setTimeout(r, o.warmupMs));
    const before = await status(live());
    if (before === undefined) throw new Error("no controller before the kill");
    const victim = before.controller;
    const replicasLost = before.nodes.find((n) => n.id === victim)?.replicas ?? 0;
    log(`kill -9 node ${victim} (the controller), which holds ${replicasLost} replicas`);
    const killedAt = Date.now();
    await cluster.kill(victim);
    let last: ShardStatus | undefined;
    const detail = async () => {
      const open = new Set(last?.groups.filter((g) => !g.settled).map((g) => g.group) ?? []);
      const seen: string[] = [];
      for (const id of live()) {
        try {
          const res = await fetch(`${cluster.member(id).clientUrl}/v3/shard/replicas`);
          const body = (await res.json()) as { replicas: { group: number }[] };
          for (const r of body.replicas)
            if (open.has(r.group)) seen.push(`n${id}: ${JSON.stringify(r)}`);
        } catch {
          seen.push(`n${id}: no answer`);
        }
      }
      return `${describe(last)}\n${seen.join("\n")}`;
    };
    const afterKill = await waitUntil(
      async () => {
        const s = await status(live());
        if (s === undefined) return undefined;
        last = s;
        const ok = settled(s, live(), 3) && s.groups.every((g) => !g.target.includes(victim));
        return ok ? s : undefined;
      },
      "every shard back to 3 replicas on live nodes",
      o.settleTimeoutMs,
      detail,
    );
    const reReplicatedMs = Date.now() - killedAt;
    log(`re-replicated in ${reReplicatedMs} ms`);

    const joiner = await cluster.plan();
    const joinedAt = Date.now();
    await cluster.restart(joiner.id);
    log(`node ${joiner.id} joins`);
    const afterJoin = await waitUntil(
      async () => {
        const s = await status(live());
        if (s === undefined) return undefined;
        last = s;
        const held = s.nodes.find((n) => n.id === joiner.id)?.replicas ?? 0;
        return held > 0 && settled(s, live(), 3) ? s : undefined;
      },
      "shards moved to the new node and settled",
      o.settleTimeoutMs,
      detail,
    );
    const settledMs = Date.now() - joinedAt;
    stop = true;
    await Promise.all(writers);
    const loadMs = Date.now() - loadStart;

    const targetsBefore = new Map(afterKill.groups.map((g) => [g.group, g.target]));
    let moved = 0;
    let elsewhere = 0;
    for (const g of afterJoin.groups) {
      for (const n of g.target) {
        if (targetsBefore.get(g.group)?.includes(n)) continue;
        moved++;
        if (n !== joiner.id) elsewhere++;
      }
    }
    const totalReplicas = afterJoin.groups.reduce((n, g) => n + g.target.length, 0);
    const ideal = totalReplicas / live().length;

    let lost = 0;
    for (const [key, value] of acked) {
      const kv = await c.get(key);
      if (kv === undefined || new TextDecoder().decode(kv.value) !== value) lost++;
    }
    return {
      nodes: o.nodes,
      shards: o.shards,
      writes: {
        acknowledged: acked.size,
        failed,
        perSecond: Math.round((acked.size / loadMs) * 1000),
        failures: [...failures],
      },
      lostWrites: lost,
      kill: {
        node: victim,
        wasController: true,
        replicasLost,
        reReplicatedMs,
        slowestWriteMs,
      },
      join: {
        node: joiner.id,
        replicasMoved: moved,
        idealReplicas: Math.round(ideal * 10) / 10,
        movedOverIdeal: Math.round((moved / ideal) * 1000) / 1000,
        movedElsewhere: elsewhere,
        settledMs,
      },
      fullyReplicated: settled(afterJoin, live(), 3),
    };
  } catch (err) {
    log(cluster.logs().slice(-20_000));
    throw err;
  } finally {
    stop = true;
    client?.close();
    await cluster.destroy();
  }
}

/** Every group's leader reports exactly its target of `r` live nodes as voters. */
function settled(s: ShardStatus, live: readonly number[], r: number): boolean {
  const up = new Set(live);
  const want = Math.min(r, live.length);
  return s.groups.every(
    (g) => g.settled && g.target.length === want && g.target.every((n) => up.has(n)),
  );
}

/** The controller's status, asked of any live node (a non-controller says where it runs). */
export async function controllerStatus(
  cluster: ServeCluster,
  among: readonly number[],
): Promise<ShardStatus | undefined> {
  for (const id of among) {
    try {
      let res = await fetch(`${cluster.member(id).clientUrl}/v3/shard/status`, {
        signal: AbortSignal.timeout(2000),
      });
      if (res.status === 421) {
        const body = (await res.json()) as { controllerUrl?: string };
        if (body.controllerUrl === undefined) continue;
        res = await fetch(`${body.controllerUrl}/v3/shard/status`, {
          signal: AbortSignal.timeout(2000),
        });
      }
      if (res.ok) return (await res.json()) as ShardStatus;
    } catch {
      // That node is down or slow: ask the next.
    }
  }
  return undefined;
}

/** The groups not settled, for an error. */
function describe(s: ShardStatus | undefined): string {
  if (s === undefined) return "no status";
  const loads = s.nodes.map(
    (n) => `n${n.id}${n.live ? "" : "(down)"}:${n.replicas}r/${n.leaders}l`,
  );
  const open = s.groups
    .filter((g) => !g.settled)
    .slice(0, 6)
    .map(
      (g) =>
        `g${g.group} target ${g.target} voters ${g.voters} learners ${g.learners} leader ${g.leader}`,
    );
  return `controller ${s.controller}; ${loads.join(" ")}; unsettled: ${open.join("; ")}`;
}

async function waitUntil<T>(
  f: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  detail: () => Promise<string> = async () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${await detail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
