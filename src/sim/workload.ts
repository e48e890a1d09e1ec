import { KvError, type KvReplica, LeaseNotFoundError } from "../kv/index.js";
import { NotLeaderError } from "../raft/core/errors.js";
import type { Xoshiro128 } from "../raft/core/prng.js";
import type { NodeId } from "../raft/core/types.js";
import type { Cluster } from "./cluster.js";
import type { KeyspaceInput, KeyspaceOutput, ObservedKey } from "./lincheck/keyspace-model.js";
import { keyspaceModel } from "./lincheck/keyspace-model.js";
import type { Operation } from "./lincheck/types.js";
import type { SimMember } from "./member.js";

export interface WorkloadOptions {
  readonly clients: number;
  /** Clients that hold a lease on a key of their own, keep it alive, then revoke it or let it expire. */
  readonly leaseClients: number;
  readonly keys: readonly string[];
  /** One attempt (at one member) waits this long before the client tries elsewhere. */
  readonly attemptTimeoutMs: number;
  /** An operation not done by then is abandoned: its outcome is unknown. */
  readonly opDeadlineMs: number;
  /** Pause between a client's operations. */
  readonly thinkMs: number;
  readonly leaseTtlMs: number;
  readonly keepAliveEveryMs: number;
}

/** A completed operation's revision, for the real-time order of revisions. */
export interface RevisionSeen {
  readonly call: number;
  readonly ret: number;
  readonly revision: number;
  /** A write that created a revision (it must be above every revision seen before it was called). */
  readonly wrote: boolean;
}

/** What a lease client did with one lease, for the lease checks. */
export interface LeaseRecord {
  readonly id: number;
  readonly ttlMs: number;
  /** Call times of the grant and of every keep-alive that was acknowledged. */
  readonly acknowledged: number[];
  /** The client asked for a revoke (its outcome aside): expiry rules no longer apply. */
  revokeRequested: boolean;
}

type Output = KeyspaceOutput;
type Outcome<T> = { readonly ok: T } | { readonly failed: Error } | undefined;

class Client {
  seq = 0;
  knownLeader: NodeId | undefined;
  /** The mod revision this client last saw per key (0: absent), for its compare-and-sets. */
  readonly lastMod = new Map<string, number>();
  constructor(readonly id: number) {}
}

/**
 * Clients of the shipped request envelope (KvReplica: the path the HTTP API
 * takes): puts, linearizable gets, deletes, compare-and-sets as txns, and
 * leases granted, kept alive, revoked or left to expire. Each write carries
 * a request id kept across its retries, so a retry after a lost answer must
 * be answered from the idempotency window, never applied twice. Everything
 * seen is recorded for the linearizability checker and the lease checks.
 */
