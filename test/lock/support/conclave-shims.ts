/**
 * A stand-in for lease expiry on the leader, which the lock backend relies
 * on, installed on an in-process test cluster only while createServer does
 * not expire leases itself (the cluster helper checks for the server's
 * `leaseExpiry` decoration).
 */
import { encodeCommand, type KvResult, type KvStore } from "../../../src/kv/index.js";
import type { RaftNode } from "../../../src/raft/node/index.js";

/**
 * Leader-side lease expiry: every member watches the lease results its store
 * applies, and the leader revokes (through the log) each lease whose TTL
 * passed without a keepalive. A new leader grants every lease a fresh TTL
 * plus an election timeout first, as etcd does.
 */
export function startLeaseExpiry(
  node: RaftNode<KvResult>,
  store: KvStore,
  electionMs: number,
): () => void {
  const deadlinesMs = new Map<number, number>();
  let ledTerm = -1;
  type Entry = { readonly index: number; readonly term: number; readonly data: Uint8Array };
  const apply = store.apply.bind(store) as (entry: Entry) => KvResult;
  store.apply = ((entry: Entry) => {
    const result = apply(entry);
    if (result.type === "leaseGrant" || result.type === "leaseKeepAlive") {
      deadlinesMs.set(result.id, performance.now() + result.ttlMs);
    }
    return result;
  }) as KvStore["apply"];
  const revoking = new Set<number>();
  const timer = setInterval(() => {
    const status = node.status();
    if (status.role !== "leader") {
      ledTerm = -1;
      return;
    }
    const now = performance.now();
    if (ledTerm !== status.term) {
      ledTerm = status.term;
      deadlinesMs.clear();
      for (const lease of store.leases()) deadlinesMs.set(lease.id, now + lease.ttlMs + electionMs);
    }
    const known = new Set(store.leases().map((l) => l.id));
    for (const [id, deadline] of deadlinesMs) {
      if (!known.has(id)) {
        deadlinesMs.delete(id);
        continue;
      }
      if (deadline > now || revoking.has(id)) continue;
      revoking.add(id);
      node
        .propose(encodeCommand({ type: "leaseRevoke", id }), { timeoutMs: 2000 })
        .catch(() => {})
        .finally(() => revoking.delete(id));
    }
  }, 50);
  return () => clearInterval(timer);
}
