import { invariant } from "../raft/core/errors.js";
import type { RaftNode } from "../raft/node/index.js";
import { encodeCommand } from "./codec.js";
import { LeaseExpiry, type LeaseExpiryOptions } from "./lease-expiry.js";
import type { KvStore } from "./store.js";
import type { KvCommand, KvResult, LeaseKeepAliveResult, WriteCommand } from "./types.js";

type Success = Exclude<KvResult, { type: "error" }>;

/**
 * One member's replica of the key space: its Raft node and its store, and
 * the two ways a request reaches them — a write through the log, a read of
 * local state after ReadIndex. The HTTP server and the simulator both go
 * through here, so the request envelope the simulator checks (idempotency
 * ids, typed errors, linearizable reads) is the one that serves clients.
 */
export class KvReplica {
  /** The expiry loop made by leaseExpiry(): it holds the leader's lease deadlines. */
  private expiry: LeaseExpiry | undefined;

  constructor(
    readonly node: RaftNode<KvResult>,
    readonly store: KvStore,
    private readonly requestTimeoutMs: number,
  ) {}

  /**
   * Proposes a write and answers with its result once applied here. With a
   * `requestId` the command is wrapped so the store applies it once however
   * often it is retried (within the request window); a command the store
   * refuses at apply (a failed precondition) is thrown as its typed KvError.
   */
  async write<T extends Success["type"]>(
    command: WriteCommand & { type: T },
    requestId?: string,
  ): Promise<Extract<Success, { type: T }>> {
    const wrapped: KvCommand =
      requestId === undefined ? command : { type: "request", id: requestId, command };
    const result = await this.node.propose(encodeCommand(wrapped), {
      timeoutMs: this.requestTimeoutMs,
    });
    if (result.type === "error") throw result.error;
    return result as Extract<Success, { type: T }>;
  }

  /** Linearizable unless `serializable`: ReadIndex first, then the local store. */
  async read<T>(serializable: boolean, readLocal: (store: KvStore) => T): Promise<T> {
    if (!serializable) await this.node.linearizableRead({ timeoutMs: this.requestTimeoutMs });
    return readLocal(this.store);
  }

  /**
   * Renews a lease in the leader's memory: a ReadIndex, no log entry (see
   * LeaseExpiry.keepAlive). NotLeaderError on a follower, as for writes.
   * Needs the expiry loop made by leaseExpiry().
   */
  async keepAlive(id: number): Promise<LeaseKeepAliveResult> {
    invariant(this.expiry !== undefined, "keepAlive needs the replica's lease expiry loop");
    const { ttlMs } = await this.expiry.keepAlive(id);
    return { type: "leaseKeepAlive", revision: this.store.revision, id, ttlMs };
  }

  /** keepAlive for many leases behind one ReadIndex; ttlMs 0 for a lease not found. */
  async keepAliveMany(ids: readonly number[]): Promise<{
    readonly revision: number;
    readonly leases: readonly { id: number; ttlMs: number }[];
  }> {
    invariant(this.expiry !== undefined, "keepAlive needs the replica's lease expiry loop");
    const leases = await this.expiry.keepAliveMany(ids);
    return { revision: this.store.revision, leases };
  }

  /**
   * The leader-side lease loop for this replica (not started): it proposes
   * `leaseRevoke` through `write` once a lease's deadline passes on the
   * leader's clock, and `leaseCheckpoint` for remaining TTLs. keepAlive
   * renews through the loop made last.
   */
  leaseExpiry(
    options: Omit<LeaseExpiryOptions, "electionTimeoutMs"> & {
      readonly electionTimeoutMs?: number;
    },
  ): LeaseExpiry {
    this.expiry = new LeaseExpiry(
      {
        status: () => this.node.status(),
        leases: () => this.store.leaseRenewals(),
        lease: (id) => this.store.leaseState(id),
        confirmLeadership: () => this.node.linearizableRead({ timeoutMs: this.requestTimeoutMs }),
        checkpoint: (checkpoints) => this.write({ type: "leaseCheckpoint", checkpoints }),
        onLeaseApplied: (listener) => this.store.onLeaseApplied(listener),
        revoke: (id, ifRenewals) => this.write({ type: "leaseRevoke", id, ifRenewals }),
      },
      { ...options, electionTimeoutMs: options.electionTimeoutMs ?? this.node.electionTimeoutMs },
    );
    return this.expiry;
  }
}
