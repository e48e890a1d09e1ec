import type { FastifyInstance } from "fastify";
import { type KvResult, KvStore } from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import type { ServerOptions } from "../../src/server/index.js";
import { createServer } from "../../src/server/index.js";
import { freePort } from "../support/free-port.js";
import { waitFor } from "./cluster.js";
import { closeNow } from "./http-cluster.js";

export interface SingleMember {
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  readonly app: FastifyInstance;
  stop(): Promise<void>;
}

/** One RaftNode (a cluster of one) with its store and HTTP API, leading once this resolves. */
export async function startSingleMember(
  serverOptions: Omit<ServerOptions, "node" | "store"> = {},
): Promise<SingleMember> {
  const store = new KvStore();
  const node = await RaftNode.start<KvResult>({
    id: 1,
    storage: new MemoryStorage(),
    transport: new MemoryNetwork().transport(1),
    stateMachine: store,
    initialCluster: new Map([[1, "127.0.0.1:7101"]]),
    heartbeatMs: 10,
    electionMs: 100,
  });
  const app = createServer({ node, store, ...serverOptions });
  await waitFor(() => node.status().role === "leader", "the single member to lead");
  return {
    node,
    store,
    app,
    async stop() {
      await app.close();
      await node.stop();
    },
  };
}

export interface ListeningMember extends SingleMember {
  readonly url: string;
  readonly port: number;
}

/** A single member whose HTTP API listens on a free loopback port. */
export async function startListeningMember(
  serverOptions: Omit<ServerOptions, "node" | "store"> = {},
): Promise<ListeningMember> {
  const member = await startSingleMember(serverOptions);
  const port = await freePort();
  await member.app.listen({ host: "127.0.0.1", port });
  return {
    ...member,
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      // Cut open streams at once: a test's watch must not hold the close.
      await closeNow(member.app);
      await member.node.stop();
    },
  };
}
