import type { FastifyInstance } from "fastify";
import { NotLeaderError } from "../raft/core/index.js";
import type { KvAccess } from "./kv-access.js";
import { header } from "./wire.js";

/**
 * `POST /v3/cluster/progress`: the leader's view of replication — each
 * follower's match index, how far it lags the leader's log, and whether
 * the leader heard from it within an election timeout. Only the leader
 * tracks this, so a follower forwards the request to it (leader-forward.ts).
 */
export function registerClusterProgressRoutes(app: FastifyInstance, kv: KvAccess): void {
  app.post(
    "/v3/cluster/progress",
    {
      schema: {
        summary: "The leader's replication progress of every follower",
        body: { type: ["object", "null"], properties: {}, additionalProperties: false },
      },
    },
    async () => {
      const st = kv.node.status();
      if (st.role !== "leader") throw new NotLeaderError(st.leader, "cluster progress");
      return {
        header: header(kv.store.revision),
        leader: st.id,
        term: st.term,
        commitIndex: st.commitIndex,
        appliedIndex: st.appliedIndex,
        lastIndex: st.lastIndex,
        peers: st.peers.map((p) => ({
          id: p.id,
          matchIndex: p.matchIndex,
          lag: p.lag,
          connected: p.connected,
        })),
      };
    },
  );
}
