import { NotLeaderError } from "../raft/core/errors.js";
import type { Xoshiro128 } from "../raft/core/prng.js";
import type { Entry, NodeId, ReadState } from "../raft/core/types.js";
import { EntryType } from "../raft/core/types.js";
import type { Cluster } from "./cluster.js";
import type { KvInput, KvOutput } from "./kv.js";
import { decodeCommand, encodeCommand } from "./kv.js";
import { kvModel } from "./lincheck/kv-model.js";
import type { Operation } from "./lincheck/types.js";
import type { SimNode } from "./node.js";

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Operations each client issues before it stops. */
  readonly opsPerClient: number;
  /** One attempt (at one node) waits this long before retrying elsewhere. */
  readonly attemptTimeoutMs: number;
  /** An operation not done by then is abandoned: its outcome is unknown. */
  readonly opDeadlineMs: number;
  /** Pause between a client's operations. */
  readonly thinkMs: number;
}

interface PendingOp {
  readonly seq: number;
  readonly input: KvInput;
  readonly call: number;
  attempt: number;
  target: NodeId;
  /** For reads: the read point granted, waiting for the target to apply it. */
  readIndex?: number;
}

class Client {
  seq = 0;
  issued = 0;
  knownLeader: NodeId | undefined;
  op: PendingOp | undefined;
  constructor(readonly id: number) {}
}

/**
 * Clients issuing put/get/cas/delete over a few keys, retrying through
 * leader changes with the same request id, and recording what they saw as a
 * history for the linearizability checker. Reads use ReadIndex.
 */
