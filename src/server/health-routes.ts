import type { FastifyInstance } from "fastify";
import { HttpApiError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import { memberProblems } from "./member-problems.js";

/** Not ready: no leader is known, or this node has not applied all it knows committed. */
export class NotReadyError extends HttpApiError {
  constructor(message: string) {
    super(503, "NOT_READY", message);
  }
}

export function registerHealthRoutes(app: FastifyInstance, kv: KvAccess): void {
  // Liveness: the process answers and the node reports its state.
  app.get("/health", { schema: {} }, async () => {
    kv.node.status();
    return { health: true };
  });

  app.get("/ready", { schema: {} }, async () => {
    const st = kv.node.status();
    if (st.leader === 0) throw new NotReadyError("no leader is known");
    if (st.appliedIndex < st.commitIndex) {
      throw new NotReadyError(
        `applied index ${st.appliedIndex} is behind commit index ${st.commitIndex}`,
      );
    }
    return { ready: true, leader: st.leader };
  });

  app.get("/status", { schema: {} }, async () => {
    const st = kv.node.status();
    const problems = memberProblems(kv);
    return {
      id: st.id,
      role: st.role,
      term: st.term,
      leader: st.leader === 0 ? null : st.leader,
      commitIndex: st.commitIndex,
      appliedIndex: st.appliedIndex,
      lastIndex: st.lastIndex,
      snapshotIndex: st.snapshotIndex,
      voters: st.confState.voters,
      learners: st.confState.learners,
      peers: st.peers,
      revision: kv.store.revision,
      compactRevision: kv.store.compactRevision,
      keyCount: kv.store.keyCount,
      errors: problems.errors,
      warnings: [...app.securityWarnings(), ...problems.peerWarnings],
    };
  });
}
