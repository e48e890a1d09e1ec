import type { RaftNode } from "../raft/node/index.js";
import { encodeCommand } from "./codec.js";
import { LeaseExpiry, type LeaseExpiryOptions } from "./lease-expiry.js";
import type { KvStore } from "./store.js";
import type { KvCommand, KvResult, WriteCommand } from "./types.js";

type Success = Exclude<KvResult, { type: "error" }>;

/**
 * One member's replica of the key space: its Raft node and its store, and
 * the two ways a request reaches them — a write through the log, a read of
 * local state after ReadIndex. The HTTP server and the simulator both go
 * through here, so the request envelope the simulator checks (idempotency
 * ids, typed errors, linearizable reads) is the one that serves clients.
 */
export class KvReplica {
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
   * The leader-side lease expiry loop for this replica (not started): it
   * proposes `leaseRevoke` through `write` once a lease's deadline passes on
   * the leader's clock.
   */
  leaseExpiry(
    options: Omit<LeaseExpiryOptions, "electionTimeoutMs"> & {
      readonly electionTimeoutMs?: number;
    },
  ): LeaseExpiry {
    return new LeaseExpiry(
      {
        status: () => this.node.status(),
        leases: () => this.store.leaseRenewals(),
        onLeaseApplied: (listener) => this.store.onLeaseApplied(listener),
        revoke: (id, ifRenewals) => this.write({ type: "leaseRevoke", id, ifRenewals }),
      },
      { ...options, electionTimeoutMs: options.electionTimeoutMs ?? this.node.electionTimeoutMs },
    );
  }
}
