import { InvalidArgumentError } from "../../errors.js";
import { nameSegment } from "../sequenced/segment.js";
import type { SequenceEntry } from "../sequenced/turn.js";
import type { LeaseKind } from "../types.js";

/** Readers and writers of one name queue under one parent; every other kind has its own. */
const NAMESPACE: Record<LeaseKind, string> = {
  mutex: "mutex",
  read: "rw",
  write: "rw",
  semaphore: "sem",
  leader: "election",
};

/** The first word of a queue znode's name, by kind (the recipes' "lock-", "read-", "write-"...). */
const TAG: Record<LeaseKind, string> = {
  mutex: "lock",
  read: "read",
  write: "write",
  semaphore: "permit",
  leader: "candidate",
};

/** `<tag>-<owner id: 32 hex digits>-<sequence: 10 digits, appended by ZooKeeper>`. */
const QUEUE_NODE = /^(lock|read|write|permit|candidate)-([0-9a-f]{1,64})-(\d{10})$/;

const MAX_ROOT_LENGTH = 256;

export function validateZkRootPath(root: unknown): string {
  if (typeof root !== "string" || root.length < 2 || root.length > MAX_ROOT_LENGTH) {
    throw new InvalidArgumentError(
      `rootPath must be an absolute znode path of 2 to ${MAX_ROOT_LENGTH} characters`,
    );
  }
  const segments = root.split("/");
  const wellFormed =
    segments[0] === "" &&
    segments.slice(1).every((s) => s !== "" && s !== "." && s !== ".." && /^[\x21-\x7e]+$/.test(s));
  if (!wellFormed || root === "/zookeeper" || root.startsWith("/zookeeper/")) {
    throw new InvalidArgumentError(
      `rootPath must look like "/a/b" (printable ASCII segments, no "." or "..", not under /zookeeper), got ${JSON.stringify(root)}`,
    );
  }
  return root;
}

/**
 * Znode layout: the queue of a name is the persistent parent
 * `<root>/<namespace>/<encoded name>`; each waiter or holder is one
 * ephemeral sequential child named after its kind and owner id, so a client
 * whose create lost its reply can find its own znode (the recipe's GUID).
 */
export class ZkPaths {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  queue(kind: LeaseKind, name: string): string {
    return `${this.#root}/${NAMESPACE[kind]}/${nameSegment(name)}`;
  }

  /** The name prefix of the owner's znode; ZooKeeper appends the sequence number. */
  static nodePrefix(kind: LeaseKind, ownerId: string): string {
    return `${TAG[kind]}-${ownerId}-`;
  }

  /** The queue entries among a parent's children (other children are ignored). */
  static entries(children: readonly string[]): SequenceEntry[] {
    const entries: SequenceEntry[] = [];
    for (const child of children) {
      const match = QUEUE_NODE.exec(child);
      if (match === null) continue;
      entries.push({ id: child, position: BigInt(match[3]!), exclusive: match[1] !== "read" });
    }
    return entries;
  }

  /** The position of a znode created by this backend (its sequence number). */
  static position(node: string): bigint {
    const match = QUEUE_NODE.exec(node);
    if (match === null) throw new Error(`unexpected lock znode name ${JSON.stringify(node)}`);
    return BigInt(match[3]!);
  }
}
