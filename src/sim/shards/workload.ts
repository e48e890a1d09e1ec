/**
 * Clients of the sharded tier in the simulator: puts, deletes and
 * linearizable gets on keys spread over every shard, each sent to the node
 * the client believes leads the key's shard (a shard's replica answers
 * NotLeader with its hint; a node without the shard is skipped), retried
 * with the same request id until its deadline. What they saw is checked for
 * per-key linearizability across every move of every shard.
 */

import type { KvReplica } from "../../kv/index.js";
import { KvError } from "../../kv/index.js";
import { NotLeaderError } from "../../raft/core/errors.js";
import type { Xoshiro128 } from "../../raft/core/prng.js";
import type { NodeId } from "../../raft/core/types.js";
import { shardOf } from "../../shard/keys.js";
import type { GroupId } from "../../shard/types.js";
import type { KvInput, KvOperation, KvOutput } from "../lincheck/kv-model.js";
import type { ShardSim, SimShardNode } from "./cluster.js";

export interface ShardWorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  readonly attemptTimeoutMs: number;
  readonly opDeadlineMs: number;
  readonly thinkMs: number;
}

type Attempt<T> = { ok: T } | { failed: Error } | undefined;

export class ShardWorkload {
  readonly history: KvOperation[] = [];
  private stopped = false;
  private running = 0;
  /** Clients start no operation before this virtual time (a quiet spell). */
  private pausedUntil = 0;
  private readonly leaders = new Map<number, Map<GroupId, NodeId>>();

  constructor(
    private readonly sim: ShardSim,
    private readonly random: Xoshiro128,
    private readonly opts: ShardWorkloadOptions,
  ) {}

  start(): void {
    for (let i = 1; i <= this.opts.clients; i++) void this.track(this.client(i));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Clients start no new operation for `ms` (operations in flight go on): groups fall idle. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.sim.now + ms);
  }

  get idle(): boolean {
    return this.running === 0;
  }

  /** Operations that returned (acknowledged). */
  get acknowledged(): number {
    return this.history.filter((o) => o.ret !== undefined).length;
  }

  private async track(p: Promise<void>): Promise<void> {
    this.running++;
    try {
      await p;
    } finally {
      this.running--;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sim.scheduler.after(ms, resolve));
  }

  private async client(id: number): Promise<void> {
    let seq = 0;
    while (!this.stopped) {
      await this.sleep(this.random.float() * this.opts.thinkMs);
      while (this.sim.now < this.pausedUntil && !this.stopped) {
        await this.sleep(this.pausedUntil - this.sim.now);
      }
      if (this.stopped) return;
      const key = this.opts.keys[this.random.int(this.opts.keys.length)] as string;
      const roll = this.random.float();
      seq++;
      if (roll < 0.4) await this.op(id, { op: "get", key }, undefined);
      else if (roll < 0.9) {
        await this.op(id, { op: "put", key, value: `${id}.${seq}` }, `c${id}-${seq}`);
      } else await this.op(id, { op: "delete", key }, `c${id}-${seq}`);
    }
  }

  /** After the run: one more client reads every key, so a lost acknowledged write shows. */
  async finalReads(): Promise<void> {
    const keys = [...new Set(this.history.map((o) => o.input.key))].sort();
    for (const key of keys) await this.op(this.opts.clients + 1, { op: "get", key }, undefined);
  }

  private async op(clientId: number, input: KvInput, requestId: string | undefined): Promise<void> {
    const call = this.sim.now;
    const outcome = await this.call(clientId, input.key, (kv) => run(kv, input, requestId));
    if (outcome === undefined) {
      // Abandoned: a write may or may not have happened; a read constrains nothing.
      if (input.op !== "get") this.history.push({ clientId, input, call });
      return;
    }
    if ("failed" in outcome) {
      this.sim.violation ??= new Error(`a client request was refused: ${outcome.failed.message}`);
      return;
    }
    this.history.push({ clientId, input, call, output: outcome.ok, ret: this.sim.now });
  }

  private async call<T>(
    clientId: number,
    key: string,
    run: (kv: KvReplica) => Promise<T>,
  ): Promise<Attempt<T>> {
    const group = shardOf(encoder.encode(key), this.sim.opts.shardCount);
    let hints = this.leaders.get(clientId);
    if (hints === undefined) {
      hints = new Map();
      this.leaders.set(clientId, hints);
    }
    const deadline = this.sim.now + this.opts.opDeadlineMs;
    while (this.sim.now < deadline) {
      const node = this.pick(hints.get(group));
      if (node === undefined) {
        await this.sleep(20);
        continue;
      }
      const answer = await this.attempt(node, group, run);
      if (answer !== undefined && "ok" in answer) {
        hints.set(group, node.id);
        return answer;
      }
      const err = answer === undefined ? undefined : answer.failed;
      if (err instanceof KvError) return answer;
      if (err instanceof NotLeaderError && err.leaderHint !== 0) {
        hints.set(group, err.leaderHint);
        await this.sleep(1);
      } else {
        hints.delete(group);
        await this.sleep(5 + this.random.float() * 20);
      }
    }
    return undefined;
  }

  /** One attempt at one node, in its process; a node without the shard answers NotLeader(0). */
  private attempt<T>(
    node: SimShardNode,
    group: GroupId,
    run: (kv: KvReplica) => Promise<T>,
  ): Promise<Attempt<T>> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v: Attempt<T>) => {
        if (settled) return;
        settled = true;
        cancel();
        resolve(v);
      };
      const cancel = this.sim.scheduler.timer(this.opts.attemptTimeoutMs, () => settle(undefined));
      const running = node.up ? node.running : undefined;
      if (running === undefined) return settle(undefined);
      running.process.run(() => {
        const replica = running.host.get(group);
        if (replica === undefined) return settle({ failed: new NotLeaderError(0) });
        run(replica.kv).then(
          (ok) => settle({ ok }),
          (failed: Error) => settle({ failed }),
        );
      });
    });
  }

  private pick(hint: NodeId | undefined): SimShardNode | undefined {
    const known = hint === undefined ? undefined : this.sim.nodes.get(hint);
    if (known?.up === true && this.random.float() < 0.8) return known;
    const up = [...this.sim.nodes.values()].filter((n) => n.up);
    return up.length === 0 ? undefined : up[this.random.int(up.length)];
  }
}

async function run(
  kv: KvReplica,
  input: KvInput,
  requestId: string | undefined,
): Promise<KvOutput> {
  switch (input.op) {
    case "get": {
      const res = await kv.read(false, (store) => store.range({ key: encoder.encode(input.key) }));
      const found = res.kvs[0];
      return { value: found === undefined ? null : decoder.decode(found.value) };
    }
    case "put":
      await kv.write(
        { type: "put", key: encoder.encode(input.key), value: encoder.encode(input.value) },
        requestId,
      );
      return {};
    case "delete": {
      const res = await kv.write(
        { type: "deleteRange", key: encoder.encode(input.key) },
        requestId,
      );
      return { existed: res.deleted > 0 };
    }
    case "cas":
      throw new Error("the shard workload sends no cas");
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
