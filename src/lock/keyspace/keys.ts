import { InvalidArgumentError } from "../../errors.js";
import { nameSegment } from "../sequenced/segment.js";
import type { SequenceEntry } from "../sequenced/turn.js";
import type { LeaseKind } from "../types.js";

/** Readers and writers of one name queue together; every other kind has its own namespace. */
const NAMESPACE: Record<LeaseKind, string> = {
  mutex: "mutex",
  read: "rw",
  write: "rw",
  semaphore: "sem",
  leader: "election",
};

const MAX_KEY_PREFIX_LENGTH = 256;

export function validateKeyPrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > MAX_KEY_PREFIX_LENGTH) {
    throw new InvalidArgumentError(
      `keyPrefix must be a string of 1 to ${MAX_KEY_PREFIX_LENGTH} characters`,
    );
  }
  if (prefix.endsWith("/")) {
    throw new InvalidArgumentError(
      `keyPrefix must not end with "/", got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/**
 * Key layout: every waiter or holder of a name is one key
 * `<prefix>/<namespace>/<encoded name>/<kind>/<owner id>`, attached to the
 * owner's lease. The keys of one name share the queue prefix, and their
 * create_revision orders the queue.
 */
export class QueueKeys {
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** The prefix of every key in the queue of (kind, name); ends with "/". */
  queue(kind: LeaseKind, name: string): string {
    return `${this.#prefix}/${NAMESPACE[kind]}/${nameSegment(name)}/`;
  }

  entry(kind: LeaseKind, name: string, ownerId: string): string {
    return `${this.queue(kind, name)}${kind}/${ownerId}`;
  }

  /** Whether the key (from `queue`) excludes others: every kind but read does. */
  static isExclusive(queuePrefix: string, key: string): boolean {
    return !key.startsWith(`${queuePrefix}read/`);
  }
}

/** A queue's keys (with their create_revision) as the entries the turn logic orders. */
export function queueEntries(
  queuePrefix: string,
  keys: readonly { readonly key: string; readonly createRevision: bigint }[],
): SequenceEntry[] {
  return keys.map(({ key, createRevision }) => ({
    id: key,
    position: createRevision,
    exclusive: QueueKeys.isExclusive(queuePrefix, key),
  }));
}

/** The end of the key range holding every key that starts with `prefix` (etcd's prefix convention). */
export function prefixRangeEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: the range runs to the end of the key space.
  return Buffer.from([0]);
}
