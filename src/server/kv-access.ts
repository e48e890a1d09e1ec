import {
  encodeCommand,
  type KvCommand,
  type KvResult,
  type KvStore,
  validateCommand,
} from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";
import type { ServerLimits } from "./options.js";

type Success = Exclude<KvResult, { type: "error" }>;

/** The two ways a request reaches the key space: through the log, or a read of local state. */
export class KvAccess {
  constructor(
    readonly node: RaftNode<KvResult>,
    readonly store: KvStore,
    private readonly limits: ServerLimits,
  ) {}

  /**
   * Validates before proposing so a malformed command is refused here rather
   * than taking a log slot; a command the store rejects at apply (a failed
   * precondition) is thrown as its typed KvError.
   */
  async write<T extends Success["type"]>(
    command: KvCommand & { type: T },
  ): Promise<Extract<Success, { type: T }>> {
    validateCommand(command);
    const result = await this.node.propose(encodeCommand(command), {
      timeoutMs: this.limits.requestTimeoutMs,
    });
    if (result.type === "error") throw result.error;
    return result as Extract<Success, { type: T }>;
  }

  /** Linearizable unless `serializable`: ReadIndex first, then the local store. */
  async read<T>(serializable: boolean, readLocal: (store: KvStore) => T): Promise<T> {
    if (!serializable) {
      await this.node.linearizableRead({ timeoutMs: this.limits.requestTimeoutMs });
    }
    return readLocal(this.store);
  }
}
