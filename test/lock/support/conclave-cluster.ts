/**
 * A three-node Conclave cluster inside the test process, listening on free
 * 127.0.0.1 ports so that worker processes (and the CLI) reach it over
 * HTTP like any client. Each member gets a TCP proxy in front of it, for
 * clients that must be partitioned from the whole cluster.
 */
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { type KvResult, KvStore } from "../../../src/kv/index.js";
import { RaftNode } from "../../../src/raft/node/index.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../../src/raft/transport/index.js";
import { createServer } from "../../../src/server/index.js";
import { freePort } from "../../support/free-port.js";
import { TcpProxy } from "../../support/tcp-proxy.js";

const ELECTION_MS = 500;

export interface ConclaveTestCluster {
  /** Client URLs of the three members. */
  readonly endpoints: string[];
  readonly members: readonly {
    readonly id: number;
    readonly node: RaftNode<KvResult>;
    readonly store: KvStore;
    readonly app: FastifyInstance;
    readonly port: number;
  }[];
  /** One proxy per member; cut them together to partition a client from the cluster. */
  partitionablePath(): Promise<{ endpoints: string[]; cut(): void; heal(): void }>;
  stop(): Promise<void>;
}

/**
 * Members do not advertise their client URLs: a NOT_LEADER answer then
 * names no leaderUrl, and a client keeps to the endpoints it was given —
 * which a partitioned client must, or it would follow the redirect around
 * its proxies.
 */
export async function startConclaveCluster(): Promise<ConclaveTestCluster> {
  const net = new MemoryNetwork();
  const ids = [1, 2, 3];
  const ports = await Promise.all(ids.map(() => freePort()));
  const urls = new Map(ids.map((id, i) => [id, `http://127.0.0.1:${ports[i]}`]));
  const initialCluster = new Map(ids.map((id) => [id, `127.0.0.1:${7100 + id}`]));
  const members: ConclaveTestCluster["members"][number][] = [];
  // Clients reopen watch streams as soon as one ends; stop cuts every connection rather than wait.
  const sockets = new Set<Socket>();
  for (const [i, id] of ids.entries()) {
    const store = new KvStore();
    const node = await RaftNode.start<KvResult>({
      id,
      storage: new MemoryStorage(),
      transport: net.transport(id),
      stateMachine: store,
      initialCluster,
      // Slack enough that a loaded shared machine does not lose leadership mid-test.
      heartbeatMs: 25,
      electionMs: ELECTION_MS,
    });
    const app = createServer({ node, store });
    await app.listen({ host: "127.0.0.1", port: ports[i]! });
    app.server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    members.push({ id, node, store, app, port: ports[i]! });
  }
  await waitForLeader(members);
  const proxies: TcpProxy[] = [];
  return {
    endpoints: [...urls.values()],
    members,
    async partitionablePath() {
      const own = await Promise.all(members.map((m) => TcpProxy.start(m.port)));
      proxies.push(...own);
      return {
        endpoints: own.map((p) => `http://127.0.0.1:${p.port}`),
        cut: () => {
          for (const p of own) p.cut();
        },
        heal: () => {
          for (const p of own) p.heal();
        },
      };
    },
    async stop() {
      await Promise.all(proxies.map((p) => p.close()));
      const closed = Promise.all(members.map((m) => m.app.close()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await Promise.all(members.map((m) => m.node.stop()));
    },
  };
}

async function waitForLeader(members: readonly { node: RaftNode<KvResult> }[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const leader = members.find((m) => m.node.status().role === "leader");
    if (leader !== undefined) {
      const id = leader.node.status().id;
      if (members.every((m) => m.node.status().leader === id)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the test cluster elected no leader within 10 s");
}
