import type { FastifyInstance } from "fastify";
import { type KvResult, KvStore } from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import { createServer, type ServerOptions } from "../../src/server/index.js";
import { freePort } from "../support/free-port.js";
import { waitFor } from "./cluster.js";
import { closeNow } from "./http-cluster.js";

export interface SingleMember {
  readonly app: FastifyInstance;
  readonly store: KvStore;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** One member (its own leader) with its HTTP API on a free loopback port. */
export async function startSingleMember(
  serverOptions: Omit<ServerOptions, "node" | "store"> = {},
): Promise<SingleMember> {
  const store = new KvStore();
  const node = await RaftNode.start<KvResult>({
    id: 1,
    storage: new MemoryStorage(),
    transport: new MemoryNetwork().transport(1),
    stateMachine: store,
    initialCluster: new Map([[1, "127.0.0.1:7001"]]),
    heartbeatMs: 10,
    electionMs: 100,
  });
  await waitFor(() => node.status().role === "leader", "a leader");
  const app = createServer({ node, store, ...serverOptions });
  const port = await freePort();
  await app.listen({ host: "127.0.0.1", port });
  return {
    app,
    store,
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      await closeNow(app);
      await node.stop();
    },
  };
}
