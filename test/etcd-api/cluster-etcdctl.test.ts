import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeMemberAttributes, type KvResult, KvStore } from "../../src/kv/index.js";
import { MessageType } from "../../src/raft/core/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, parseExact, startGrpcCluster } from "./grpc-cluster.js";

const hex = (id: number) => id.toString(16);
/** The test cluster's peer addresses (the in-memory network routes by id, not by address). */
const peerOf = (id: number) => `127.0.0.1:${7100 + id}`;

interface MemberLine {
  id: string;
  status: string;
  name: string;
  peers: string;
  clients: string;
  learner: string;
}

describe("etcdctl member commands against Conclave's gRPC API", { timeout: 60_000 }, () => {
  let cluster: GrpcCluster;
  const started: RaftNode<KvResult>[] = [];

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    const leader = await cluster.leader();
    // What each member's publisher does in a served cluster: name, peer and client URLs in the log.
    for (const m of cluster.members) {
      const attrs = {
        id: m.id,
        name: `m${m.id}`,
        peerUrls: [peerOf(m.id)],
        clientUrls: [cluster.urlOf(m.id)],
        grpcUrls: [grpcUrlOf(m.id)],
      };
      await leader.node.propose(encodeMemberAttributes(attrs));
    }
  });
  afterAll(async () => {
    cluster.network.setFilter(undefined);
    await Promise.all(started.map((n) => n.stop()));
    await cluster.stop();
  });

  const grpcUrlOf = (id: number) => `http://${cluster.grpcAddressOf(id)}`;

  async function memberLines(): Promise<MemberLine[]> {
    const r = await cluster.etcdctl(["member", "list"]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .trim()
      .split("\n")
      .map((line) => {
        const [id, status, name, peers, clients, learner] = line.split(", ");
        return {
          id: id!,
          status: status!,
          name: name!,
          peers: peers!,
          clients: clients!,
          learner: learner!,
        };
      });
  }

  it("lists members as etcd does: simple, table and json", async () => {
    const lines = await memberLines();
    expect(lines.map((l) => l.id)).toEqual(["1", "2", "3"]);
    for (const [i, l] of lines.entries()) {
      expect(l.peers).toBe(peerOf(i + 1));
      // etcd's clients dial the client URLs with gRPC: the gRPC API's are listed, as host:port.
      expect(l.clients).toBe(cluster.grpcAddressOf(i + 1));
      expect(l.learner).toBe("false");
      expect(l.name).toBe(`m${i + 1}`);
      expect(l.status).toBe("started");
    }

    const table = (await cluster.etcdctl(["member", "list", "-w", "table"])).stdout.split("\n");
    expect(table[1]).toMatch(
      /^\|\s+ID\s+\|\s+STATUS\s+\|\s+NAME\s+\|\s+PEER ADDRS\s+\|\s+CLIENT ADDRS\s+\|\s+IS LEARNER\s+\|$/,
    );
    expect(table.filter((l) => l.startsWith("| ") && l.includes("127.0.0.1"))).toHaveLength(3);

    const json = parseExact((await cluster.etcdctl(["member", "list", "-w", "json"])).stdout);
    const header = json["header"] as Record<string, unknown>;
    expect(typeof header["cluster_id"]).toBe("string");
    expect(header["member_id"]).toBeGreaterThan(0);
    expect(header["raft_term"]).toBeGreaterThan(0);
    const members = json["members"] as Record<string, unknown>[];
    // etcd leaves isLearner out when false, and the name out when empty.
    expect(members[0]).toEqual({
      ID: 1,
      name: "m1",
      peerURLs: [peerOf(1)],
      clientURLs: [cluster.grpcAddressOf(1)],
    });
  });

  it("lets etcdctl reach every member from the member list (--cluster)", async () => {
    const r = await cluster.etcdctl(["endpoint", "status", "--cluster", "-w", "json"], {
      endpoints: [cluster.grpcAddressOf(1)],
    });
    expect(r.code, r.stderr).toBe(0);
    const statuses = parseExact<{ Endpoint: string }[]>(r.stdout);
    expect(statuses.map((s) => s.Endpoint).sort()).toEqual([...cluster.grpcAddresses].sort());
  });

  it("adds a learner, refuses to promote it until it catches up, then promotes, moves and removes it", async () => {
    const leader = await cluster.leader();
    const add = await cluster.etcdctl([
      "member",
      "add",
      "m4",
      "--peer-urls=http://127.0.0.1:7104",
      "--learner",
    ]);
    expect(add.code, add.stderr).toBe(0);
    const m = /^Member +([0-9a-f]+) added to cluster +([0-9a-f]+)\n/.exec(add.stdout);
    expect(m, add.stdout).not.toBeNull();
    const id = Number.parseInt(m![1]!, 16);
    expect(add.stdout).toContain('ETCD_NAME="m4"\n');
    // etcdctl prints the URL it was given here.
    expect(add.stdout).toContain('ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:7104"\n');
    expect(add.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
    expect(add.stdout).toContain(
      'ETCD_INITIAL_CLUSTER="m1=127.0.0.1:7101,m2=127.0.0.1:7102,m3=127.0.0.1:7103,m4=127.0.0.1:7104"\n',
    );
    const added = (await memberLines()).find((l) => l.id === hex(id));
    expect(added).toEqual({
      id: hex(id),
      status: "unstarted",
      name: "",
      peers: "127.0.0.1:7104",
      clients: "",
      learner: "true",
    });

    // One learner at a time, and one member per peer address.
    const second = await cluster.etcdctl([
      "member",
      "add",
      "m5",
      "--peer-urls=http://127.0.0.1:7105",
      "--learner",
    ]);
    expect(second.stderr).toContain("etcdserver: too many learner members in cluster");
    const samePeer = await cluster.etcdctl([
      "member",
      "add",
      "m6",
      "--peer-urls=http://127.0.0.1:7104",
    ]);
    expect(samePeer.stderr).toContain("etcdserver: Peer URLs already exists");

    // Never started: not in sync with the leader.
    const early = await cluster.etcdctl(["member", "promote", hex(id)]);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain(
      "etcdserver: can only promote a learner member which is in sync with leader",
    );

    // Started, hearing heartbeats but not the log: still not in sync.
    cluster.network.setFilter(
      (msg) => msg.to !== id || (msg.type !== MessageType.App && msg.type !== MessageType.Snap),
    );
    const node = await RaftNode.start<KvResult>({
      id,
      storage: new MemoryStorage(),
      transport: cluster.network.transport(id),
      stateMachine: new KvStore(),
      initialCluster: new Map([1, 2, 3, id].map((x) => [x, peerOf(x)])),
      join: true,
      heartbeatMs: 25,
      electionMs: 1000,
    });
    started.push(node);
    await waitFor(
      () => leader.node.status().peers.find((p) => p.id === id)?.connected,
      "the leader to hear from the learner",
    );
    const behind = await cluster.etcdctl(["member", "promote", hex(id)]);
    expect(behind.stderr).toContain(
      "etcdserver: can only promote a learner member which is in sync with leader",
    );

    cluster.network.setFilter(undefined);
    await waitFor(() => {
      const st = leader.node.status();
      const p = st.peers.find((x) => x.id === id);
      return p?.connected === true && p.matchIndex >= st.commitIndex;
    }, "the learner to catch up");
    const promoted = await cluster.etcdctl(["member", "promote", hex(id)]);
    expect(promoted.stdout, promoted.stderr).toMatch(
      new RegExp(`^Member +${hex(id)} promoted in cluster +[0-9a-f]+\\n$`),
    );
    expect((await memberLines()).find((l) => l.id === hex(id))?.learner).toBe("false");
    const again = await cluster.etcdctl(["member", "promote", hex(id)]);
    expect(again.stderr).toContain("etcdserver: can only promote a learner member");

    const update = await cluster.etcdctl([
      "member",
      "update",
      hex(id),
      "--peer-urls=http://127.0.0.1:7204",
    ]);
    expect(update.stdout, update.stderr).toMatch(
      new RegExp(`^Member +${hex(id)} updated in cluster +[0-9a-f]+\\n$`),
    );
    expect((await memberLines()).find((l) => l.id === hex(id))?.peers).toBe("127.0.0.1:7204");
    await waitFor(
      () => leader.node.status().peers.find((p) => p.id === id)?.address === "127.0.0.1:7204",
      "the leader to dial the new address",
    );

    const removed = await cluster.etcdctl(["member", "remove", hex(id)]);
    expect(removed.stdout, removed.stderr).toMatch(
      new RegExp(`^Member +${hex(id)} removed from cluster +[0-9a-f]+\\n$`),
    );
    expect((await memberLines()).map((l) => l.id)).toEqual(["1", "2", "3"]);
    const unknown = await cluster.etcdctl(["member", "remove", hex(id)]);
    expect(unknown.stderr).toContain("etcdserver: member not found");
    // An id above 2^53 cannot be a member here: not found, like any other unknown id.
    const huge = await cluster.etcdctl(["member", "promote", "ffffffffffffff00"]);
    expect(huge.stderr).toContain("etcdserver: member not found");
  });

  it("adds a voter when --learner is not given, as etcd does", async () => {
    // Through a follower: the change is forwarded to the leader.
    const follower = (await cluster.followers())[0]!;
    const add = await cluster.etcdctl(
      ["member", "add", "v5", "--peer-urls=http://127.0.0.1:7105"],
      {
        endpoints: [cluster.grpcAddressOf(follower.id)],
      },
    );
    expect(add.code, add.stderr).toBe(0);
    const id = Number.parseInt(/^Member +([0-9a-f]+) added/.exec(add.stdout)![1]!, 16);
    const json = parseExact((await cluster.etcdctl(["member", "list", "-w", "json"])).stdout);
    const members = json["members"] as Record<string, unknown>[];
    expect(members.find((x) => x["ID"] === id)).toEqual({ ID: id, peerURLs: ["127.0.0.1:7105"] });
    expect((await cluster.etcdctl(["member", "remove", hex(id)])).code).toBe(0);
  });
});
