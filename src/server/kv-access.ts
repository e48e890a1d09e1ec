import {
  encodeCommand,
  type KvCommand,
  type KvResult,
  type KvStore,
  REQUEST_ID_PATTERN,
  type WriteCommand,
} from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";
import { BadRequestError } from "./errors.js";
import type { ServerLimits } from "./options.js";

type Success = Exclude<KvResult, { type: "error" }>;

/** The header a client sets so a retried write is applied once. */
export const IDEMPOTENCY_HEADER = "idempotency-key";

/** The part of an HTTP request a write looks at. */
export interface WriteContext {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The request id a write carries, validated; undefined when the client sent none. */
export function requestIdOf(context: WriteContext | undefined): string | undefined {
  const value = context?.headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !REQUEST_ID_PATTERN.test(value)) {
    throw new BadRequestError(
      `header ${IDEMPOTENCY_HEADER} must be 1 to 64 characters of [A-Za-z0-9_-], sent once`,
    );
  }
  return value;
}

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
   * precondition) is thrown as its typed KvError. With an idempotency key the
   * command is wrapped so the store applies it once however often it is retried.
   */
  async write<T extends Success["type"]>(
    command: WriteCommand & { type: T },
    context?: WriteContext,
  ): Promise<Extract<Success, { type: T }>> {
    const id = requestIdOf(context);
    const wrapped: KvCommand = id === undefined ? command : { type: "request", id, command };
    const result = await this.node.propose(encodeCommand(wrapped), {
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
