import { InvalidArgumentError } from "../../errors.js";
import type { LeaseKind } from "../types.js";

/** The Redis keys and channel of one resource; all share one hash slot. */
export interface ResourceKeys {
  /** The owner record: a string (mutex, write lock), a hash (leader) or a zset of holders (semaphore). */
  readonly main: string;
  /** Read-write lock readers: zset owner -> lease end (ms, Redis clock). */
  readonly readers: string;
  /** Fencing counter (INCR); never expires, so tokens never repeat. */
  readonly fence: string;
  /** Fair queue: zset owner -> arrival sequence. */
  readonly queue: string;
  /** Fair queue liveness: zset owner -> instant (ms, Redis clock) after which the waiter counts as gone. */
  readonly queueDeadlines: string;
  /** Pub/sub channel announcing releases and leader changes. */
  readonly channel: string;
}

const NAMESPACE: Record<LeaseKind, string> = {
  mutex: "mutex",
  read: "rw",
  write: "rw",
  semaphore: "sem",
  leader: "leader",
};

export function validateKeyPrefix(prefix: string): string {
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 64) {
    throw new InvalidArgumentError("Redis keyPrefix must be a string of 1 to 64 characters");
  }
  if (/[{}\s]/.test(prefix)) {
    throw new InvalidArgumentError(
      `Redis keyPrefix ${JSON.stringify(prefix)} must not contain braces or whitespace`,
    );
  }
  return prefix;
}

/**
 * Every key of a resource carries the escaped name as its hash tag, so the
 * scripts touching them stay within one slot on a Redis Cluster. Braces in
 * names are escaped; otherwise a name like "}x" would end the tag early.
 */
export function resourceKeys(prefix: string, kind: LeaseKind, name: string): ResourceKeys {
  const base = `${prefix}:${NAMESPACE[kind]}:{${escapeName(name)}}`;
  const main =
    kind === "write" || kind === "read"
      ? `${base}:writer`
      : kind === "semaphore"
        ? `${base}:holders`
        : base;
  return {
    main,
    readers: `${base}:readers`,
    fence: `${base}:fence`,
    queue: `${base}:queue`,
    queueDeadlines: `${base}:queue-deadlines`,
    channel: `${base}:wake`,
  };
}

function escapeName(name: string): string {
  return name.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
