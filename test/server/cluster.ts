import type { FastifyInstance } from "fastify";
import { type KvResult, KvStore } from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import type { ServerMetrics, ServerOptions } from "../../src/server/index.js";
import { createServer, createServerMetrics } from "../../src/server/index.js";
import { waitFor } from "../support/wait-for.js";

export { waitFor };

/** The test cluster's election timeout; etcd's default. */
export const ELECTION_MS = 1000;

export interface Member {
  readonly id: number;
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  /** The node's log, for tests that inspect what was replicated. */
  readonly storage: MemoryStorage;
  readonly app: FastifyInstance;
  /** This member's own metrics, wired into its node (observer) and its server. */
  readonly metrics: ServerMetrics;
}

export interface TestCluster {
  readonly members: Member[];
  /** The network the members talk over; a test may start more nodes on it. */
  readonly network: MemoryNetwork;
  leader(): Promise<Member>;
  followers(): Promise<Member[]>;
  /**
   * Waits until every member applied what the leader has committed now: a
   * follower applies a write a little after the leader answers it (it learns
   * the commit with the next append, or a few ms later).
   */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Three RaftNodes over an in-memory network, each with its store and its HTTP API. */
export async function startCluster(
  serverOptions: Omit<ServerOptions, "node" | "store"> = {},
): Promise<TestCluster> {
  const net = new MemoryNetwork();
  const ids = [1, 2, 3];
  const initialCluster = new Map(ids.map((id) => [id, `127.0.0.1:${7100 + id}`]));
  const members: Member[] = [];
  for (const id of ids) {
    const store = new KvStore();
    const metrics = createServerMetrics();
    const storage = new MemoryStorage();
    const node = await RaftNode.start<KvResult>({
      id,
      storage,
      transport: net.transport(id),
      stateMachine: store,
      initialCluster,
      // Slack enough that a loaded machine (tests run two files at once, some
      // spawning processes) does not lose leadership mid-test: etcd's default.
      heartbeatMs: 25,
      electionMs: ELECTION_MS,
      // Many of these tests ask a follower right after the leader answered a
      // write; a held empty append would make a follower apply it a few ms
      // later (see caughtUp). The hold runs in the raft tests, the simulator
      // and every test of real server processes.
      emptyAppendHoldMs: 0,
      observer: metrics.nodeObserver,
    });
    const app = createServer({ node, store, ...serverOptions, metrics });
    members.push({ id, node, store, storage, app, metrics });
  }
  const leader = async () => {
    const m = await waitFor(
      () => members.find((x) => x.node.status().role === "leader"),
      "a leader",
    );
    await waitFor(
      () => members.every((x) => x.node.status().leader === m.id),
      "every node knows the leader",
    );
    return m;
  };
  return {
    members,
    network: net,
    leader,
    async followers() {
      const l = await leader();
      return members.filter((m) => m !== l);
    },
    async caughtUp() {
      const committed = (await leader()).node.status().commitIndex;
      await waitFor(
        () => members.every((m) => m.node.status().appliedIndex >= committed),
        `every member applied index ${committed}`,
      );
    },
    async stop() {
      await Promise.all(members.map((m) => m.app.close()));
      await Promise.all(members.map((m) => m.node.stop()));
    },
  };
}

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
export const text = (base64: string) => Buffer.from(base64, "base64").toString("utf8");