export class Workload {
  readonly history: Operation<KvInput, KvOutput>[] = [];
  /** Operations abandoned at their deadline, with the time they were abandoned. */
  readonly abandoned: { clientId: number; input: KvInput; call: number; at: number }[] = [];
  private readonly clients: Client[] = [];
  private stopped = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: Xoshiro128,
    private readonly opts: WorkloadOptions,
  ) {
    for (let i = 1; i <= opts.clients; i++) this.clients.push(new Client(i));
    cluster.applyHook = (node, e, out) => this.onApply(node, e, out);
    cluster.readStateHook = (node, rs) => this.onReadState(node, rs);
  }

  start(): void {
    for (const c of this.clients) {
      this.cluster.scheduler.after(this.random.float() * this.opts.thinkMs, () => this.next(c));
    }
  }

  /** Stops issuing new operations (pending ones still finish or expire). */
  stop(): void {
    this.stopped = true;
  }

  get idle(): boolean {
    return this.clients.every(
      (c) => c.op === undefined && (this.stopped || c.issued >= this.opts.opsPerClient),
    );
  }

  get completed(): number {
    return this.history.filter((o) => o.ret !== undefined).length;
  }

  private get now(): number {
    return this.cluster.now;
  }

  private next(c: Client): void {
    if (this.stopped || c.issued >= this.opts.opsPerClient || c.op !== undefined) return;
    c.issued++;
    c.seq++;
    const key = this.opts.keys[this.random.int(this.opts.keys.length)]!;
    const value = `${c.id}.${c.seq}`;
    const roll = this.random.float();
    let input: KvInput;
    if (roll < 0.4) input = { op: "get", key };
    else if (roll < 0.7) input = { op: "put", key, value };
    else if (roll < 0.85) {
      // Expect a value some client plausibly wrote, or absence.
      const expected = this.random.float() < 0.3 ? null : this.guessValue(key);
      input = { op: "cas", key, expected, value };
    } else input = { op: "delete", key };
    c.op = { seq: c.seq, input, call: this.now, attempt: 0, target: 0 };
    this.attempt(c);
  }

  private guessValue(key: string): string | null {
    const leader = this.cluster.leader();
    return leader?.kv.get(key) ?? null;
  }

  private pickTarget(c: Client): SimNode | undefined {
    // Mostly go to the leader we know, sometimes anywhere: reads at a stale
    // leader or a lagging follower must be caught by the checker.
    const known = c.knownLeader === undefined ? undefined : this.cluster.nodes.get(c.knownLeader);
    if (known?.alive && this.random.float() < 0.5) return known;
    const alive = [...this.cluster.nodes.values()].filter((n) => n.alive);
    if (alive.length === 0) return undefined;
    return alive[this.random.int(alive.length)];
  }

  private attempt(c: Client): void {
    const op = c.op;
    if (op === undefined) return;
    if (this.now - op.call >= this.opts.opDeadlineMs) {
      this.abandon(c);
      return;
    }
    op.attempt++;
    op.readIndex = undefined;
    const attempt = op.attempt;
    const node = this.pickTarget(c);
    if (node === undefined) {
      this.retryLater(c, 20);
      return;
    }
    op.target = node.id;
    // A frozen process reads its socket only when it resumes.
    if (node.pausedUntil > this.now) {
      const at = node.pausedUntil + this.random.float() * 5;
      this.cluster.scheduler.at(at, () => this.send(c, op, attempt, node));
    } else {
      this.send(c, op, attempt, node);
    }
    this.cluster.scheduler.after(this.opts.attemptTimeoutMs, () => {
      if (c.op === op && op.attempt === attempt) {
        c.knownLeader = undefined;
        this.attempt(c);
      }
    });
  }

  private send(c: Client, op: PendingOp, attempt: number, node: SimNode): void {
    if (c.op !== op || op.attempt !== attempt || !node.alive) return;
    try {
      if (op.input.op === "get") {
        node.raw!.readIndex(this.readContext(c, op));
      } else {
        node.raw!.propose(encodeCommand({ client: c.id, seq: op.seq, input: op.input }));
      }
      node.pump();
    } catch (err) {
      if (err instanceof NotLeaderError) {
        c.knownLeader = err.leaderHint === 0 ? undefined : err.leaderHint;
        this.retryLater(c, err.leaderHint === 0 ? 10 + this.random.float() * 20 : 1);
        return;
      }
      if (err instanceof Error && "code" in err) {
        c.knownLeader = undefined;
        this.retryLater(c, 10 + this.random.float() * 20);
        return;
      }
      throw err;
    }
  }

  private retryLater(c: Client, ms: number): void {
    const op = c.op;
    const attempt = op?.attempt;
    this.cluster.scheduler.after(ms, () => {
      if (c.op === op && op?.attempt === attempt) this.attempt(c);
    });
  }

  private readContext(c: Client, op: PendingOp): string {
    return `${c.id}:${op.seq}:${op.attempt}`;
  }

  private complete(c: Client, output: KvOutput): void {
    const op = c.op!;
    this.history.push({ clientId: c.id, input: op.input, call: op.call, output, ret: this.now });
    this.cluster.trace(
      `client ${c.id} ${kvModel.describeOperation(op.input, output)} via n${op.target} (attempt ${op.attempt})`,
    );
    c.op = undefined;
    this.cluster.scheduler.after(this.random.float() * this.opts.thinkMs, () => this.next(c));
  }

  private abandon(c: Client): void {
    const op = c.op!;
    // A read that never returned had no effect: it constrains nothing. A write
    // may or may not have happened: record it with an unknown outcome.
    if (op.input.op !== "get")
      this.history.push({ clientId: c.id, input: op.input, call: op.call });
    this.abandoned.push({ clientId: c.id, input: op.input, call: op.call, at: this.now });
    this.cluster.trace(
      `client ${c.id} gave up on ${kvModel.describeOperation(op.input, undefined)}`,
    );
    c.op = undefined;
    this.cluster.scheduler.after(this.random.float() * this.opts.thinkMs, () => this.next(c));
  }

  private onApply(node: SimNode, e: Entry, output: KvOutput | undefined): void {
    if (e.type === EntryType.Normal && e.data.byteLength > 0 && output !== undefined) {
      const cmd = decodeCommand(e.data);
      const c = this.clients[cmd.client - 1];
      if (
        c?.op !== undefined &&
        c.op.seq === cmd.seq &&
        c.op.target === node.id &&
        c.op.input.op !== "get"
      ) {
        c.knownLeader = node.id;
        this.complete(c, output);
      }
    }
    this.serveReads(node);
  }

  private onReadState(node: SimNode, rs: ReadState): void {
    const [client, seq, attempt] = rs.context.split(":").map(Number);
    const c = this.clients[(client ?? 0) - 1];
    const op = c?.op;
    if (op === undefined || op.seq !== seq || op.attempt !== attempt || op.target !== node.id)
      return;
    op.readIndex = rs.index;
    this.serveReads(node);
  }

  /** Serves every read whose read point the node has applied. */
  private serveReads(node: SimNode): void {
    for (const c of this.clients) {
      const op = c.op;
      if (op?.input.op !== "get" || op.readIndex === undefined || op.target !== node.id) continue;
      if (node.kv.appliedIndex < op.readIndex) continue;
      c.knownLeader ??= node.raw?.status().lead || undefined;
      this.complete(c, { value: node.kv.get(op.input.key) });
    }
  }
}