export class Workload {
  readonly history: Operation<KeyspaceInput, Output>[] = [];
  readonly revisions: RevisionSeen[] = [];
  readonly leases: LeaseRecord[] = [];
  /** Operations abandoned at their deadline. */
  readonly abandoned: { clientId: number; input: KeyspaceInput; call: number }[] = [];
  private stopped = false;
  private running = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: Xoshiro128,
    private readonly opts: WorkloadOptions,
  ) {}

  start(): void {
    for (let i = 1; i <= this.opts.clients; i++) void this.track(this.kvClient(new Client(i)));
    for (let i = 1; i <= this.opts.leaseClients; i++) {
      void this.track(this.leaseClient(new Client(this.opts.clients + i)));
    }
  }

  /** Stops issuing new operations (pending ones still finish or expire). */
  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return this.running === 0;
  }

  get completed(): number {
    return this.history.filter((o) => o.ret !== undefined).length;
  }

  private get now(): number {
    return this.cluster.now;
  }

  private async track(client: Promise<void>): Promise<void> {
    this.running++;
    try {
      await client;
    } finally {
      this.running--;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.cluster.scheduler.after(ms, resolve));
  }

  private async kvClient(c: Client): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.random.float() * this.opts.thinkMs);
      if (this.stopped) return;
      const key = this.opts.keys[this.random.int(this.opts.keys.length)]!;
      const value = `${c.id}.${++c.seq}`;
      const roll = this.random.float();
      if (roll < 0.35) await this.get(c, key);
      else if (roll < 0.65) await this.put(c, key, value, 0);
      else if (roll < 0.85) await this.cas(c, key, value);
      else await this.remove(c, key);
    }
  }

  private async leaseClient(c: Client): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      await this.sleep(this.random.float() * this.opts.thinkMs);
      if (this.stopped) return;
      const key = `lease-${c.id}-${++n}`;
      const grantCall = this.now;
      const granted = await this.call(c, `c${c.id}-g${n}`, (r, id) =>
        r.write({ type: "leaseGrant", ttlMs: this.opts.leaseTtlMs }, id),
      );
      if (granted === undefined || "failed" in granted) continue;
      const lease: LeaseRecord = {
        id: granted.ok.id,
        ttlMs: this.opts.leaseTtlMs,
        acknowledged: [grantCall],
        revokeRequested: false,
      };
      this.leases.push(lease);
      c.seq++;
      await this.put(c, key, `${c.id}.${n}`, lease.id);
      const keepAlives = 1 + this.random.int(6);
      let alive = true;
      for (let k = 0; k < keepAlives && alive && !this.stopped; k++) {
        // Up to twice the period: a renewal longer after a checkpoint than the
        // takeover grace is what a stale checkpoint would cut short.
        await this.sleep(this.opts.keepAliveEveryMs * (1 + this.random.float()));
        const call = this.now;
        // Renewed in the leader's memory, with no log entry and no request id.
        const kept = await this.call(c, undefined, (r) => r.keepAlive(lease.id));
        if (kept !== undefined && "ok" in kept) lease.acknowledged.push(call);
        if (kept !== undefined && "failed" in kept) alive = false;
        if (this.random.float() < 0.5) await this.get(c, key);
      }
      if (alive && this.random.float() < 0.5) {
        lease.revokeRequested = true;
        await this.record(c, { op: "revoke", key }, `c${c.id}-r${n}`, async (r, id) => {
          try {
            const res = await r.write({ type: "leaseRevoke", id: lease.id }, id);
            // Revokes stay out of the revision-order check (revision 0).
            return {
              output: { deleted: res.deletedKeys, revision: res.revision },
              revision: 0,
              wrote: false,
            };
          } catch (err) {
            if (!(err instanceof LeaseNotFoundError)) throw err;
            // Expired before the revoke: nothing deleted.
            return { output: { deleted: 0, revision: 0 }, revision: 0, wrote: false };
          }
        });
      }
      // Otherwise the client stops keeping it alive: the leader must expire it.
    }
  }

  /**
   * After the run, one more client reads every key any operation touched:
   * each acknowledged write must still be there (or have been overwritten by
   * a later one) after every crash, and the checker sees these reads last.
   */
  async finalReads(): Promise<void> {
    const reader = new Client(this.opts.clients + this.opts.leaseClients + 1);
    const keys = [...new Set(this.history.map((op) => op.input.key))].sort();
    for (const key of keys) await this.get(reader, key);
  }

  private async get(c: Client, key: string): Promise<void> {
    await this.record(c, { op: "get", key }, undefined, async (r) => {
      const res = await r.read(false, (store) => store.range({ key: bytes(key) }));
      const kv = res.kvs[0];
      const seen: ObservedKey | null =
        kv === undefined
          ? null
          : {
              value: text(kv.value),
              version: kv.version,
              createRevision: kv.createRevision,
              modRevision: kv.modRevision,
            };
      c.lastMod.set(key, seen?.modRevision ?? 0);
      return { output: { kv: seen }, revision: res.revision, wrote: false };
    });
  }

  private async put(c: Client, key: string, value: string, lease: number): Promise<void> {
    await this.record(
      c,
      { op: "put", key, value, leased: lease !== 0 },
      `c${c.id}-${c.seq}-p`,
      async (r, id) => {
        const res = await r.write({ type: "put", key: bytes(key), value: bytes(value), lease }, id);
        return { output: { revision: res.revision }, revision: res.revision, wrote: true };
      },
    );
  }

  private async remove(c: Client, key: string): Promise<void> {
    await this.record(c, { op: "delete", key }, `c${c.id}-${c.seq}-d`, async (r, id) => {
      const res = await r.write({ type: "deleteRange", key: bytes(key) }, id);
      return {
        output: { deleted: res.deleted, revision: res.revision },
        revision: res.revision,
        wrote: res.deleted > 0,
      };
    });
  }

  private async cas(c: Client, key: string, value: string): Promise<void> {
    const expectedMod = c.lastMod.get(key) ?? 0;
    await this.record(
      c,
      { op: "cas", key, expectedMod, value },
      `c${c.id}-${c.seq}-c`,
      async (r, id) => {
        const res = await r.write(
          {
            type: "txn",
            compare: [{ key: bytes(key), target: "mod", result: "equal", value: expectedMod }],
            success: [{ type: "put", key: bytes(key), value: bytes(value) }],
            failure: [],
          },
          id,
        );
        return {
          output: { succeeded: res.succeeded, revision: res.revision },
          revision: res.revision,
          wrote: res.succeeded,
        };
      },
    );
  }

  /**
   * Runs one operation to its end and records it: its output, or no output
   * when it was abandoned (a write's effect is then unknown; an abandoned
   * read constrains nothing and is left out). A write the store refused
   * changed nothing and is left out too.
   */
  private async record(
    c: Client,
    input: KeyspaceInput,
    requestId: string | undefined,
    run: (
      replica: KvReplica,
      requestId: string | undefined,
    ) => Promise<{ output: Output; revision: number; wrote: boolean }>,
  ): Promise<void> {
    const call = this.now;
    const outcome = await this.call(c, requestId, run);
    if (outcome === undefined) {
      if (input.op !== "get") this.history.push({ clientId: c.id, input, call });
      this.abandoned.push({ clientId: c.id, input, call });
      if (this.cluster.tracing) {
        this.cluster.trace(
          `client ${c.id} gave up on ${keyspaceModel.describeOperation(input, undefined)}`,
        );
      }
      return;
    }
    if ("failed" in outcome) return;
    const ret = this.now;
    const full = outcome.ok;
    this.history.push({ clientId: c.id, input, call, output: full.output, ret });
    if (full.revision > 0) {
      this.revisions.push({ call, ret, revision: full.revision, wrote: full.wrote });
    }
    if (this.cluster.tracing) {
      this.cluster.trace(`client ${c.id} ${keyspaceModel.describeOperation(input, full.output)}`);
    }
  }

  /**
   * Tries `run` at one member after another until it answers, the store
   * refuses it (a KvError: returned as `failed`), or the deadline passes
   * (undefined). Retries keep the request id.
   */
  private async call<T>(
    c: Client,
    requestId: string | undefined,
    run: (replica: KvReplica, requestId: string | undefined) => Promise<T>,
  ): Promise<Outcome<T>> {
    const deadline = this.now + this.opts.opDeadlineMs;
    while (this.now < deadline) {
      const member = this.pickTarget(c);
      if (member === undefined) {
        await this.sleep(20);
        continue;
      }
      const answer = await this.attempt(member, (replica) => run(replica, requestId));
      if (answer === undefined) {
        c.knownLeader = undefined;
        continue;
      }
      if ("ok" in answer) {
        c.knownLeader = member.id;
        return answer;
      }
      const err = answer.failed;
      // A lease that expired is the one refusal the workload provokes; any
      // other (a malformed request, an idempotency key reused) is a bug.
      if (err instanceof LeaseNotFoundError) return answer;
      if (err instanceof KvError) {
        this.cluster.violation ??= new Error(
          `a client request was refused: ${err.name}: ${err.message}`,
        );
        return answer;
      }
      if (err instanceof NotLeaderError && err.leaderHint !== 0) {
        c.knownLeader = err.leaderHint;
        await this.sleep(1);
      } else {
        c.knownLeader = undefined;
        await this.sleep(10 + this.random.float() * 20);
      }
    }
    return undefined;
  }

  /**
   * One attempt at one member: runs in its process (held while it is
   * paused, lost if it dies), answered by the member or by the client's own
   * timeout (undefined).
   */
  private attempt<T>(
    member: SimMember,
    run: (replica: KvReplica) => Promise<T>,
  ): Promise<{ ok: T } | { failed: Error } | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      let cancelTimeout = () => {};
      const settle = (v: { ok: T } | { failed: Error } | undefined) => {
        if (settled) return;
        settled = true;
        cancelTimeout();
        resolve(v);
      };
      cancelTimeout = this.cluster.scheduler.timer(this.opts.attemptTimeoutMs, () =>
        settle(undefined),
      );
      const up = member.up;
      if (up === undefined) return settle(undefined);
      up.process.run(() => {
        run(up.replica).then(
          (ok) => settle({ ok }),
          (failed: Error) => settle({ failed }),
        );
      });
    });
  }

  private pickTarget(c: Client): SimMember | undefined {
    // Mostly the leader it knows, sometimes anyone: reads at a stale leader
    // or a lagging follower must be caught by the checker.
    const known = c.knownLeader === undefined ? undefined : this.cluster.members.get(c.knownLeader);
    if (known?.up !== undefined && this.random.float() < 0.7) return known;
    const up = [...this.cluster.members.values()].filter((m) => m.up !== undefined);
    if (up.length === 0) return undefined;
    return up[this.random.int(up.length)];
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (b: Uint8Array): string => decoder.decode(b);
