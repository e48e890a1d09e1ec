import { BackendUnavailableError } from "../errors.js";
import type { SequenceEntry, Turn } from "../sequenced/turn.js";
import type { LeaderSnapshot } from "../types.js";
import { ZK_ERROR, ZK_EVENT, type ZkWatcher, zkErrorCode } from "./library.js";
import { ZkPaths } from "./paths.js";
import type { ZkSession } from "./session.js";

/**
 * Sets the watch that can end this wait: on the znode just ahead (it is
 * deleted, or already gone), or for a semaphore on the parent's children
 * (any of those ahead leaving). Returns how to ignore it afterwards; the
 * library drops a one-shot watch once it fires, or with the session.
 */
export function watchTurn(
  session: ZkSession,
  parent: string,
  turn: Turn,
  entries: readonly SequenceEntry[],
  wake: () => void,
  lockName: string,
): () => void {
  let active = true;
  const fire = () => {
    if (active) wake();
  };
  if (turn.kind === "after") {
    session.exists(`${parent}/${turn.predecessor.id}`, lockName, fire).then(({ value }) => {
      if (value === undefined) fire();
    }, fire);
  } else {
    const before = entries.map((e) => e.id);
    session.children(parent, lockName, fire).then(({ value }) => {
      const now = new Set(value ?? []);
      if (before.some((id) => !now.has(id))) fire();
    }, fire);
  }
  return () => {
    active = false;
  };
}

/**
 * Runs an idempotent read; if the connection dropped under it (the session
 * lives on), waits for the library to reconnect and reads once more, so a
 * waiter survives a server restart or a leader change in the ensemble.
 */
export async function readThroughReconnect<T>(
  session: ZkSession,
  lockName: string,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (zkErrorCode((error as Error).cause) !== ZK_ERROR.CONNECTION_LOSS) throw error;
    if (session.ended.aborted) throw error;
    await session.connected(lockName);
    return read();
  }
}

function lowest(entries: readonly SequenceEntry[]): SequenceEntry | undefined {
  let first: SequenceEntry | undefined;
  for (const entry of entries) {
    if (first === undefined || entry.position < first.position) first = entry;
  }
  return first;
}

/**
 * The leader of the election queue under `parent`: the candidate with the
 * lowest sequence, its data the proclaimed value, its czxid the token. With
 * a watcher, watches the queue and the leader's data (or, before the first
 * candidate, the creation of the queue).
 */
export async function readLeader(
  session: ZkSession,
  parent: string,
  lockName: string,
  watcher?: ZkWatcher,
): Promise<LeaderSnapshot<bigint> | undefined> {
  // The leader may resign between listing and reading; a few tries cover any real churn.
  for (let attempt = 0; attempt < 10; attempt++) {
    const { value: children } = await session.children(parent, lockName, watcher);
    if (children === undefined && watcher !== undefined) {
      // No election yet: listing a missing znode sets no watch, so watch for its creation.
      const { value: created } = await session.exists(parent, lockName, watcher);
      if (created === undefined) return undefined;
      continue;
    }
    const first = lowest(ZkPaths.entries(children ?? []));
    if (first === undefined) return undefined;
    const node = await session.getData(`${parent}/${first.id}`, lockName, watcher);
    if (node !== undefined) {
      return {
        value: node.data.toString("utf8"),
        fencingToken: node.stat.czxid.readBigUInt64BE(0),
      };
    }
  }
  throw new BackendUnavailableError("zookeeper", "the leader kept changing while read", lockName);
}

/**
 * Watches a held znode until it is deleted, then calls `onGone`. A data
 * change (a proclaim) re-arms the one-shot watch; the watch ends with the
 * znode or the session.
 */
export function watchOwnNode(
  session: ZkSession,
  path: string,
  lockName: string,
  onGone: () => void,
): void {
  session
    .exists(path, lockName, (event) => {
      if (event.getType() === ZK_EVENT.NODE_DELETED) onGone();
      else watchOwnNode(session, path, lockName, onGone);
    })
    .then(({ value }) => {
      if (value === undefined) onGone();
    })
    .catch(() => {});
}
